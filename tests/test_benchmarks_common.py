"""benchmarks/common.py's clean-tree rule: a results file under benchmarks/results comes from a
committed, clean tree; a run from a dirty tree may write elsewhere, with a warning.

Each test copies common.py into a scratch git repository of its own (common.py finds the
repository it lives in), makes the tree clean or dirty with real git commands, and runs a small
script that writes results through common.py in a fresh interpreter (the commit is read when
common.py is imported, as a benchmark does)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

# finish(), as every benchmark ends; then parse_args(), as every benchmark starts
WRITE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import common
common.finish({"figure": 1}, {}, Path(sys.argv[2]), time.perf_counter(), lambda res, goals: None)
"""
START = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import common
args, mode, output = common.parse_args("a benchmark", Path(sys.argv[2]), sys.argv[3:])
print("started", output)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A committed, clean repository holding benchmarks/common.py and a results folder."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(BENCHMARKS / "common.py", repo / "benchmarks" / "common.py")
    (repo / "benchmarks" / "results" / "old.json").write_text("{}\n")
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    assert git(repo, "status", "--porcelain") == ""
    return repo


def run(repo: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / ".shim"), str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", script, str(repo / "benchmarks"), *args],
                          cwd=repo, env=env, capture_output=True, text=True, check=False)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_clean_tree_writes_results_with_its_commit(repo):
    out = repo / "benchmarks" / "results" / "x.json"
    done = run(repo, WRITE, str(out))
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    assert json.loads(out.read_text())["figure"] == 1


@pytest.mark.parametrize("dirt", ["changed tracked file", "untracked file"])
def test_dirty_tree_refuses_to_write_results(repo, dirt):
    if dirt == "changed tracked file":
        (repo / "code.py").write_text("x = 2\n")
    else:
        (repo / "new_module.py").write_text("y = 1\n")
    out = repo / "benchmarks" / "results" / "x.json"
    done = run(repo, WRITE, str(out))
    assert done.returncode != 0
    assert "DirtyTree" in done.stderr and "committed, clean tree" in done.stderr
    assert not out.exists()
    # the same through a relative path that leads into the folder
    done = run(repo, WRITE, "benchmarks/../benchmarks/results/x.json")
    assert done.returncode != 0 and not out.exists()


def test_dirty_tree_writes_elsewhere_with_a_warning(repo, tmp_path):
    (repo / "code.py").write_text("x = 2\n")
    out = tmp_path / "elsewhere" / "x.json"
    done = run(repo, WRITE, str(out))
    assert done.returncode == 0, done.stderr
    assert re.search(r"warning: the tree differs from its commit [0-9a-f]{12}", done.stderr)
    saved = json.loads(out.read_text())
    assert saved["figure"] == 1


def test_a_benchmark_from_a_dirty_tree_stops_before_the_work(repo, tmp_path):
    (repo / "code.py").write_text("x = 2\n")
    results = repo / "benchmarks" / "results" / "bench.json"
    done = run(repo, START, str(results))
    assert done.returncode == 1
    assert "refusing to write" in done.stderr and "--output PATH" in done.stderr
    assert "started" not in done.stdout
    # --output elsewhere and --quick (a temporary folder) run, with the warning
    done = run(repo, START, str(results), "--output", str(tmp_path / "b.json"))
    assert done.returncode == 0 and "started" in done.stdout
    assert "warning" in done.stderr
    done = run(repo, START, str(results), "--quick")
    assert done.returncode == 0 and "started" in done.stdout


def test_results_written_earlier_do_not_make_the_tree_dirty(repo):
    # `make bench` writes one results file after another: the next script still runs
    (repo / "benchmarks" / "results" / "old.json").write_text('{"new": 1}\n')
    (repo / "benchmarks" / "results" / "another.json").write_text("{}\n")
    out = repo / "benchmarks" / "results" / "x.json"
    done = run(repo, WRITE, str(out))
    assert done.returncode == 0, done.stderr
    assert out.exists()


def test_the_recorded_commit_is_the_one_the_run_started_from(repo):
    out = repo / "benchmarks" / "results" / "x.json"
    script = WRITE.replace("common.finish", "import json; json.dump(common.machine_info(), "
                           "open(sys.argv[2] + '.machine', 'w')); common.finish")
    done = run(repo, script, str(out))
    assert done.returncode == 0, done.stderr
    machine = json.loads(Path(str(out) + ".machine").read_text())
    assert machine["git_commit"] == head(repo)


def test_every_benchmark_writes_its_results_through_common():
    """No script writes a results file around the rule (write_json straight to its path)."""
    for script in sorted(BENCHMARKS.glob("*_bench.py")):
        text = script.read_text(encoding="utf-8")
        assert "write_json(" not in text, f"{script.name} writes results around common.py"
