"""The command line: bad input and clear errors, stats, load, and a real pipe into diffhist."""

from __future__ import annotations

import os

import orjson
import pytest

from papertools.cli.nhrecord.stats import quantiles, summarize
from tests.helpers import invoke, jsonl, shell


def test_needs_an_output():
    run = invoke(["nhrecord", "record", "--max-steps", "5"])
    assert run.exit_code == 2 and "--out-dir" in run.stderr


@pytest.mark.parametrize("seed", ["-1", "abc", str(2**63)])
def test_bad_seeds_are_usage_errors(seed):
    run = invoke(["nhrecord", "record", "--json", "--seed", seed])
    assert run.exit_code == 2 and "--seed" in run.stderr


def test_bad_role():
    run = invoke(["nhrecord", "record", "--json", "--role", "val kyrie"])
    assert run.exit_code == 2 and "--role" in run.stderr


def test_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    run = invoke(["nhrecord", "record", "--max-steps", "5", "--out-dir", str(tmp_path)])
    assert run.exit_code == 1
    assert "not empty (notes.txt)" in run.stderr and "not an nhrecord dataset" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # left untouched


def test_folder_with_another_dataset_is_refused(tmp_path):
    out = str(tmp_path / "d")
    assert invoke(["nhrecord", "record", "--max-steps", "20", "--out-dir", out, "-q"]).exit_code == 0
    run = invoke(["nhrecord", "record", "--max-steps", "20", "--out-dir", out, "--seed", "3",
                  "--resume"])
    assert run.exit_code == 1
    assert "holds another dataset: seed 0 (asked 3)" in run.stderr
    run = invoke(["nhrecord", "record", "--max-steps", "20", "--out-dir", out, "--agent",
                  "random", "--resume"])
    assert run.exit_code == 1 and "agent 'symbolic' (asked 'random')" in run.stderr


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = invoke(["nhrecord", "record", "--max-steps", "5", "--out-dir", str(blocker / "sub")])
    assert run.exit_code == 1 and "cannot create the folder" in run.stderr
    run = invoke(["nhrecord", "record", "--max-steps", "5", "--out-dir", str(blocker)])
    assert run.exit_code == 2 and "is a file" in run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        run = invoke(["nhrecord", "record", "--max-steps", "5", "--out-dir", str(ro)])
    finally:
        ro.chmod(0o700)
    assert run.exit_code == 1 and "cannot write to the folder" in run.stderr


def test_load_and_stats_refuse_other_folders(tmp_path):
    run = invoke(["nhrecord", "load", str(tmp_path)])
    assert run.exit_code == 1 and "not an nhrecord dataset" in run.stderr
    run = invoke(["nhrecord", "stats", str(tmp_path)])
    assert run.exit_code == 1 and "not an nhrecord dataset" in run.stderr


def test_stats_on_bad_step_records():
    good = {"episode": "e", "strategy_name": "explore", "reward": 1.0, "done": False}
    run = invoke(["nhrecord", "stats", "--steps", "-"],
                 input=jsonl([good, {**good, "reward": "x"}]))
    assert run.exit_code == 1
    assert "<stdin>:2: field 'reward': expected a number, got a string" in run.stderr
    run = invoke(["nhrecord", "stats", "--steps", "-"], input=b"{not json\n")
    assert run.exit_code == 1 and "<stdin>:1: not valid JSON" in run.stderr


def test_stats_summary_by_hand():
    games = [{"score": s, "max_depth": d, "steps": 10, "turns": 5, "end": "death",
              "strategy_counts": {"explore": 8, "fight": 2}}
             for s, d in ((10, 1), (30, 2), (20, 2), (40, 4))]
    s = summarize(games)
    assert s["score"]["median"] == 25 and s["score"]["q25"] == 17.5 and s["score"]["q75"] == 32.5
    assert s["depth_histogram"] == {"1": 1, "2": 2, "4": 1}
    assert s["strategies"]["fight"]["share"] == 0.2 and s["strategies"]["error"]["steps"] == 0
    assert quantiles([])["median"] is None


