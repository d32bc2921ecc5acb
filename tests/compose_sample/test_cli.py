"""The command line: records, determinism, checkpoints, refusals and bad input, and pipes."""

from pathlib import Path

import orjson
import pytest

from tests.helpers import invoke, jsonl, shell

TINY = ["--steps", "30", "--batch-size", "64", "--hidden", "16", "--layers", "1", "-q"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, extra in [("ring", ["--toy", "ring"]), ("bar", ["--toy", "bar"]),
                        ("bar_score", ["--toy", "bar", "--param", "score"])]:
        run = invoke(["compose-sample", "train", *extra, "--out-dir", str(root / name), *TINY])
        assert run.exit_code == 0, run.stderr
        out[name] = str(root / name)
    points = root / "points3.jsonl"
    points.write_bytes(jsonl([{"x": [0.1 * i, -0.1, 0.2]} for i in range(10)]))
    run = invoke(["compose-sample", "train", str(points), "--out-dir", str(root / "three"), *TINY])
    assert run.exit_code == 0, run.stderr
    out["three"] = str(root / "three")
    return out


def sample_args(models, *extra, expr="ring + bar"):
    return ["compose-sample", "sample", expr, "-m", f"ring={models['ring']}",
            "-m", f"bar={models['bar']}", "--levels", "8", "-n", "20", "-q", *extra]


def test_toy_records_and_seed():
    run = invoke(["compose-sample", "toy", "ring + bar", "-n", "4", "--seed", "1"])
    assert run.exit_code == 0
    recs = run.records
    assert [r["id"] for r in recs] == ["toy:0", "toy:1", "toy:2", "toy:3"]
    assert all(len(r["x"]) == 2 and r["target"] == "ring + bar" for r in recs)
    again = invoke(["compose-sample", "toy", "ring + bar", "-n", "4", "--seed", "1"])
    assert again.stdout == run.stdout
    assert invoke(["compose-sample", "toy", "ring + bar", "-n", "4", "--seed", "2"]).stdout \
        != run.stdout


def test_train_writes_logs_model_and_refuses_to_overwrite(models, tmp_path):
    folder = Path(models["ring"])
    assert (folder / "model.pt").exists() and (folder / "checkpoint" / "state.pt").exists()
    log = [orjson.loads(line) for line in (folder / "log.jsonl").read_bytes().splitlines()]
    assert log[-1]["step"] == 30 and log[-1]["loss"] > 0
    run = invoke(["compose-sample", "train", "--toy", "ring", "--out-dir", models["ring"], *TINY])
    assert run.exit_code == 1
    assert "already holds a run: --resume continues it" in run.stderr
    run = invoke(["compose-sample", "train", "--toy", "ring", "--out-dir", models["ring"],
                  *TINY, "--resume"])
    assert run.exit_code == 0
    # --resume with another learning rate or data would not continue the same run
    run = invoke(["compose-sample", "train", "--toy", "bar", "--out-dir", models["ring"],
                  *TINY, "--resume", "--lr", "0.002"])
    assert run.exit_code == 1
    assert run.stderr == (f"papertools compose-sample: error: --resume: {models['ring']} was "
                          "started with other settings: lr 0.001 (now 0.002), data "
                          '{"toy":"ring"} (now {"toy":"bar"}); give the same, or choose another '
                          "--out-dir\n")


@pytest.mark.parametrize("sampler", ["reverse", "ula", "uhmc", "mala", "hmc"])
def test_sample_is_byte_identical_for_a_seed(models, sampler, tmp_path):
    stats = tmp_path / "stats.jsonl"
    first = invoke(sample_args(models, "--sampler", sampler, "--stats", str(stats)))
    assert first.exit_code == 0, first.stderr
    second = invoke(sample_args(models, "--sampler", sampler))
    assert first.stdout == second.stdout
    other = invoke(sample_args(models, "--sampler", sampler, "--seed", "1"))
    assert other.stdout != first.stdout
    recs = first.records
    assert len(recs) == 20 and recs[0]["id"] == f"{sampler}:0"
    assert recs[0]["sampler"] == sampler and recs[0]["target"] == "ring + bar"
    rows = [orjson.loads(line) for line in stats.read_bytes().splitlines()]
    ts = [r["t"] for r in rows]  # 8 of the model's 100 levels, noisiest first, down to 0
    assert len(ts) == 8 and ts == sorted(ts, reverse=True) and ts[-1] == 0
    if sampler in ("mala", "hmc"):
        assert all(0 <= r["accept"] <= 1 for r in rows)
    else:
        assert all(r["accept"] is None for r in rows)


@pytest.mark.parametrize("sampler", ["mala", "hmc"])
def test_adapt_records_the_adapted_steps_in_stats(models, tmp_path, sampler):
    stats = tmp_path / "stats.jsonl"
    run = invoke(sample_args(models, "--sampler", sampler, "--adapt", "--warmup", "4",
                             "--stats", str(stats)))
    assert run.exit_code == 0, run.stderr
    rows = [orjson.loads(line) for line in stats.read_bytes().splitlines()]
    assert [r["warmup_steps"] for r in rows] == [20] + [4] * 7  # the first level: 5x
    assert all(0 <= r["warmup_accept"] <= 1 for r in rows)
    assert len({r["step_size"] for r in rows}) > 1  # adapted per level, not the preset's
    plain = invoke(sample_args(models, "--sampler", sampler, "--stats", str(stats)))
    rows = [orjson.loads(line) for line in stats.read_bytes().splitlines()]
    assert plain.stdout != run.stdout
    assert all(r["warmup_steps"] == 0 and r["warmup_accept"] is None for r in rows)


def test_sample_summary_reports_acceptance_on_stderr(models):
    run = invoke([a for a in sample_args(models, "--sampler", "hmc") if a != "-q"])
    assert run.exit_code == 0
    assert "hmc (toy preset): 20 samples over 8 levels" in run.stderr
    assert "acceptance mean" in run.stderr


def test_energy_only_operators_refuse_score_models(models):
    base = ["compose-sample", "sample", "-m", f"a={models['bar_score']}", "-m",
            f"b={models['bar']}", "--levels", "4", "-n", "4", "-q"]
    run = invoke(base[:2] + ["a + b"] + base[2:] + ["--sampler", "mala"])
    assert run.exit_code == 2
    assert "sampler 'mala' needs energies" in run.stderr and "score-parameterised" in run.stderr
    run = invoke(base[:2] + ["a | b"] + base[2:] + ["--sampler", "ula"])
    assert run.exit_code == 2 and "the mixture '|' needs energies" in run.stderr
    run = invoke(base[:2] + ["a + b"] + base[2:] + ["--sampler", "uhmc"])
    assert run.exit_code == 0 and len(run.records) == 4


def test_expression_errors_are_usage_errors(models):
    run = invoke(sample_args(models, expr="ring + cat"))
    assert run.exit_code == 2
    assert "column 8: unknown model 'cat' (known: bar, ring)" in run.stderr
    run = invoke(sample_args(models, expr="ring * bar"))
    assert run.exit_code == 2 and "column 8: '*' multiplies an energy by a number" in run.stderr
    run = invoke(["compose-sample", "sample", "a", "-m", "a"])
    assert run.exit_code == 2 and "expected NAME=PATH" in run.stderr


def test_mismatched_dimensions_and_missing_models(models, tmp_path):
    run = invoke(["compose-sample", "sample", "a + b", "-m", f"a={models['ring']}", "-m",
                  f"b={models['three']}", "-n", "2", "-q"])
    assert run.exit_code == 1
    assert f"papertools compose-sample: error: {models['three']}: model 'b' has points of " \
           "shape [3] but model 'a' has [2]" in run.stderr
    run = invoke(["compose-sample", "sample", "a", "-m", f"a={tmp_path / 'nothing'}", "-q"])
    assert run.exit_code == 1 and "no such model" in run.stderr


@pytest.mark.parametrize("lines,message", [
    ([b'{"x": [0.1, 0.2]}', b'{"x": [1e999, 0.0]}'], "pts.jsonl:2: not valid JSON: number is "
                                                     "infinity"),
    ([b'{"x": [0.1, 0.2]}', b'{"x": [0.1, 0.2, 0.3]}'], "pts.jsonl:2: field 'x': the point has "
                                                        "3 coordinates, earlier points have 2"),
    ([b'{"y": [0.1, 0.2]}'], "pts.jsonl:1: field 'x': missing field"),
    ([b'{"x": "0.1"}'], "pts.jsonl:1: field 'x': expected an array, got a string"),
    ([b'{"x": [0.1, "a"]}'], "pts.jsonl:1: field 'x': expected a non-empty list of numbers"),
    ([b'[0.1, 0.2]'], "pts.jsonl:1: expected a JSON object, got an array"),
])
def test_bad_points_name_file_and_line(tmp_path, monkeypatch, lines, message):
    monkeypatch.chdir(tmp_path)
    Path("pts.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    run = invoke(["compose-sample", "train", "pts.jsonl", "--out-dir", "m", *TINY])
    assert run.exit_code == 1
    assert run.stderr.startswith(f"papertools compose-sample: error: {message}")
    assert run.stderr.count("\n") == 1
    run = invoke(["compose-sample", "eval", "pts.jsonl", "--target", "ring", "-q"])
    assert run.exit_code == 1 and message.split(": ", 1)[1] in run.stderr


def test_eval_needs_a_target_and_skips_bad_records_on_request(tmp_path):
    data = jsonl([{"x": [0.5, 0.0]}, {"x": [0.0, 0.5, 1.0]}, {"x": [0.0, -0.5]}])
    one = jsonl([{"x": [0.5, 0.0]}])
    run = invoke(["compose-sample", "eval", "-q"], input=one)
    assert run.exit_code == 2 and "give --target EXPR" in run.stderr
    run = invoke(["compose-sample", "eval", "--target", "ring", "--on-error", "skip", "-q"],
                 input=data)
    assert run.exit_code == 1
    assert "<stdin>:2: field 'x': the point has 3 coordinates" in run.stderr
    assert run.records[0]["n"] == 2
    run = invoke(["compose-sample", "eval", "--target", "ring + dog"], input=one)
    assert run.exit_code == 2 and "unknown toy set 'dog'" in run.stderr


def test_eval_groups_by_sampler_and_plots(models, tmp_path):
    rev = invoke(sample_args(models, "--sampler", "reverse")).stdout
    ula = invoke(sample_args(models, "--sampler", "ula")).stdout
    png = tmp_path / "plot.png"
    run = invoke(["compose-sample", "eval", "--plot", str(png), "--max-points", "50"],
                 input=rev + ula)
    assert run.exit_code == 0, run.stderr
    assert [r["id"] for r in run.records] == ["reverse", "ula"]
    assert all(r["target"] == "ring + bar" and r["n"] == 20 for r in run.records)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reverse: n=20 mean log-density" in run.stderr


def test_pipeline_through_real_pipes(tmp_path):
    model = tmp_path / "bar"
    proc = shell(
        f"papertools compose-sample toy bar -n 200 | papertools compose-sample train "
        f"--out-dir {model} {' '.join(TINY)} > /dev/null && "
        f"papertools compose-sample sample 'b + b' -m b={model} --sampler ula --levels 6 -n 30 "
        f"-q | papertools compose-sample eval --target bar -q")
    assert proc.returncode == 0, proc.stderr.decode()
    (rec,) = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert rec["id"] == "ula" and rec["n"] == 30 and rec["target"] == "bar"
