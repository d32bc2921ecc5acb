#!/usr/bin/env python
"""bench benchmark (issue 6): harness overhead per step, episodes/s by workers, the random floor.

1. Harness overhead per step, excluding the model, per text environment: the same episode (same
   seed, same action sequence, same step count) played twice, (a) raw: ``make_text_env``, ``reset``
   and ``env.step`` in a loop, the baseline; (b) through ``runner.run_episode``, the harness:
   agent call, action check and invalid-output mapping, history, step records written to a step
   log (make_text_env and reset are outside both timings). overhead/step = (b - a) / steps; ratio = (b) / (a) per step. Two agents:
   ``random`` (no prompt) and ``naive`` with an in-process client that answers at once (prompt
   building with 16 steps of history and reply parsing included, no HTTP). Median of R repeats.
   Goal: under 2 ms median over the text environments (naive agent).
2. Episodes/s of ``papertools bench run --agent random --max-steps 300`` (the whole command,
   start-up included) on BabyAI's 5, Baba Is AI's 40 and Crafter's task, with -w 1 and -w 2;
   ratio -w 2 / -w 1, and the two episodes.jsonl files must be byte-identical. On a machine
   whose CPUs other work keeps busy (see busy_cpus_before) no speed-up is possible.
3. The full suite with the random agent and BALROG's episode counts (babyai 50, crafter 10,
   textworld 30, babaisai 120, minihack 30, nle 5) and its report: each environment's floor.
   (--quick: one episode per task, at most 100 steps.)

Usage: python benchmarks/bench_bench.py [--quick] [--strict] [--output PATH]
Figures to stdout, progress to stderr, results to benchmarks/results/bench.json.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from papertools.cli.bench import runner
from papertools.core.models.clients import Reply
from papertools.core.envs import make_text_env
from papertools.core.seed import python_rng

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
SCRIPT = "bench_bench"
TEXT_ENVS = ["babyai/goto", "crafter/default", "textworld/coin_collector", "babaisai/env/goto_win",
             "minihack/MiniHack-MazeWalk-9x9-v0", "nle/NetHackChallenge-v0"]
GOALS = {
    "overhead_ms_per_step_median": ("goal", "<=", 2.0),
    "worker_speedup_1_to_2": ("aim", ">=", 1.5),
}
MODES = {
    "full": dict(steps=200, reps=5, worker_episodes=2, suite_episodes=None, suite_steps=None),
    "quick": dict(steps=60, reps=2, worker_episodes=1, suite_episodes=1, suite_steps=100),
}


class InstantClient:
    """Answers every request at once with the game's first action (no model, no HTTP)."""

    def __init__(self, word: str):
        self.word = word

    def complete(self, messages, seed=0) -> Reply:
        return Reply(self.word, 0, 1)


def raw_episode(name: str, task: str, seed: int, steps: int, policy) -> float:
    """Seconds for the ``env.step`` loop of one episode (the baseline; make_text_env and reset are
    outside the timing, as they are outside the harness's loop timing)."""
    options = {"game": 0} if name == "textworld" else {}
    env = make_text_env(name, seed=seed, task=task, max_steps=steps, **options)
    env.reset(seed)
    started = time.perf_counter()
    done = False
    while not done:
        _, _, done, _ = env.step(policy(env))
    seconds = time.perf_counter() - started
    env.close()
    return seconds


def harness_overhead(spec: str, agent: str, steps: int, reps: int, out: Path) -> dict:
    name, task = spec.split("/", 1)
    config = runner.RunConfig(agent=agent, client="openai" if agent == "naive" else "none",
                              model="instant", max_steps=steps, seed=0)
    job = runner.Job(name, task, 0, str(out), config)
    probe = make_text_env(name, seed=job.seed, task=task)
    first = probe.actions[0] if name != "textworld" else "look"
    probe.close()
    runner._CLIENTS[("openai", "instant", None, "cpu")] = InstantClient(first)
    raws, harnesses, counted = [], [], 0
    for _ in range(reps):
        if agent == "random":
            rng = python_rng(job.seed, 1)
            policy = lambda env: rng.choice(env.actions)  # noqa: E731 - the random agent's draw
        else:
            policy = lambda env: first  # noqa: E731
        raws.append(raw_episode(name, task, job.seed, steps, policy))
        result = runner.run_episode(job)
        harnesses.append(result["loop_seconds"])
        counted = result["record"]["steps"]
    raw = statistics.median(raws) / counted
    harness = statistics.median(harnesses) / counted
    return {"env": spec, "agent": agent, "steps": counted, "raw_ms_per_step": 1e3 * raw,
            "harness_ms_per_step": 1e3 * harness, "overhead_ms_per_step": 1e3 * (harness - raw),
            "ratio": harness / raw if raw else None}