def test_stats_of_a_dataset_json_and_plot(recorded, tmp_path):
    root, _, records = recorded
    png = tmp_path / "s.png"
    run = invoke(["nhrecord", "stats", str(root), "--json", "--plot", str(png)])
    assert run.exit_code == 0, run.stderr
    (summary,) = run.records
    assert summary["games"] == 2 and summary["steps"] == len(records)
    assert summary["ends"] == {"max_steps": 2}
    assert sum(s["steps"] for s in summary["strategies"].values()) == len(records)
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = invoke(["nhrecord", "stats", str(root)]).stdout.decode()
    assert "median" in table and "explore" in table


def test_load_rows(recorded):
    root, _, records = recorded
    run = invoke(["nhrecord", "load", str(root), "--game", "1", "--tty"])
    assert run.exit_code == 0, run.stderr
    rows = run.records
    steps = [r for r in rows if r["agent"]]
    mine = [r for r in records if r["episode"].endswith("-1")]
    assert [r["action"] for r in steps] == [r["action"] for r in mine]
    assert [r["strategy_name"] for r in steps] == [r["strategy_name"] for r in mine]
    assert steps[5]["tty"] == mine[5]["tty"]
    assert invoke(["nhrecord", "load", str(root), "--game", "9"]).exit_code == 1


def test_pipe_into_diffhist_round_trips(tmp_path):
    """record --json | diffhist encode | diffhist decode gives back every observation."""
    steps = tmp_path / "steps.jsonl"  # the test's own file: parallel runs cannot collide
    proc = shell(f"papertools nhrecord record --max-steps 60 --seed 2 --json -q > '{steps}'"
                 f" && papertools diffhist encode '{steps}' | papertools diffhist decode")
    assert proc.returncode == 0, proc.stderr.decode()
    decoded = [orjson.loads(line) for line in proc.stdout.splitlines()]
    with open(steps, "rb") as fh:
        original = [orjson.loads(line) for line in fh]
    assert len(decoded) == len(original) == 60
    assert [d["obs"] for d in decoded] == [o["obs"] for o in original]
    assert [d["strategy_name"] for d in decoded] == [o["strategy_name"] for o in original]


def test_pipe_head_closes_quietly():
    proc = shell("papertools nhrecord record --max-steps 500 --json -q | head -n 2")
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 2
    assert b"Traceback" not in proc.stderr


@pytest.mark.slow
def test_ray_engine_gives_the_same_records():
    args = "--episodes 3 --max-steps 150 --seed 4 --json --no-screens -q"
    one = shell(f"papertools nhrecord record {args}")
    ray = shell(f"papertools nhrecord record {args} --engine ray -w 2")
    assert one.returncode == 0 and ray.returncode == 0, ray.stderr.decode()[-2000:]
    assert one.stdout == ray.stdout and len(one.stdout.splitlines()) == 450


def test_stats_deaths_table_and_records(recorded):
    root = recorded[0]
    run = invoke(["nhrecord", "stats", str(root), "--deaths", "--json"])
    assert run.exit_code == 0, run.stderr
    rows = [orjson.loads(line) for line in run.stdout.splitlines()]
    assert len(rows) == 2 and all(r["cause"] and r["maxhp"] > 0 for r in rows)
    assert all(r["xl"] is None or r["xl"] >= 1 for r in rows)
    table = invoke(["nhrecord", "stats", str(root), "--deaths"]).stdout.decode()
    assert table.startswith("cause") and "died on dlvl" in table
    assert invoke(["nhrecord", "stats", "--steps", "-", "--deaths"]).exit_code == 2


def test_death_causes_grouped():
    from papertools.cli.nhrecord.stats import death_cause

    assert death_cause("killed by a soldier ant, while praying") == "soldier ant"
    assert death_cause("killed by an owlbear") == "owlbear"
    assert death_cause("died of starvation") == "starvation"
    assert death_cause("killed by a bolt of cold") == "wand or ray"
    assert death_cause("killed by a magic missile") == "wand or ray"
    assert death_cause("quit") == "quit (step limit or stuck)"
