#!/usr/bin/env python
"""nhrecord benchmark (issue 5): how well the agent plays, and what recording costs.

1. quality: the symbolic agent and the random agent on the same games (``--seed 0``, games
   0..G-1, at most S agent steps each; full: 50 games x 50,000 steps, as the issue's goal says),
   recorded with ``papertools nhrecord record --out-dir`` on 2 workers. Printed: the in-game
   score and maximum depth distributions (every game's score, quantiles, depth histogram), how
   games ended, the longest stretch of steps without a new game turn, and the symbolic agent's
   median score over the random agent's (a random median of 0 counts as 1), and the means'.
2. speed, one process: the symbolic agent on K games of T steps (fixed seeds) played three ways:
   without recording, recording the dataset (ttyrec + xlogfile + sidecar), and recording plus
   JSONL step records (the text rendering); steps/s and the cost of recording as a fraction.
   The same games are then replayed key by key in a fresh environment with the same seeds (the
   game is a function of seeds and keys, so it is the same game), timing only ``env.step``:
   NLE's raw rate for exactly these games, and the agent's own cost per step is the rest.
3. workers: ``record`` of W games on ``-w 1`` and ``-w 2`` (wall time); the two datasets must be
   the same (summary, sidecars). The machine's other load is printed beside it.
4. disk: bytes per agent step and per keypress of the recorded dataset (from 1.).

Goals (issue 5): median score >= 1,000; >= 20x the random agent's median; median maximum depth
>= 4; no game stuck 1,000 steps without progress; recording costs <= 20%.

Usage: python benchmarks/nhrecord_bench.py [--quick] [--strict] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/nhrecord.json.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common
from papertools.cli.nhrecord.game import GameConfig, game_seeds, make_env, play_game
from papertools.core.nethack.env import seed_game
from papertools.cli.nhrecord.record import record
from papertools.core.nethack.dataset import finished_games
from papertools.cli.nhrecord.stats import death_table, game_deaths, summarize

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "nhrecord.json"
SCRIPT = "nhrecord_bench"
SEED = 0

GOALS = {
    "median_score": ("goal", ">=", 1000.0),
    "score_x_random": ("goal", ">=", 20.0),
    "median_max_depth": ("goal", ">=", 4.0),
    "longest_no_progress": ("goal", "<=", 999.0),
    "recording_cost": ("goal", "<=", 0.20),
}

MODES = {
    # games/max_steps: quality run; speed_games x speed_steps: speed rows; worker_games: -w rows
    "full": dict(games=50, max_steps=50_000, speed_games=4, speed_steps=4000, worker_games=8,
                 worker_steps=3000),
    "quick": dict(games=4, max_steps=2000, speed_games=2, speed_steps=1000, worker_games=2,
                  worker_steps=1000),
}


def quality(agent: str, games: int, max_steps: int, workdir: Path) -> tuple[dict, list, float]:
    out = workdir / f"quality-{agent}"
    config = GameConfig(seed=SEED, agent=agent, max_steps=max_steps, out_dir=str(out))
    started = time.perf_counter()
    rows = record(config, games, workers=2,
                  on_game=lambda s: common.log(SCRIPT, f"{agent} game {s['game']}: score "
                                                       f"{s['score']}, depth {s['max_depth']}, "
                                                       f"{s['steps']} steps, {s['end']}"))
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for folder in finished_games(out).values()
               for p in folder.iterdir() if p.name != "timing.json")
    return summarize(rows), rows, seconds, size


def timed_games(config: GameConfig, games: int, workdir: Path | None) -> tuple[float, int]:
    steps, started = 0, time.perf_counter()
    for i in range(games):
        folder = None
        if workdir is not None:
            folder = workdir / f"g{i}"
            shutil.rmtree(folder, ignore_errors=True)
        lines = []
        result = play_game(config, i, str(folder) if folder else None, lines.append)
        steps += result.summary["steps"]
    return time.perf_counter() - started, steps


def replay_env_seconds(config: GameConfig, games: int) -> tuple[float, int]:
    """Play the games once collecting keys, then replay the keys timing only env.step."""
    from papertools.core.nethack.agent import make_agent

    total, steps = 0.0, 0
    for i in range(games):
        core, disp, agent_seed = game_seeds(config.seed, i)
        env = make_env(config, None)
        seed_game(env, core, disp)
        obs, _ = env.reset()
        agent = make_agent(config.agent, np.random.default_rng(agent_seed))
        index = {}
        for k, a in enumerate(env.actions):
            index.setdefault(int(a), k)
        keys, done = [], False
        while not done:
            key = index[agent.act(obs)]
            keys.append(key)
            obs, _, done, _, _ = env.step(key)
        env.close()
        env = make_env(config, None)
        seed_game(env, core, disp)
        env.reset()
        started = time.perf_counter()
        for key in keys:
            env.step(key)
        total += time.perf_counter() - started
        steps += len(keys)
        env.close()
    return total, steps


def main(argv=None) -> int:
    args, mode, output = common.parse_args(__doc__, RESULTS, argv)
    m = MODES[mode]
    started = time.perf_counter()
    res = {"mode": mode, "machine": common.machine_info(("nle",)), "seed": SEED, **m}
    work = Path(tempfile.mkdtemp(prefix="nhrecord-bench-"))
    try:
        # 1. quality
        cmd = (f"papertools nhrecord record --episodes {m['games']} --max-steps {m['max_steps']} "
               f"--seed {SEED} -w 2 --out-dir DIR [--agent random]")
        sym, sym_rows, sym_s, sym_bytes = quality("symbolic", m["games"], m["max_steps"], work)
        rnd, rnd_rows, rnd_s, _ = quality("random", m["games"], m["max_steps"], work)
        res["command"] = cmd
        res["symbolic"] = {**sym, "seconds": sym_s,
                           "games_detail": [{k: r[k] for k in ("game", "score", "max_depth",
                                                               "steps", "turns", "end",
                                                               "character", "death")}
                                            for r in sym_rows]}
        res["symbolic"]["death_table"] = death_table(game_deaths([work / "quality-symbolic"]))
        res["random"] = {**rnd, "seconds": rnd_s}
        ratio = sym["score"]["median"] / max(1.0, rnd["score"]["median"])
        res["disk_bytes_per_step"] = sym_bytes / max(1, sym["steps"])
        res["disk_bytes_per_keypress"] = sym_bytes / max(1, sym["keypresses"])

        # 2. speed
        base = GameConfig(seed=SEED + 1, max_steps=m["speed_steps"])
        t_plain, n_plain = timed_games(base, m["speed_games"], None)
        t_rec, n_rec = timed_games(GameConfig(seed=SEED + 1, max_steps=m["speed_steps"],
                                              out_dir="x"), m["speed_games"], work / "speed")
        t_json, n_json = timed_games(GameConfig(seed=SEED + 1, max_steps=m["speed_steps"],
                                                out_dir="x", jsonl=True), m["speed_games"],
                                     work / "speed-json")
        t_env, n_env = replay_env_seconds(base, m["speed_games"])
        assert n_plain == n_rec == n_json == n_env, (n_plain, n_rec, n_json, n_env)
        res["speed"] = {
            "steps": n_plain, "plain_steps_per_s": n_plain / t_plain,
            "recording_steps_per_s": n_rec / t_rec, "recording_jsonl_steps_per_s": n_json / t_json,
            "nle_raw_steps_per_s": n_env / t_env,
            "agent_us_per_step": 1e6 * (t_plain - t_env) / n_plain,
            "recording_cost": 1 - (n_rec / t_rec) / (n_plain / t_plain),
            "jsonl_cost": 1 - (n_json / t_json) / (n_plain / t_plain),
        }

        # 3. workers
        wall = {}
        outs = {}
        for w in (1, 2):
            out = work / f"workers-{w}"
            cfg = GameConfig(seed=SEED + 2, max_steps=m["worker_steps"], out_dir=str(out))
            t0 = time.perf_counter()
            record(cfg, m["worker_games"], workers=w)
            wall[w] = time.perf_counter() - t0
            outs[w] = [(f / "game.json").read_bytes() + next(f.glob("*.npy")).read_bytes()
                       for f in finished_games(out).values()]
        res["workers"] = {"seconds_w1": wall[1], "seconds_w2": wall[2],
                          "speedup_1_to_2": wall[1] / wall[2], "identical": outs[1] == outs[2],
                          "other_load_cpus": common.busy_cpus(0.5)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    goals = {
        "median_score": common.judge(GOALS, "median_score", sym["score"]["median"]),
        "score_x_random": common.judge(GOALS, "score_x_random", ratio),
        "median_max_depth": common.judge(GOALS, "median_max_depth", sym["max_depth"]["median"]),
        "longest_no_progress": common.judge(GOALS, "longest_no_progress",
                                            sym["longest_no_progress"]),
        "recording_cost": common.judge(GOALS, "recording_cost", res["speed"]["recording_cost"]),
    }
    res["score_x_random"] = ratio
    res["mean_score_x_random"] = sym["score"]["mean"] / max(1e-9, rnd["score"]["mean"])
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if (args.strict and failed) else 0


def _dist(summary: dict, key: str) -> str:
    q = summary[key]
    return (f"min {q['min']:.0f}  q25 {q['q25']:.0f}  median {q['median']:.0f}  q75 "
            f"{q['q75']:.0f}  max {q['max']:.0f}  mean {q['mean']:.1f}")


def print_table(res: dict, goals: dict) -> None:
    sym, rnd, sp, wk = res["symbolic"], res["random"], res["speed"], res["workers"]
    print(f"nhrecord benchmark ({res['mode']}): {res['games']} games x <= {res['max_steps']} "
          f"steps, seed {res['seed']}")
    print(f"  command: {res['command']}")
    for name, s in (("symbolic", sym), ("random", rnd)):
        print(f"  {name:<9} score      {_dist(s, 'score')}")
        print(f"  {'':<9} max depth  {_dist(s, 'max_depth')}")
        print(f"  {'':<9} depth histogram {s['depth_histogram']}   ends {s['ends']}   "
              f"steps {s['steps']}   longest no-progress {s['longest_no_progress']}")
    print(f"  symbolic scores: {sym['scores']}")
    if sym.get("death_table"):
        print("  symbolic deaths (xlogfiles):")
        print("\n".join("    " + line for line in sym["death_table"].splitlines()))
    print(f"  random scores:   {rnd['scores']}")
    print(f"  symbolic median score / random median score (a median of 0 counts as 1): "
          f"{res['score_x_random']:.1f}x; means: {res['mean_score_x_random']:.1f}x")
    shares = {k: f"{100 * v['share']:.1f}%" for k, v in sym["strategies"].items() if v["steps"]}
    print(f"  strategies: {shares}")
    print(f"  speed ({sp['steps']} steps, one process): plain {sp['plain_steps_per_s']:.0f} "
          f"steps/s, recording {sp['recording_steps_per_s']:.0f} (cost "
          f"{100 * sp['recording_cost']:.1f}%), recording+jsonl "
          f"{sp['recording_jsonl_steps_per_s']:.0f} (cost {100 * sp['jsonl_cost']:.1f}%)")
    print(f"  NLE raw rate on the same games {sp['nle_raw_steps_per_s']:.0f} steps/s; agent "
          f"{sp['agent_us_per_step']:.0f} us/step; plain/raw = "
          f"{sp['plain_steps_per_s'] / sp['nle_raw_steps_per_s']:.2f}")
    print(f"  workers: -w 1 {wk['seconds_w1']:.1f} s, -w 2 {wk['seconds_w2']:.1f} s, speed-up "
          f"{wk['speedup_1_to_2']:.2f}x, identical {wk['identical']} (other load "
          f"{wk['other_load_cpus'] if wk['other_load_cpus'] is None else round(wk['other_load_cpus'], 1)} CPUs)")
    print(f"  disk: {res['disk_bytes_per_step']:.1f} bytes/step, "
          f"{res['disk_bytes_per_keypress']:.1f} bytes/keypress")
    for g in goals.values():
        print(f"  {g['kind']:<4} {g['name']:<22} {g['value']:>10.3f}  target {g['target']:<8} "
              f"{g['status']}")
    print(f"  results: {res['results_path']}")


if __name__ == "__main__":
    sys.exit(main())
