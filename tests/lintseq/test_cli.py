"""papertools lintseq through its command line: records, messages, exit statuses, pipes."""

from __future__ import annotations

import gzip

import orjson
import pytest

from papertools.cli.lintseq.apply import replay
from papertools.cli.lintseq.training import reference_text

from tests.helpers import EXAMPLES, invoke, jsonl, shell

PROGRAMS = str(EXAMPLES / "lintseq" / "programs.jsonl")
HUMANEVAL = str(EXAMPLES / "lintseq" / "humaneval.jsonl")
REJECTS = str(EXAMPLES / "lintseq" / "rejects.jsonl")


def sample(*args, input=None):
    return invoke(["lintseq", "sample", *args], input=input)


# -- sample ------------------------------------------------------------------------------------

def test_sample_writes_one_record_per_sequence_keeping_input_fields():
    run = sample(PROGRAMS, "-n", "3", "--seed", "7")
    assert run.exit_code == 0, run.stderr
    records = run.records
    assert len(records) == 6 * 3
    first = records[0]
    assert first["id"] == "fizzbuzz:0" and first["source_id"] == "fizzbuzz"
    assert first["sample"] == 0 and records[2]["sample"] == 2
    assert first["instruction"] == "Print FizzBuzz for the numbers 1 to n."
    assert first["program"].startswith("def fizzbuzz(n):")  # the input's own field travels on
    assert first["n_edits"] == len(first["edits"]) >= 1
    assert first["edits"][0].startswith("@@ -0,0 +1")
    assert first["n_lines"] == 12 and first["lint_calls"] > 0
    assert "6 programs, 18 sequences, 0 rejects" in run.stderr


def test_sample_is_deterministic_per_seed():
    a, b, c = sample(PROGRAMS, "-n", "2", "--seed", "3"), sample(PROGRAMS, "-n", "2", "--seed", "3"), \
        sample(PROGRAMS, "-n", "2", "--seed", "4")
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout


def test_sample_match_statement():
    """A program with a match statement samples (it crashed in the fast path's line facts) and
    every sequence replays to the program."""
    program = ("def f(x):\n    match x:\n        case 1:\n            return 1\n"
               "        case _:\n            return 2\n")
    run = sample("-s", "3", input=jsonl([{"id": "m", "program": program}]))
    assert run.exit_code == 0, run.stderr
    assert [r["id"] for r in run.records] == ["m:0", "m:1", "m:2"]
    assert "1 programs, 3 sequences, 0 rejects" in run.stderr
    for record in run.records:
        assert replay(record["edits"]) == program.strip()


def test_default_ids_and_fields():
    data = jsonl([{"code": "x = 1\ny = x", "task": "two lines"}])
    run = sample("--code-field", "code", "--instruction-field", "task", input=data)
    assert run.exit_code == 0, run.stderr
    (rec,) = run.records
    assert rec["source_id"] == "stdin:1" and rec["id"] == "stdin:1:0"
    assert rec["instruction"] == "two lines"


def test_missing_instruction_is_empty():
    run = sample(input=jsonl([{"program": "x = 1"}]))
    assert run.records[0]["instruction"] == ""


def test_empty_input_gives_no_output_and_exit_0():
    run = sample(input=b"")
    assert (run.exit_code, run.stdout) == (0, b"")
    run = sample(input=b"\n\n")
    assert (run.exit_code, run.stdout) == (0, b"")


def test_gzip_input_and_output(tmp_path):
    src = tmp_path / "p.jsonl.gz"
    src.write_bytes(gzip.compress(open(PROGRAMS, "rb").read()))
    out = tmp_path / "out.jsonl.gz"
    run = sample(str(src), "-o", str(out), "-q")
    assert run.exit_code == 0 and run.stdout == b""
    plain = sample(PROGRAMS, "-q")
    assert gzip.decompress(out.read_bytes()) == plain.stdout


