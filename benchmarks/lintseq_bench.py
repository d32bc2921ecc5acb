#!/usr/bin/env python
"""LintSeq sampling benchmark (issue 2, section 5): speed, baseline ratio, scaling, memory.

On HumanEval's 164 programs (examples/lintseq/humaneval.jsonl) with 5 samples each, seed 0:

1. default path: ``sample_record`` (pyflakes in-process, cache, parse-only fast path) on one
   worker in this process: programs/s, and per program the linter calls the algorithm makes
   (``Counters.lint_calls``) split into full linter runs, parse-only checks, cache hits and calls
   on the empty program (answered without linting).
2. baseline: the released code's approach as the issue defines it: every linter call writes the
   state to a temporary .py file and runs ``python -m pylint`` (released options) in a subprocess,
   no cache, no fast path. It takes seconds per program, so it runs on a fixed subsample (K
   programs evenly spaced over the file, S samples each, each program's random stream seeded by
   (seed, its index in the file) exactly as in the full run), and the default path is timed on the
   same subsample with the same S and seeds.
   ratio = baseline seconds / default seconds for the same K x S program-samples
         = (default program-samples/s) / (baseline program-samples/s).
   The two sides use different linters (pyflakes against pylint), so the ratio is printed with
   its same-linter part beside it: ``--linter pylint`` (pylint in-process, cached) against the
   same baseline (``same_linter_ratio``), and the rest, pylint in-process cached against the
   default path (``linter_ratio``); the two multiply to the ratio. Also on the subsample:
   pylint in-process without the cache (what the released code actually calls:
   ``pylint.run_pylint`` in its own process on a temporary file for every call).
3. workers: ``papertools lintseq sample`` on the 164 programs repeated R times, ``-w 1`` against
   ``-w 2`` (wall time of the whole command); the two outputs must be byte-identical.
4. memory: peak RSS of the ``papertools lintseq sample -n 5`` process (``os.wait4``'s
   ``ru_maxrss``, the figure ``/usr/bin/time -v`` prints) on 1x and 10x the input, stdout to
   /dev/null; and how wall time grows from 1x to 10x.
5. linter choice: what pyflakes (the default) and ``--linter pylint`` change in the data, on
   the same programs (41 evenly spaced over the file, every 4th, to keep pylint's part to a
   few minutes; ``--quick``: 8), samples and seeds: rejects, edits per sequence,
   linter calls per program, and how many sequences differ between the two linters.

Goals (issue 2): >= 200x the pylint-subprocess baseline; >= 1.7x from 1 to 2 workers; 10x input
within 1.3x of the 1x peak RSS. Aim: 1,000 programs/s per core (printed, not a pass condition).

Usage: python benchmarks/lintseq_bench.py [--quick] [--strict] [--profile] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/lintseq.json (--quick
writes to a temporary folder unless --output is given, so smoke figures never replace real ones).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from papertools.cli.lintseq.linters import LintError, PylintLinter, PyflakesLinter
from papertools.cli.lintseq.sample import (Counters, Program, Reject, SampleConfig,
                                           normalize_program, sample_record, sequences)
from papertools.core.jsonl import read_records, record_id
from papertools.core.seed import python_rng

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "lintseq" / "humaneval.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "lintseq.json"
SAMPLES = 5
SEED = 0

# name: (kind, comparison, target); kind "goal" is a pass condition, "aim" is printed beside it.
GOALS = {
    "baseline_ratio": ("goal", ">=", 200.0),
    "programs_per_s_per_core": ("aim", ">=", 1000.0),
    "worker_speedup_1_to_2": ("goal", ">=", 1.7),
    "peak_rss_ratio_10x_over_1x": ("goal", "<=", 1.3),
}

MODES = {
    # default_reps: timed runs of the default path on all programs (median); base_programs and
# base_samples: the baseline subsample; ref_reps: runs of the in-process pylint rows (median);
# repeat: copies of HumanEval in the workers input; worker_reps: runs per -w (best).
    # linter_programs: programs of the linter comparison (evenly spaced; None: all)
    "full": dict(default_reps=3, base_programs=4, base_samples=SAMPLES, ref_reps=2, repeat=10,
                 worker_reps=2, linter_programs=41),
    "quick": dict(default_reps=1, base_programs=2, base_samples=1, ref_reps=1, repeat=5,
                  worker_reps=1, linter_programs=8),
}


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def log(message: str) -> None:
    common.log("lintseq_bench", message)


# --------------------------------------------------------------------------------------------
# The baseline linter: the released code's approach, one pylint process per call.


class PylintSubprocessLinter:
    """Every call writes the state to a temporary .py file and runs ``python -m pylint`` on it
    with the released options; no caching, no fast path (``supports_fast_path = False``)."""

    name = "pylint-subprocess"
    supports_fast_path = False

    def __init__(self, folder: str):
        self.folder = folder
        self.command = [sys.executable, "-m", "pylint", *PylintLinter.OPTIONS]
        self.runs = 0

    def lint(self, text: str) -> list[LintError]:
        self.runs += 1
        with tempfile.NamedTemporaryFile("w", suffix=".py", dir=self.folder, delete=False,
                                         encoding="utf-8") as fh:
            fh.write(text)
            path = fh.name
        try:
            done = subprocess.run([*self.command, path], capture_output=True, text=True,
                                  check=False)
        finally:
            os.unlink(path)
        if done.returncode & 32:  # pylint's "usage error" bit: the options were not accepted
            raise RuntimeError(f"pylint failed: {done.stderr.strip()[-400:]}")
        return PylintLinter.parse_output(done.stdout)


def sample_with(linter, item, samples: int, seed: int, cache: bool):
    """``sample_record``'s loop with a given linter object and cache flag.

    Returns (output lines, counters, rejected?). With the pyflakes linter and the cache on it
    writes exactly what ``sample_record`` writes (checked in :func:`bench_baseline`).
    """
    record = item.record
    try:
        program = Program(normalize_program(record["program"]), linter, cache=cache)
    except Reject:
        return [], None, True
    lines = sequences(program, record, record_id(item), record.get("instruction", ""),
                      python_rng(seed, item.index), samples)
    return lines, program.counters, False


# --------------------------------------------------------------------------------------------
# 1. The default path on all programs.


def add_counters(total: Counters, more: Counters) -> None:
    for f in dataclasses.fields(Counters):
        setattr(total, f.name, getattr(total, f.name) + getattr(more, f.name))


def run_default(items, samples: int, linter: str = "pyflakes", rejected: list | None = None):
    """sample_record over ``items``: (seconds, accepted programs, rejects, counters, lines);
    the ids of rejected programs are appended to ``rejected``."""
    config = SampleConfig(samples=samples, seed=SEED, linter=linter)
    counters, programs, rejects, lines = Counters(), 0, 0, []
    started = time.perf_counter()
    for item in items:
        result = sample_record(config, item)
        if result.counters is None:
            rejects += 1
            if rejected is not None:
                rejected.append(record_id(item))
            continue
        programs += 1
        add_counters(counters, result.counters)
        lines.extend(result.lines)
    return time.perf_counter() - started, programs, rejects, counters, lines


def call_breakdown(counters: Counters, programs: int) -> dict:
    """Per program: the algorithm's linter calls and how each was answered (the parts add up to
    ``lint_calls``; the check of the original program before sampling is not among them)."""
    values = dataclasses.asdict(counters)
    per = (lambda x: x / programs) if programs else (lambda x: 0.0)
    parts = ("cache_hits", "empty", "no_parse", "parse_only", "linter_runs")
    return dict({name: per(values[name]) for name in values},
                pyflakes_or_pylint_checks=per(values["linter_runs"] - values["syntax_errors"]),
                consistent=sum(values[p] for p in parts) == values["lint_calls"])


def bench_default(items, reps: int) -> dict:
    from papertools.cli.lintseq.sample import _linter

    _linter("pyflakes")  # import and build the linter outside the timed region
    run_default(items[:16], SAMPLES)  # warm-up: lazy imports, first-call costs
    times, result = [], None
    for rep in range(reps):
        seconds, programs, rejects, counters, _ = run_default(items, SAMPLES)
        times.append(seconds)
        result = (programs, rejects, counters)
        log(f"default path, run {rep + 1}/{reps}: {seconds:.3f} s")
    programs, rejects, counters = result
    seconds = statistics.median(times)
    return dict(programs=programs, rejects=rejects, samples=SAMPLES, seed=SEED,
                seconds=seconds, seconds_all=times,
                programs_per_s=programs / seconds, sequences_per_s=programs * SAMPLES / seconds,
                per_program=call_breakdown(counters, programs))


def profile_default(items, top: int = 20) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_default(items, SAMPLES)
    profiler.disable()
    print("\ncProfile of the default path (164 programs x 5 samples), top by own time:")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --------------------------------------------------------------------------------------------
# 2. The baseline ratio on a fixed subsample.


def subsample(items, k: int):
    """K programs evenly spaced over the file (indices i * n // k)."""
    n = len(items)
    return [items[i * n // k] for i in range(min(k, n))]


def time_rows(name, run, work: int, min_seconds: float = 0.0, min_reps: int = 1):
    """Time ``run()`` (returns lines, counters, rejects) until ``min_seconds`` and ``min_reps``;
    the median repetition is the figure."""
    times, out = [], None
    while len(times) < min_reps or sum(times) < min_seconds:
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    lines, counters, rejects = out
    log(f"{name}: {seconds:.4f} s for {work} program-samples ({len(times)} run(s))")
    return seconds, lines, counters, rejects, len(times)


def bench_baseline(items, k: int, samples: int, ref_reps: int) -> tuple[dict, bool]:
    chosen = subsample(items, k)
    work = len(chosen) * samples
    log(f"baseline subsample: indices {[it.index for it in chosen]}, {samples} sample(s) each")
    rows, outputs = {}, {}
    folder = tempfile.mkdtemp(prefix="lintseq-bench-")
    pyflakes, pylint_inproc = PyflakesLinter(), PylintLinter()
    subproc = PylintSubprocessLinter(folder)
    # Warm-up outside the timed runs: pylint's first in-process runs load astroid's brain
    # plugins and the modules the programs import; the first subprocess reads pylint from a
    # cold disk cache.
    from papertools.cli.lintseq.sample import _linter

    subproc.lint("x = 1\n")
    subproc.runs = 0
    for linter in (_linter("pyflakes"), _linter("pylint"), pylint_inproc):
        for item in chosen:
            linter.lint(normalize_program(item.record["program"]))

    def over(linter, cache):
        def run():
            lines, counters, rejects = [], Counters(), 0
            for item in chosen:
                got, c, rejected = sample_with(linter, item, samples, SEED, cache)
                lines.extend(got)
                if rejected:
                    rejects += 1
                else:
                    add_counters(counters, c)
            return lines, counters, rejects
        return run

    def via_sample_record(linter_name):
        config = SampleConfig(samples=samples, seed=SEED, linter=linter_name)

        def run():
            lines, counters, rejects = [], Counters(), 0
            for item in chosen:
                result = sample_record(config, item)
                if result.counters is None:
                    rejects += 1
                    continue
                lines.extend(result.lines)
                add_counters(counters, result.counters)
            return lines, counters, rejects
        return run

    plan = [
        ("default", "pyflakes in-process, cache, fast path (the default path)",
         via_sample_record("pyflakes"), dict(min_seconds=1.0, min_reps=5)),
        ("pylint_inprocess", "--linter pylint: pylint in-process, cache",
         via_sample_record("pylint"), dict(min_reps=ref_reps)),
        ("pylint_inprocess_nocache", "pylint in-process, no cache (the released code's call)",
         over(pylint_inproc, False), dict(min_reps=ref_reps)),
        ("baseline", "pylint subprocess per call, no cache (the issue's baseline)",
         over(subproc, False), {}),
    ]
    try:
        for key, label, run, opts in plan:
            runs_before = subproc.runs
            seconds, lines, counters, rejects, reps = time_rows(key, run, work, **opts)
            programs = len(chosen) - rejects
            rows[key] = dict(label=label, seconds=seconds, repetitions=reps,
                             program_samples=work, rejects=rejects,
                             program_samples_per_s=work / seconds,
                             lint_calls_per_program_sample=counters.lint_calls / max(
                                 programs * samples, 1))
            if key == "baseline":
                rows[key]["pylint_processes"] = subproc.runs - runs_before
            outputs[key] = lines
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    base = rows["baseline"]["seconds"]
    for row in rows.values():
        row["speedup_vs_baseline"] = base / row["seconds"]
    mirror = over(pyflakes, True)()[0] == outputs["default"]
    checks = dict(
        mirror_matches_sample_record=mirror,
        pylint_subprocess_equals_inprocess=outputs["baseline"] == outputs["pylint_inprocess"],
        pylint_cache_changes_nothing=outputs["pylint_inprocess"] == outputs[
            "pylint_inprocess_nocache"])
    result = dict(indices=[it.index for it in chosen], ids=[record_id(it) for it in chosen],
                  samples_per_program=samples, seed=SEED, rows=rows, checks=checks,
                  ratio=rows["default"]["speedup_vs_baseline"],
                  ratio_definition="baseline seconds / default-path seconds on the same "
                                   "programs, samples per program and seeds "
                                   "(= ratio of program-samples per second); the two sides "
                                   "use different linters (pyflakes, pylint)",
                  same_linter_ratio=rows["pylint_inprocess"]["speedup_vs_baseline"],
                  same_linter_ratio_definition="baseline seconds / --linter pylint seconds "
                                               "(pylint in-process with the cache): the gain "
                                               "with the linter held fixed",
                  linter_ratio=rows["pylint_inprocess"]["seconds"] / rows["default"]["seconds"],
                  linter_ratio_definition="--linter pylint seconds / default-path seconds: "
                                          "what pyflakes and its shortcuts add; ratio = "
                                          "same_linter_ratio x linter_ratio")
    return result, mirror


# --------------------------------------------------------------------------------------------
# 5. What the linter choice changes in the data.


def bench_linters(items, k: int | None) -> dict:
    """pyflakes (the default) and ``--linter pylint`` (in-process, cached) through
    ``sample_record`` on the same programs, samples and seeds: rejects, edits per sequence,
    linter calls per program and per sequence, and which sequences differ. A program's random
    stream is seeded by (seed, its index), so the two linters draw the same deletions until
    their verdicts on some state differ."""
    from papertools.core.jsonl import loads

    chosen = items if k is None else subsample(items, k)
    side = {}
    for linter in ("pyflakes", "pylint"):
        rejected: list = []
        seconds, programs, rejects, counters, lines = run_default(chosen, SAMPLES, linter,
                                                                  rejected)
        rows = [loads(line) for line in lines]
        edits = [row["n_edits"] for row in rows]
        log(f"linter comparison, {linter}: {seconds:.1f} s for {len(chosen)} programs")
        side[linter] = dict(
            seconds=seconds, programs=programs, rejects=rejects, rejected_ids=rejected,
            sequences=len(rows),
            edits_per_sequence=statistics.mean(edits) if edits else 0.0,
            edits_per_sequence_median=statistics.median(edits) if edits else 0.0,
            lint_calls_per_program=counters.lint_calls / max(programs, 1),
            lint_calls_per_sequence=counters.lint_calls / max(len(rows), 1),
            linter_runs_per_program=counters.linter_runs / max(programs, 1),
            edits_by_id={row["id"]: row["edits"] for row in rows})
    a, b = side["pyflakes"].pop("edits_by_id"), side["pylint"].pop("edits_by_id")
    both = sorted(set(a) & set(b))
    differ = [i for i in both if a[i] != b[i]]
    programs_both = {i.rsplit(":", 1)[0] for i in both}
    programs_differ = sorted({i.rsplit(":", 1)[0] for i in differ})
    return dict(
        programs=len(chosen), samples=SAMPLES, seed=SEED,
        indices=None if k is None else [it.index for it in chosen],
        pyflakes=side["pyflakes"], pylint=side["pylint"],
        rejected_by_one_only=sorted(set(side["pyflakes"]["rejected_ids"]) ^
                                    set(side["pylint"]["rejected_ids"])),
        sequences_compared=len(both), sequences_differ=len(differ),
        sequences_differ_share=len(differ) / max(len(both), 1),
        programs_compared=len(programs_both), programs_with_a_difference=len(programs_differ),
        programs_with_a_difference_ids=programs_differ,
        speed_ratio=side["pylint"]["seconds"] / side["pyflakes"]["seconds"])


# --------------------------------------------------------------------------------------------
# 3 and 4. The command line: workers, memory, growth.


# A minimal interpreter forks and execs the command and reports os.wait4's figures for it: the
# peak RSS (ru_maxrss) a process reports survives exec, so a command forked straight from this
# benchmark (which holds pylint, ~90 MiB) would report this process's size, not its own.
_MEASURE = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"\\nMEASURE {usage.ru_maxrss} {seconds!r} {cpu!r} {code}\\n")
"""


def run_cli(args: list[str], stdout_path: str = os.devnull) -> dict:
    """Run papertools: wall seconds (perf_counter around fork/exec/wait), peak RSS, the CPU time
    of the command (its process and the children it waited for: not forkserver workers), and
    the CPU time the whole machine was busy meanwhile (workers and any other load included)."""
    command = [*common.papertools_command(), *args]
    command[0] = shutil.which(command[0]) or command[0]
    busy_before = common.machine_busy_seconds()
    with open(stdout_path, "wb") as out:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _MEASURE, *command], stdout=out,
                              stderr=subprocess.PIPE, check=False)
    busy_after = common.machine_busy_seconds()
    busy = busy_after - busy_before if busy_before is not None else None
    stderr = done.stderr.decode(errors="replace")
    found = re.search(r"\nMEASURE (\d+) (\S+) (\S+) (-?\d+)\n$", stderr)
    if done.returncode != 0 or not found or found.group(4) != "0":
        raise RuntimeError(f"{' '.join(command)} failed: {stderr[-800:]}")
    maxrss, seconds, cpu = int(found.group(1)), float(found.group(2)), float(found.group(3))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return dict(seconds=seconds, cpu_seconds=cpu, machine_busy_seconds=busy,
                peak_rss_mib=maxrss * scale / 2**20,
                stderr=stderr[: found.start()].strip())


def repeated_input(folder: str, times: int) -> tuple[str, int]:
    data = DATA.read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    path = os.path.join(folder, f"humaneval_x{times}.jsonl")
    with open(path, "wb") as fh:
        for _ in range(times):
            fh.write(data)
    return path, data.count(b"\n") * times


def digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bench_workers(folder: str, repeat: int, reps: int) -> tuple[dict, bool]:
    """-w 1 and -w 2 runs interleaved (w1, w2, w1, w2, ...); the best of each is the figure."""
    path, programs = repeated_input(folder, repeat)
    result = dict(input_programs=programs, repeat=repeat, samples=SAMPLES, repetitions=reps,
                  cpu_count=os.cpu_count(), runs={})
    times = {1: [], 2: []}
    cpu = {1: [], 2: []}
    busy = {1: [], 2: []}
    outputs = {w: os.path.join(folder, f"out_w{w}.jsonl") for w in (1, 2)}
    for rep in range(reps):
        for workers in (1, 2):
            got = run_cli(["lintseq", "sample", path, "-n", str(SAMPLES), "--seed", str(SEED),
                           "-w", str(workers), "-o", outputs[workers]])
            times[workers].append(got["seconds"])
            cpu[workers].append(got["cpu_seconds"])
            busy[workers].append(got["machine_busy_seconds"])
            log(f"CLI -w {workers}, {programs} programs, run {rep + 1}/{reps}: "
                f"{got['seconds']:.2f} s wall, machine busy {fmt(got['machine_busy_seconds'])} "
                "CPU s")
    digests = {}
    for workers in (1, 2):
        digests[workers] = digest(outputs[workers])
        with open(outputs[workers], "rb") as fh:
            sequences = sum(1 for _ in fh)
        seconds = min(times[workers])
        result["runs"][f"w{workers}"] = dict(
            seconds=seconds, seconds_all=times[workers], command_cpu_seconds_all=cpu[workers],
            machine_busy_cpu_seconds_all=busy[workers],
            programs_per_s=programs / seconds, sequences=sequences, sha256=digests[workers])
    identical = digests[1] == digests[2]
    result["speedup"] = result["runs"]["w1"]["seconds"] / result["runs"]["w2"]["seconds"]
    result["outputs_identical"] = identical
    result["timing"] = ("best of the interleaved repetitions, wall time of the whole command "
                        "(start-up, reading, writing); command CPU = user + system of the "
                        "papertools process (forkserver workers not included); machine busy = "
                        "CPU seconds all CPUs were busy during the run (/proc/stat), workers "
                        "and any other load included")
    return result, identical


def bench_memory(folder: str) -> dict:
    result = dict(samples=SAMPLES, workers=1, stdout=os.devnull, runs={})
    for times in (1, 10):
        path, programs = repeated_input(folder, times)
        got = run_cli(["lintseq", "sample", path, "-n", str(SAMPLES), "--seed", str(SEED), "-q"])
        log(f"CLI memory {times}x ({programs} programs): {got['seconds']:.2f} s, "
            f"peak RSS {got['peak_rss_mib']:.1f} MiB")
        result["runs"][f"x{times}"] = dict(programs=programs, seconds=got["seconds"],
                                           peak_rss_mib=got["peak_rss_mib"],
                                           programs_per_s=programs / got["seconds"])
    one, ten = result["runs"]["x1"], result["runs"]["x10"]
    result["peak_rss_ratio"] = ten["peak_rss_mib"] / one["peak_rss_mib"]
    result["wall_ratio"] = ten["seconds"] / one["seconds"]
    result["per_program_time_ratio"] = (ten["seconds"] / ten["programs"]) / (
        one["seconds"] / one["programs"])
    return result


# --------------------------------------------------------------------------------------------
# Report.


def machine_info() -> dict:
    return common.machine_info(("pyflakes", "pylint", "astroid", "orjson"))


def judge(name: str, value: float) -> dict:
    return common.judge(GOALS, name, value)


def print_table(res: dict, goals: dict) -> None:
    def mark(name):
        g = goals[name]
        tag = g["status"] + (" (aim)" if g["kind"] == "aim" else "")
        return f"{tag}: {g['target']}"

    d, b, w, m = res["default_path"], res["baseline"], res["workers"], res["memory"]
    pp = d["per_program"]
    print(f"\nlintseq benchmark ({res['mode']}): HumanEval, {d['programs']} programs x "
          f"{SAMPLES} samples, seed {SEED}; {res['machine']['cpu_count']} CPUs, "
          f"Python {res['machine']['python']}")
    print("\n1. default path (pyflakes in-process, cache, fast path; 1 worker, in-process)")
    print(f"   {d['programs_per_s']:10.1f} programs/s   ({d['sequences_per_s']:.0f} sequences/s, "
          f"median of {len(d['seconds_all'])}: {d['seconds']:.3f} s)   "
          f"[{mark('programs_per_s_per_core')}]")
    print(f"   {pp['lint_calls']:10.2f} linter calls per program = {pp['linter_runs']:.2f} linter "
          f"runs ({pp['syntax_errors']:.2f} of them stopped at a syntax error, "
          f"{pp['pyflakes_or_pylint_checks']:.2f} pyflakes checks)")
    print(f"   {'':10} + {pp['parse_only']:.2f} parse-only + {pp['no_parse']:.2f} no-parse + "
          f"{pp['cache_hits']:.2f} cache hits + {pp['empty']:.2f} on the empty program "
          f"(the check of each original program is not counted)")
    print(f"\n2. baseline ratio on a fixed subsample: HumanEval indices {b['indices']}, "
          f"{b['samples_per_program']} sample(s) each, same seeds")
    print(f"   {'row':<58} {'s':>9} {'prog-samples/s':>14} {'calls/p-s':>9} {'x baseline':>11}")
    for row in b["rows"].values():
        print(f"   {row['label']:<58} {row['seconds']:9.4f} {row['program_samples_per_s']:14.2f}"
              f" {row['lint_calls_per_program_sample']:9.1f} {row['speedup_vs_baseline']:11.1f}")
    print(f"   ratio = baseline s / default s = {b['ratio']:.0f}x   [{mark('baseline_ratio')}]")
    print(f"   the two sides use different linters: with the linter held fixed (pylint in-process"
          f", cached, against the baseline) {b['same_linter_ratio']:.1f}x; pyflakes and its "
          f"shortcuts against cached in-process pylint {b['linter_ratio']:.0f}x (the product "
          f"is the ratio); what the linter changes in the data: section 5")
    c = b["checks"]
    print(f"   checks: pylint subprocess and in-process give identical sequences: "
          f"{'yes' if c['pylint_subprocess_equals_inprocess'] else 'NO'}; cache changes nothing: "
          f"{'yes' if c['pylint_cache_changes_nothing'] else 'NO'}")
    w1, w2 = w["runs"]["w1"], w["runs"]["w2"]
    print(f"\n3. workers: papertools lintseq sample, {w['input_programs']} programs "
          f"({w['repeat']}x HumanEval) -s {SAMPLES}, best of {w['repetitions']}")
    for name, run in (("-w 1", w1), ("-w 2", w2)):
        print(f"   {name} {run['seconds']:7.2f} s ({run['programs_per_s']:.0f} programs/s; "
              f"machine busy CPU s per run: "
              f"{', '.join(fmt(c) for c in run['machine_busy_cpu_seconds_all'])})")
    print(f"   speed-up {w['speedup']:.2f}x   [{mark('worker_speedup_1_to_2')}]   outputs "
          f"byte-identical: {'yes' if w['outputs_identical'] else 'NO'}")
    one, ten = m["runs"]["x1"], m["runs"]["x10"]
    print(f"\n4. memory and growth: papertools lintseq sample -n {SAMPLES} -w 1 > /dev/null")
    print(f"   1x  {one['programs']:5d} programs: peak RSS {one['peak_rss_mib']:6.1f} MiB, "
          f"{one['seconds']:6.2f} s")
    print(f"   10x {ten['programs']:5d} programs: peak RSS {ten['peak_rss_mib']:6.1f} MiB, "
          f"{ten['seconds']:6.2f} s")
    print(f"   peak RSS ratio {m['peak_rss_ratio']:.2f}   [{mark('peak_rss_ratio_10x_over_1x')}]"
          f"   wall time x{m['wall_ratio']:.2f} for 10x input (per program x"
          f"{m['per_program_time_ratio']:.2f})")
    lc = res["linters"]
    fl, pl = lc["pyflakes"], lc["pylint"]
    print(f"\n5. linter choice: sample_record with pyflakes (default) and --linter pylint on the "
          f"same {lc['programs']} programs x {SAMPLES} samples, seed {SEED}")
    print(f"   {'':26} {'pyflakes':>10} {'pylint':>10}")
    for label, key, form in (("programs sampled", "programs", "d"),
                             ("rejects", "rejects", "d"),
                             ("edits per sequence", "edits_per_sequence", ".2f"),
                             ("linter calls per program", "lint_calls_per_program", ".1f"),
                             ("linter runs per program", "linter_runs_per_program", ".1f"),
                             ("seconds", "seconds", ".2f")):
        print(f"   {label:<26} {fl[key]:>10{form}} {pl[key]:>10{form}}")
    print(f"   sequences that differ: {lc['sequences_differ']} of {lc['sequences_compared']} "
          f"({100 * lc['sequences_differ_share']:.1f}%), in {lc['programs_with_a_difference']} "
          f"of {lc['programs_compared']} programs; rejected by one linter only: "
          f"{', '.join(lc['rejected_by_one_only']) or 'none'}")
    common.print_footer(res)


def main(argv=None) -> int:
    args, mode, output = common.parse_args(
        __doc__, RESULTS, argv, [("--profile", "also print a cProfile of the default path")])
    cfg = MODES[mode]
    started = time.perf_counter()
    items = list(read_records([str(DATA)]))
    log(f"{mode} run: {len(items)} programs from {DATA.relative_to(ROOT)}")

    res = dict(benchmark="lintseq", mode=mode,
               command=f"python benchmarks/lintseq_bench.py{' --quick' if args.quick else ''}",
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               machine=machine_info(), cli=common.papertools_command(),
               input=dict(file=str(DATA.relative_to(ROOT)), programs=len(items),
                          samples=SAMPLES, seed=SEED))
    res["machine"]["load_average_1min_at_start"] = os.getloadavg()[0] \
        if hasattr(os, "getloadavg") else None
    res["machine"]["busy_cpus_at_start"] = busy = common.busy_cpus()
    if busy is not None and busy > 0.2:
        log(f"warning: {busy:.1f} CPUs busy with other work at start: timings (the worker "
            "speed-up above all) are noisy")
    ok = True
    res["default_path"] = bench_default(items, cfg["default_reps"])
    res["baseline"], mirror = bench_baseline(items, cfg["base_programs"], cfg["base_samples"],
                                                 cfg["ref_reps"])
    if not mirror:
        log("ERROR: the benchmark's sampling loop does not reproduce sample_record")
        ok = False
    with tempfile.TemporaryDirectory(prefix="lintseq-bench-") as folder:
        res["workers"], identical = bench_workers(folder, cfg["repeat"], cfg["worker_reps"])
        if not identical:
            log("ERROR: -w 1 and -w 2 outputs differ")
            ok = False
        res["memory"] = bench_memory(folder)
    res["linters"] = bench_linters(items, cfg["linter_programs"])

    goals = {
        "baseline_ratio": judge("baseline_ratio", res["baseline"]["ratio"]),
        "programs_per_s_per_core": judge("programs_per_s_per_core",
                                         res["default_path"]["programs_per_s"]),
        "worker_speedup_1_to_2": judge("worker_speedup_1_to_2", res["workers"]["speedup"]),
        "peak_rss_ratio_10x_over_1x": judge("peak_rss_ratio_10x_over_1x",
                                            res["memory"]["peak_rss_ratio"]),
    }
    if (os.cpu_count() or 1) < 2:
        goals["worker_speedup_1_to_2"]["status"] = "SKIP"
    failed = common.finish(res, goals, output, started, print_table)
    if args.profile:
        profile_default(items)
    if failed:
        log(f"goals not met: {', '.join(failed)}")
    if not ok or (args.strict and failed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
