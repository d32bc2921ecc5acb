"""The root `papertools` command through real processes: help, version, usage errors, lazy
imports, closed pipes, and how errors reach the user."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from papertools.cli.main import PLANNED

from tests.helpers import EXAMPLES, ROOT, invoke, shell

PAPERTOOLS = str(Path(sys.executable).parent / "papertools")
HEAVY = ("torch", "transformers", "nle")


def papertools(*args, cwd=ROOT, input=None) -> subprocess.CompletedProcess:
    return subprocess.run([PAPERTOOLS, *args], cwd=cwd, input=input, capture_output=True,
                          timeout=120)


def test_help_lists_tools_and_planned_tools():
    done = papertools("--help")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.startswith("Usage: papertools [OPTIONS] COMMAND [ARGS]...")
    tools, _, planned = out.split("Tools:")[1].partition("Planned:")
    assert bool(planned) == bool(PLANNED)  # no Planned section once every tool is built
    from papertools.cli.main import TOOLS

    for name in TOOLS:
        assert f"  {name} " in tools
    for name in PLANNED:
        assert f"  {name} " in planned
    assert {"lintseq", "diffhist", "nhrecord", "bench", "ceindex", "compose-sample", "distill",
            "hrl", "relabel", "pretrain"} == set(PLANNED) | set(TOOLS)  # all ten, each once
    assert not set(PLANNED) & set(TOOLS)
    assert done.stderr == b""


def test_version():
    done = papertools("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"papertools 0.1.0\n", b"")


def test_module_entry_point_matches_console_script():
    done = subprocess.run([sys.executable, "-m", "papertools.cli.main", "--version"], cwd=ROOT,
                          capture_output=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, b"papertools 0.1.0\n")


def test_unknown_command_is_a_usage_error():
    done = papertools("frobnicate")
    assert done.returncode == 2
    assert done.stdout == b""
    assert "No such command 'frobnicate'" in done.stderr.decode()


@pytest.mark.skipif(not PLANNED, reason="every planned tool is built")
def test_planned_tool_says_it_is_planned():
    name = sorted(PLANNED)[0]
    done = papertools(name)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert f"'{name}' is planned but not built yet" in err
    assert PLANNED[name] in err


def test_unknown_option_is_a_usage_error():
    done = papertools("lintseq", "sample", "--no-such-flag")
    assert done.returncode == 2
    assert "No such option '--no-such-flag'" in done.stderr.decode()


def heavy_modules_after(args: list[str]) -> list[str]:
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from papertools.cli.main import cli
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = cli.main({args!r}, prog_name="papertools", standalone_mode=False)
        assert code == 0 and "Usage:" in out.getvalue(), (code, out.getvalue())
        print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout.decode().splitlines()[-1])


def test_help_does_not_import_heavy_libraries():
    assert heavy_modules_after(["--help"]) == []
    assert heavy_modules_after(["lintseq", "--help"]) == []
    for sub in ("sample", "apply", "format", "stats"):
        assert heavy_modules_after(["lintseq", sub, "--help"]) == []


def test_closed_pipe_ends_quietly(tmp_path):
    # humaneval with 5 samples writes about 1.6 MB, far past a pipe's buffer, so papertools is
    # still writing when head goes away.
    err = tmp_path / "stderr.txt"
    done = shell(f"papertools lintseq sample examples/lintseq/humaneval.jsonl -n 5 2>'{err}' "
                 f"| head -n 1; echo \"status ${{PIPESTATUS[0]}}\"; cat '{err}'")
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 2, done.stdout
    assert json.loads(lines[0])["source_id"] == "HumanEval/0"
    assert lines[1] == "status 0"  # and nothing on stderr (cat printed nothing)
    assert done.returncode == 0


def test_closed_pipe_with_popen():
    proc = subprocess.Popen([PAPERTOOLS, "lintseq", "sample", str(EXAMPLES / "lintseq" /
                                                                  "humaneval.jsonl"), "-n", "5"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert err == b""
    assert json.loads(first)["id"] == "HumanEval/0:0"


def bad_input(tmp_path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"program": "x = 1\\n"}\nnot json\n')
    return path


def test_bad_input_is_one_line_and_exit_1(tmp_path):
    bad_input(tmp_path)
    done = papertools("lintseq", "sample", "bad.jsonl", "-q", cwd=tmp_path)
    assert done.returncode == 1
    err = done.stderr.decode().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("papertools lintseq: error: bad.jsonl:2: not valid JSON: ")
    assert "Traceback" not in done.stderr.decode()


def test_debug_shows_the_traceback(tmp_path):
    bad_input(tmp_path)
    for args in (["--debug"], []):
        env_debug = [] if args else ["env", "PAPERTOOLS_DEBUG=1"]
        done = subprocess.run([*env_debug, PAPERTOOLS, *args, "lintseq", "sample", "bad.jsonl",
                               "-q"], cwd=tmp_path, capture_output=True, timeout=120)
        assert done.returncode == 1
        err = done.stderr.decode()
        assert err.startswith("Traceback (most recent call last):")
        assert "InputError" in err
        assert err.splitlines()[-1].startswith(
            "papertools lintseq: error: bad.jsonl:2: not valid JSON: ")


def test_debug_does_not_leak_into_later_runs_in_the_same_process(tmp_path, monkeypatch):
    """--debug is a per-run flag: a later in-process run (CliRunner, library use) has none."""
    monkeypatch.setenv("PAPERTOOLS_DEBUG", "0")  # restored after the test
    path = str(bad_input(tmp_path))
    first = invoke(["--debug", "lintseq", "sample", path, "-q"])
    assert first.exit_code == 1 and "Traceback" in first.stderr
    second = invoke(["lintseq", "sample", path, "-q"])
    assert second.exit_code == 1
    assert len(second.stderr.splitlines()) == 1, second.stderr


# -- a full disk: one line naming the file and the system's reason, exit 1 ----------------------

ENCODE = "papertools diffhist encode examples/diffhist/episodes.jsonl.gz"
needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")


@needs_dev_full
def test_full_stdout_is_one_line_and_exit_1(tmp_path):
    # /dev/full: every write fails with ENOSPC. 160 records overflow stdout's buffer mid-run;
    # two records fail only at the final flush.
    import gzip

    small = tmp_path / "two.jsonl"
    with gzip.open(EXAMPLES / "diffhist" / "episodes.jsonl.gz") as fh:
        small.write_bytes(fh.readline() + fh.readline())
    for command in (ENCODE, f"papertools diffhist encode '{small}'"):
        done = shell(f"{command} > /dev/full")
        assert done.returncode == 1, command
        assert done.stderr.decode() == ("papertools diffhist: error: <stdout>: "
                                        "No space left on device\n"), command


@needs_dev_full
def test_output_onto_a_full_device_is_one_line_and_exit_1():
    done = shell(f"{ENCODE} -o /dev/full")
    assert done.returncode == 1
    assert done.stderr.decode() == ("papertools diffhist: error: /dev/full: "
                                    "No space left on device\n")


def _file_size_limit(blocks: int) -> str:
    # the kernel refuses writes past the limit (EFBIG) the way a full disk refuses them (ENOSPC);
    # SIGXFSZ ignored so the write fails instead of killing the process
    return f"trap '' XFSZ; ulimit -f {blocks}; "


def test_output_write_failure_keeps_target_and_whole_records_in_partial(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    done = shell(f"{_file_size_limit(8)}{ENCODE} -o '{target}'")
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    partial = tmp_path / "out.jsonl.partial"
    data = partial.read_bytes()
    kept = len(data.splitlines())
    assert err == (f"papertools diffhist: error: {target}: File too large ({kept} records "
                   f"written before the failure are in {partial})\n")
    assert 0 < kept < 160 and data.endswith(b"\n")  # whole lines only
    assert [json.loads(line) for line in data.splitlines()] == \
        [json.loads(line) for line in shell(ENCODE).stdout.splitlines()[:kept]]
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.partial"]


def test_other_system_errors_are_one_line_too(tmp_path):
    done = shell(f"papertools diffhist stats examples/diffhist/episodes.jsonl.gz -q "
                 f"--plot '{tmp_path}/no/such/folder/x.png' > /dev/null")
    assert done.returncode == 1
    assert done.stderr.decode() == (f"papertools diffhist: error: {tmp_path}/no/such/folder/x.png: "
                                    "No such file or directory\n")


def test_atomic_path_on_a_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    # what a tool's own files (an index's arrays, a summary) meet on a full disk
    target = tmp_path / "arrays.bin"
    target.write_bytes(b"old")
    program = ("from papertools.core.errors import PapertoolsError\n"
               "from papertools.core.jsonl import write_atomic\n"
               "try:\n"
               f"    write_atomic({str(target)!r}, bytes(64 * 1024))\n"
               "except PapertoolsError as err:\n"
               "    print(err)\n")
    done = shell(f"{_file_size_limit(8)}{sys.executable} -c {shlex.quote(program)}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == f"{target}: File too large\n"
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["arrays.bin"]