# bad input: each with its exact message and exit status 1
BAD = [
    (b'{"program": "x = 1"\n', "papertools lintseq: error: <stdin>:1: not valid JSON: "
                               "unexpected end of data at column 20"),
    (b'{"program": "x = 1"}\n[1, 2]\n', "papertools lintseq: error: <stdin>:2: expected a JSON "
                                         "object, got an array"),
    (b'{"instruction": "no program"}\n', "papertools lintseq: error: <stdin>:1: field 'program': "
                                          "missing field"),
    (b'{"program": 42}\n', "papertools lintseq: error: <stdin>:1: field 'program': expected a "
                           "string, got a number"),
    (b'{"program": "x = 1", "instruction": ["a"]}\n',
     "papertools lintseq: error: <stdin>:1: field 'instruction': expected a string, got an array"),
    (b'{"program": "x = 1", "id": {"a": 1}}\n',
     "papertools lintseq: error: <stdin>:1: field 'id': expected a string or an integer, got "
     "an object"),
    (b'\n{"program": "caf\xe9"}\n', "papertools lintseq: error: <stdin>:2: not valid UTF-8 "
                                    "(byte 0xe9 at column 17)"),
]


@pytest.mark.parametrize("data,message", BAD)
def test_bad_input_is_one_clean_line_and_exit_1(data, message):
    run = sample(input=data)
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [message]


def test_bad_record_skipped_with_on_error_skip_keeps_the_rest():
    data = jsonl([{"id": "a", "program": "x = 1"}]) + b"not json\n" + \
        jsonl([{"id": "b", "program": "y = 2"}])
    run = sample("--on-error", "skip", input=data)
    assert run.exit_code == 1
    assert [r["source_id"] for r in run.records] == ["a", "b"]
    assert "<stdin>:2: not valid JSON" in run.stderr and "(skipped)" in run.stderr


def test_records_before_a_failure_are_kept():
    """Failing on line 3: what was written for lines 1-2 is on stdout already."""
    data = jsonl([{"program": "x = 1"}, {"program": "y = 2"}]) + b"oops\n"
    run = sample(input=data)
    assert run.exit_code == 1 and len(run.records) == 2


