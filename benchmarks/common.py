"""What the benchmark scripts share: machine facts, goal judging, logging, and writing results
(only from a committed, clean tree into benchmarks/results: :func:`check_output`)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(script: str, message: str) -> None:
    print(f"{script}: {message}", file=sys.stderr, flush=True)


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


RESULTS_DIR = ROOT / "benchmarks" / "results"


def git_commit() -> str | None:
    """HEAD, with "-dirty" when the tree differs from it (a tracked file changed, or a file
    neither tracked nor ignored is present), not counting benchmarks/results itself (results are
    outputs: ``make bench`` writes one after another); None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal",
                                "--", ".", f":(exclude){RESULTS_DIR.relative_to(ROOT)}"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty.strip() else "")


# the code a run started with: an hour-long benchmark may outlive commits made meanwhile
COMMIT_AT_START = git_commit()


class DirtyTree(RuntimeError):
    """A results file for benchmarks/results from a tree that is not a clean commit."""


_warned: set = set()


def check_output(output: Path, commit: str | None = None) -> None:
    """The clean-tree rule: a results file under benchmarks/results must come from a committed,
    clean tree (``commit``, default :data:`COMMIT_AT_START`, names a commit and is not
    "-dirty"), so that the commit it records is the code that measured it. Raises
    :class:`DirtyTree` otherwise; a file written elsewhere is allowed with a warning on stderr."""
    commit = COMMIT_AT_START if commit is None else commit
    if commit is not None and not commit.endswith("-dirty"):
        return
    why = ("this is not a git checkout, so no commit names the code" if commit is None else
           f"the tree differs from its commit {commit.removesuffix('-dirty')[:12]} "
           "(`git status --porcelain`, benchmarks/results aside)")
    if Path(output).resolve().is_relative_to(RESULTS_DIR):
        raise DirtyTree(f"refusing to write {output}: {why}; results in benchmarks/results must "
                        "come from a committed, clean tree (commit first, or write elsewhere "
                        "with --output PATH)")
    if str(output) not in _warned:
        _warned.add(str(output))
        log("benchmarks", f"warning: {why}; {output} records the commit as "
                          f"{commit or 'unknown'}")


def write_results(output: Path, res: dict) -> None:
    """Write a results file, by the clean-tree rule (:func:`check_output`)."""
    check_output(output)
    from papertools.core.jsonl import write_json

    write_json(output, res)


def machine_info(dists: tuple = ("papertools",)) -> dict:
    """CPU, Python, library versions and the git commit the run started from, recorded with
    every result file."""
    cpu_model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu_model = platform.processor() or None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return dict(cpu_count=os.cpu_count(), usable_cpus=usable, cpu_model=cpu_model,
                platform=platform.platform(), python=platform.python_version(),
                python_implementation=platform.python_implementation(),
                versions={d: version(d) for d in ("papertools", *dists)},
                git_commit=COMMIT_AT_START)


def judge(goals: dict, name: str, value: float) -> dict:
    """``goals[name] = (kind, op, target)``; kind "goal" is a pass condition, "aim" is not."""
    kind, op, target = goals[name]
    ok = value >= target if op == ">=" else value <= target
    return dict(name=name, kind=kind, target=f"{op} {target:g}", value=value,
                status="PASS" if ok else "FAIL")


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()[1:]
        ticks = [int(x) for x in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def busy_cpus(seconds: float = 1.0) -> float | None:
    """How many CPUs other work keeps busy, measured over ``seconds`` (Linux), else None."""
    before = machine_busy_seconds()
    if before is None:
        return None
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def parse_args(doc: str, results: Path, argv=None, extra=(), parents=()):
    """The flags every benchmark takes (``--quick``, ``--strict``, ``--output``) plus ``extra``
    (``(flag, help)`` pairs of booleans) and the flags of ``parents`` (argparse parsers made with
    ``add_help=False``, so ``--help`` lists a benchmark's own settings); returns (args, mode,
    output path). ``--quick`` results go to a temporary folder, so smoke figures never replace
    real ones. A run that would write to benchmarks/results from a tree that is not a clean
    commit stops here, before the work (:func:`check_output`)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], parents=list(parents))
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: smaller inputs, results to a temporary folder")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a goal (not an aim) fails")
    for flag, text in extra:
        parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("--output", metavar="PATH",
                        help=f"results file (default {results.relative_to(ROOT)}, written "
                             "only from a committed, clean tree; --quick: a temporary folder)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    output = Path(args.output) if args.output else (
        Path(tempfile.gettempdir()) / "papertools-bench" / f"{results.stem}.quick.json"
        if args.quick else results)
    try:  # refuse before the work, not after it
        check_output(output)
    except DirtyTree as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    return args, mode, output


def finish(res: dict, goals: dict, output: Path, started: float, print_table) -> list[str]:
    """Record the goals, write the results file, print the table; return the failed goals."""
    res["goals"] = list(goals.values())
    res["total_seconds"] = time.perf_counter() - started
    res["results_path"] = str(output)
    write_results(output, res)
    print_table(res, goals)
    return [g["name"] for g in goals.values() if g["kind"] == "goal" and g["status"] == "FAIL"]


def papertools_command() -> list[str]:
    """The ``papertools`` command beside this interpreter, on PATH, or as a module."""
    script = Path(sys.executable).with_name("papertools")
    if script.exists():
        return [str(script)]
    found = shutil.which("papertools")
    return [found] if found else [sys.executable, "-m", "papertools.cli.main"]


def print_goals(goals: dict, digits: int = 2) -> None:
    """One line per judged figure: [PASS] or [FAIL], its value, the goal (or aim)."""
    for g in goals.values():
        print(f"  [{g['status']}] {g['name']} {g['value']:.{digits}f} (goal {g['target']}"
              f"{', aim' if g['kind'] == 'aim' else ''})")


def print_footer(res: dict) -> None:
    """The last lines of a benchmark's table: a warning when other work kept CPUs busy, the
    total time and where the results went."""
    busy = res["machine"].get("busy_cpus_at_start")
    if busy is not None and busy > 0.2:
        print(f"\nnote: {busy:.1f} CPUs were busy with other work at start; timings are noisy")
    print(f"\ntotal {res['total_seconds']:.0f} s; results: {res['results_path']}")