def cli_run(args: list[str], out: Path) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.perf_counter()
    subprocess.run(["papertools", "bench", "run", *args, "--out-dir", str(out), "-q"], check=True,
                   env=env, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    args, mode, output = common.parse_args(__doc__, RESULTS)
    settings = MODES[mode]
    started = time.perf_counter()
    busy = common.busy_cpus()
    res = {"mode": mode, "machine": common.machine_info(("nle", "minigrid", "crafter", "textworld",
                                                         "minihack")),
           "busy_cpus_before": busy, "load_average": os.getloadavg(), "settings": settings}
    work = Path(tempfile.mkdtemp(prefix="bench-bench-"))
    try:
        common.log(SCRIPT, "1/3 harness overhead per step")
        rows = []
        for spec in TEXT_ENVS:
            for agent in ("random", "naive"):
                rows.append(harness_overhead(spec, agent, settings["steps"], settings["reps"],
                                             work / f"o-{agent}"))
                common.log(SCRIPT, f"  {spec} {agent}: {rows[-1]['overhead_ms_per_step']:.3f} ms")
        res["overhead"] = rows
        naive = [r["overhead_ms_per_step"] for r in rows if r["agent"] == "naive"]
        res["overhead_ms_per_step_median"] = statistics.median(naive)

        common.log(SCRIPT, "2/3 episodes/s with 1 and 2 workers")
        wargs = ["--env", "babyai,babaisai,crafter", "--agent", "random", "--episodes",
                 str(settings["worker_episodes"]), "--max-steps", "300"]
        t1 = cli_run(wargs + ["-w", "1"], work / "w1")
        t2 = cli_run(wargs + ["-w", "2"], work / "w2")
        n = sum(1 for _ in open(work / "w1" / "episodes.jsonl", "rb"))
        identical = (work / "w1" / "episodes.jsonl").read_bytes() == \
            (work / "w2" / "episodes.jsonl").read_bytes()
        res["workers"] = {"episodes": n, "seconds_w1": t1, "seconds_w2": t2,
                          "episodes_per_s_w1": n / t1, "episodes_per_s_w2": n / t2,
                          "byte_identical": identical}
        res["worker_speedup_1_to_2"] = t1 / t2

        common.log(SCRIPT, "3/3 full suite, random agent")
        sargs = ["--env", "all", "--agent", "random", "-w", "2"]
        if settings["suite_episodes"]:
            sargs += ["--episodes", str(settings["suite_episodes"])]
        if settings["suite_steps"]:
            sargs += ["--max-steps", str(settings["suite_steps"])]
        ts = cli_run(sargs, work / "suite")
        from papertools.cli.bench.report import markdown, summarize

        summary = summarize(runner.read_episodes(work / "suite"), "random")
        res["suite"] = {"seconds": ts, "summary": summary, "table": markdown([summary])}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    goals = {name: common.judge(GOALS, name, res[name]) for name in GOALS}
    failed = common.finish(res, goals, output, started, print_table)
    if not res["workers"]["byte_identical"]:
        print("CHECK FAILED: -w 1 and -w 2 episodes differ", file=sys.stderr)
        return 1
    return 1 if (failed and args.strict) else 0


def print_table(res: dict, goals: dict) -> None:
    print(f"bench benchmark ({res['mode']}); machine: {res['machine']['usable_cpus']} CPUs, "
          f"{res['busy_cpus_before']:.1f} busy before the start, load {res['load_average'][0]:.1f}")
    print("\n1. harness overhead per step (model excluded), baseline = the raw env.step loop")
    print(f"{'environment':38} {'agent':7} {'raw ms':>8} {'harness ms':>11} {'overhead ms':>12} "
          f"{'ratio':>6}")
    for r in res["overhead"]:
        print(f"{r['env']:38} {r['agent']:7} {r['raw_ms_per_step']:8.3f} "
              f"{r['harness_ms_per_step']:11.3f} {r['overhead_ms_per_step']:12.3f} "
              f"{r['ratio']:6.2f}")
    w = res["workers"]
    print(f"\n2. random agent, {w['episodes']} episodes (babyai, babaisai, crafter; <= 300 "
          f"steps), whole command: "
          f"-w 1 {w['episodes_per_s_w1']:.1f} episodes/s, -w 2 {w['episodes_per_s_w2']:.1f} "
          f"episodes/s: ratio {res['worker_speedup_1_to_2']:.2f}x; byte-identical: "
          f"{w['byte_identical']}")
    s = res["suite"]
    print(f"\n3. full suite, random agent ({s['summary']['episodes']} episodes, "
          f"{s['seconds']:.0f} s): the floor of each environment (x100)\n")
    print(s["table"])
    print("\ngoals:")
    for g in goals.values():
        print(f"  {g['name']}: {g['value']:.3f} (target {g['target']}, {g['kind']}): {g['status']}")


if __name__ == "__main__":
    sys.exit(main())