def test_failed_run_with_output_file_keeps_partial(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    data = jsonl([{"program": "x = 1"}]) + b"oops\n"
    run = sample("-o", str(out), input=data)
    assert run.exit_code == 1
    assert out.read_text() == "previous\n"  # the target is untouched
    assert len((tmp_path / "out.jsonl.partial").read_text().splitlines()) == 1
    assert "1 records written before the failure are in" in run.stderr


def test_missing_file():
    run = sample("/nonexistent/p.jsonl")
    assert run.exit_code == 1
    assert run.stderr.strip() == ("papertools lintseq: error: /nonexistent/p.jsonl: cannot open: "
                                  "No such file or directory")


def test_usage_error_exits_2():
    assert sample("-n", "0", PROGRAMS).exit_code == 2
    assert sample("--linter", "flake9", PROGRAMS).exit_code == 2


def test_rejects_are_reported_counted_and_skipped(tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    run = sample(REJECTS, PROGRAMS, "--rejects", str(rejects))
    assert run.exit_code == 0
    lines = run.stderr.splitlines()
    assert lines[:3] == [
        f"papertools lintseq: reject: {REJECTS}:1: syntax error on line 1: invalid syntax",
        f"papertools lintseq: reject: {REJECTS}:2: the program already has linter errors: "
        "line 2: undefined name 'h'; --allow-initial-errors ignores them",
        f"papertools lintseq: reject: {REJECTS}:3: nothing to sample: no code lines (only blank "
        "lines or comments)",
    ]
    assert "6 programs, 6 sequences, 3 rejects" in lines[-1]
    assert len(run.records) == 6
    written = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert [r["id"] for r in written] == ["syntax", "undefined", "comments"]
    assert written[0]["reject"].startswith("syntax error")


def test_strict_turns_rejects_into_errors():
    run = sample(REJECTS, "--strict")
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools lintseq: error: {REJECTS}:1: syntax error on "
                                  "line 1: invalid syntax")


def test_allow_initial_errors_samples_the_program():
    run = sample(REJECTS, "--allow-initial-errors", "-q")
    assert run.exit_code == 0
    assert [r["source_id"] for r in run.records] == ["undefined"]


def test_linter_none_is_the_random_chunk_ablation():
    run = sample(PROGRAMS, "--linter", "none", "-n", "2")
    assert run.exit_code == 0 and len(run.records) == 12
    assert "linter calls" not in run.stderr


# -- apply -------------------------------------------------------------------------------------

def test_apply_check_passes_and_writes_programs():
    seqs = sample(HUMANEVAL, "-n", "2", "-q").stdout
    run = invoke(["lintseq", "apply", "--check"], input=seqs)
    assert run.exit_code == 0, run.stderr
    assert "checked 328 sequences, 0 mismatched" in run.stderr
    assert len(run.records) == 328


def test_apply_check_reports_the_first_mismatching_line():
    rec = sample(input=jsonl([{"program": "a = 1\nb = a\nprint(b)"}]), ).records[0]
    rec["program"] = "a = 1\nb = 2 * a\nprint(b)"
    run = invoke(["lintseq", "apply", "--check"], input=jsonl([rec]))
    assert run.exit_code == 1
    assert ("papertools lintseq: mismatch: <stdin>:1: line 2: expected 'b = 2 * a', got 'b = a'"
            in run.stderr)
    assert "checked 1 sequences, 1 mismatched" in run.stderr


def test_apply_check_against_source(tmp_path):
    seqs = tmp_path / "s.jsonl"
    seqs.write_bytes(sample(PROGRAMS, "-q").stdout)
    run = invoke(["lintseq", "apply", str(seqs), "--check", "--source", PROGRAMS])
    assert run.exit_code == 0, run.stderr
    # a record pointing at an unknown source is bad input
    bad = jsonl([{"source_id": "nope", "edits": ["@@ -0,0 +1 @@\n+x = 1"]}])
    run = invoke(["lintseq", "apply", "--check", "--source", PROGRAMS], input=bad)
    assert run.exit_code == 1
    assert f"field 'source_id': source_id 'nope' is not an id in {PROGRAMS}" in run.stderr


@pytest.mark.parametrize("edits,message", [
    (["@@ -0,0 +1 @@\n+x = 1", "@@ -5,0 +6 @@\n+y"],
     "<stdin>:1: field 'edits': edit 2: hunk 1: starts at old line 5, but the text has 1 lines"),
    (["@@ -0,0 +1,2 @@\n+x = 1"],
     "<stdin>:1: field 'edits': edit 1: hunk 1: the diff ends inside the hunk (0 old and 1 new "
     "lines missing)"),
    (["+x = 1"], "<stdin>:1: field 'edits': edit 1: line 1: expected a hunk header "
                 "'@@ -a,b +c,d @@', got '+x = 1'"),
    (["@@ -0,0 +1 @@\n+x = 1", 3], "<stdin>:1: field 'edits': edit 2 is not a string"),
    ("not a list", "<stdin>:1: field 'edits': expected an array, got a string"),
])
def test_apply_bad_edits(edits, message):
    run = invoke(["lintseq", "apply"], input=jsonl([{"edits": edits}]))
    assert run.exit_code == 1
    assert run.stderr.strip() == f"papertools lintseq: error: {message}"


# -- format ------------------------------------------------------------------------------------

def test_format_matches_the_released_training_string():
    seqs = sample(PROGRAMS, "-n", "2", "-q").records
    run = invoke(["lintseq", "format"], input=jsonl(seqs))
    assert run.exit_code == 0
    for seq, row in zip(seqs, run.records):
        assert row["id"] == seq["id"] and row["source_id"] == seq["source_id"]
        assert row["prompt"] == seq["instruction"] + "\n<|diff|>"
        assert row["prompt"] + row["completion"] == reference_text(seq["instruction"], seq["edits"])
        assert row["completion"].endswith("\n<|diff|>\n<|diff|>")
        assert set(row) == {"id", "source_id", "prompt", "completion"}


def test_format_text_and_baseline():
    run = invoke(["lintseq", "format", "--baseline", "--text", PROGRAMS])
    rows = run.records
    assert run.exit_code == 0 and len(rows) == 6
    assert rows[0]["text"].startswith("Print FizzBuzz for the numbers 1 to n.\ndef fizzbuzz(n):")
    assert rows[3]["text"].endswith("return [i for i, is_prime in enumerate(sieve) if is_prime]")


def test_format_bad_edits():
    run = invoke(["lintseq", "format"], input=jsonl([{"edits": [1]}]))
    assert run.exit_code == 1
    assert "field 'edits': expected an array of strings" in run.stderr


# -- stats -------------------------------------------------------------------------------------

def test_stats_json_on_a_hand_made_stream():
    records = [
        {"source_id": "p", "edits": ["@@ -0,0 +1,2 @@\n+a\n+b", "@@ -2,0 +3 @@\n+c"],
         "n_lines": 3, "lint_calls": 4},
        {"source_id": "p", "edits": ["@@ -0,0 +1 @@\n+a\n@@ -1,0 +2,2 @@\n+b\n+c"],
         "n_lines": 3, "lint_calls": 2},
        {"id": "q", "reject": "nothing to sample"},
    ]
    run = invoke(["lintseq", "stats", "--json"], input=jsonl(records))
    assert run.exit_code == 0
    (s,) = run.records
    assert (s["programs"], s["sequences"], s["rejects"]) == (1, 2, 1)
    assert s["edits_per_sequence"] == {"n": 2, "mean": 1.5, "min": 1, "p50": 1, "p90": 2, "max": 2}
    assert s["lines_per_edit"] == {"n": 3, "mean": 2.0, "min": 1, "p50": 2, "p90": 3, "max": 3}
    assert s["hunks_per_edit"]["max"] == 2
    assert s["lint_calls_per_program"] == {"n": 1, "mean": 6.0, "min": 6, "p50": 6, "p90": 6,
                                           "max": 6}


def test_stats_table_and_plot(tmp_path):
    seqs = sample(PROGRAMS, "-n", "2", "-q").stdout
    png = tmp_path / "stats.png"
    run = invoke(["lintseq", "stats", "--plot", str(png)], input=seqs)
    assert run.exit_code == 0 and run.stderr == ""  # the table is the product: stdout
    assert b"programs   6" in run.stdout and b"edits per sequence" in run.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- real pipes --------------------------------------------------------------------------------

def test_pipeline_sample_apply_check():
    proc = shell(f"papertools lintseq sample {HUMANEVAL} -n 2 -w 2 | papertools lintseq apply --check -q"
                 " | wc -l")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == "328"


def test_pipeline_into_format_and_head_ends_quietly():
    proc = shell(f"papertools lintseq sample {HUMANEVAL} -n 5 | papertools lintseq format | head -n 2")
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.splitlines()) == 2
    assert b"Traceback" not in proc.stderr and b"Broken pipe" not in proc.stderr


def test_same_output_for_workers_and_engines():
    one = sample(HUMANEVAL, "-n", "2", "-q").stdout
    two = sample(HUMANEVAL, "-n", "2", "-q", "-w", "2").stdout
    assert one == two and len(one.splitlines()) == 328


@pytest.mark.slow
def test_same_output_with_ray():
    one = sample(PROGRAMS, "-n", "3", "-q").stdout
    ray = sample(PROGRAMS, "-n", "3", "-q", "--engine", "ray", "-w", "2").stdout
    assert one == ray


@pytest.mark.slow
def test_pylint_linter_runs_the_released_linter():
    run = sample(input=jsonl([{"program": "import os\n\ndef f(x):\n    y = os.sep\n    return x + y"}]),
                 )
    ref = invoke(["lintseq", "sample", "--linter", "pylint", "-n", "2"],
                 input=jsonl([{"program": "import os\n\ndef f(x):\n    y = os.sep\n    return x + y"}]))
    assert run.exit_code == 0 and ref.exit_code == 0, ref.stderr
    seqs = ref.records
    assert len(seqs) == 2
    check = invoke(["lintseq", "apply", "--check", "-q"], input=jsonl(seqs))
    assert check.exit_code == 0
