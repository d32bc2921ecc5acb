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
5. old and new agent on the evaluation games (issue 22): the symbolic agent of this tree and
   the one of ``--old-rev`` (default: the agent before issue 22, commit a50fcc9, unpacked from
   git and run as its own ``papertools nhrecord record``, with the crash fixes of
   ``OLD_AGENT_FIXES`` applied, its decisions unchanged) on the same games (``--seed 31337``,
   games 0..199, at most 50,000 steps, 2 workers each). Those games were never played while
   the agent was tuned (development seeds 100-1,800); ``--quick`` plays seed 31338 instead.
   Printed for each: the median score with its 95% bootstrap interval over games (2,000
   resamples, seeded), the quartiles, the median maximum depth, the death-cause table from
   the xlogfiles, and agent steps per second while recording (from the games' timings; the new
   agent's over the old one's, same run).

Goals (issue 5): median score >= 1,000; >= 20x the random agent's median; median maximum depth
>= 4; no game stuck 1,000 steps without progress; recording costs <= 20%. Issue 22: on the
evaluation games, the new agent's median score >= 2,000 and median maximum depth >= 6, its
steps per second at least half the old agent's.

Usage: python benchmarks/nhrecord_bench.py [--quick] [--strict] [--output PATH] [--old-rev REV]
Figures go to stdout, progress to stderr, results to benchmarks/results/nhrecord.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
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
from papertools.core.learn.curves import interval_estimates

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "nhrecord.json"
SCRIPT = "nhrecord_bench"
SEED = 0
EVAL_SEED = 31337  # issue 22's evaluation games: never played while tuning the agent
SMOKE_EVAL_SEED = 31338  # --quick plays other games, so smoke runs never touch the real ones
OLD_REV = "a50fcc90ef01decf9928049a991cd63df380220e"  # main before issue 22's agent changes
# Crash fixes applied to the old agent's code when present, so that a game it plays ends as the
# game does and not in an exception: (file, text, replacement, why). Its decisions stay its own.
OLD_AGENT_FIXES = [
    ("core/nethack/agent.py",
     '                    self._level(obs).peaceful.add(int(obs["glyphs"][ty, tx]))\n',
     '                    if nh.glyph_is_monster(int(obs["glyphs"][ty, tx])):\n'
     '                        self._level(obs).peaceful.add(int(obs["glyphs"][ty, tx]))\n',
     'a "Really attack?" square showing no monster made glyph_to_mon index past the table'),
]

GOALS = {
    "median_score": ("goal", ">=", 1000.0),
    "score_x_random": ("goal", ">=", 20.0),
    "median_max_depth": ("goal", ">=", 4.0),
    "longest_no_progress": ("goal", "<=", 999.0),
    "recording_cost": ("goal", "<=", 0.20),
    "eval_median_score": ("goal", ">=", 2000.0),
    "eval_median_depth": ("goal", ">=", 6.0),
    "eval_steps_per_s_new_over_old": ("goal", ">=", 0.5),
}

MODES = {
    # games/max_steps: quality run; speed_games x speed_steps: speed rows; worker_games: -w rows
    "full": dict(games=50, max_steps=50_000, speed_games=4, speed_steps=4000, worker_games=8,
                 worker_steps=3000, eval_games=200, eval_steps=50_000),
    "quick": dict(games=4, max_steps=2000, speed_games=2, speed_steps=1000, worker_games=2,
                  worker_steps=1000, eval_games=2, eval_steps=1000),
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


def old_agent_command(rev: str, workdir: Path) -> tuple[list[str], dict, list[str]]:
    """``papertools`` as it was at commit ``rev`` (its cli/ and core/ unpacked from git into
    ``workdir``): the command and the environment that runs it, and the crash fixes of
    :data:`OLD_AGENT_FIXES` that applied to it."""
    tree = workdir / "old-agent"
    shim = tree / ".shim" / "papertools"
    shim.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "cli", "core"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    applied = []
    for name, text, fixed, why in OLD_AGENT_FIXES:
        path = tree / name
        code = path.read_text()
        if text in code:
            path.write_text(code.replace(text, fixed))
            applied.append(why)
    for part in ("cli", "core"):
        (shim / part).symlink_to(tree / part, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": f"{tree / '.shim'}{os.pathsep}{tree}",
           "OMP_NUM_THREADS": "1"}
    return [sys.executable, "-m", "papertools.cli.main"], env, applied


def agent_on_eval_games(rows: list[dict], folder: Path) -> dict:
    """One agent's evaluation figures: the summary, the median's bootstrap interval, the death
    table, steps per second while recording (games' own timings)."""
    scores = np.array([r["score"] for r in rows], float)
    _, ci = interval_estimates({"median": scores}, np.median, reps=2000, seed=0)
    seconds = sum(json.loads((f / "timing.json").read_text())["seconds"]
                  for f in finished_games(folder).values())
    deaths = game_deaths([folder])
    return {**summarize(rows), "median_ci": [float(ci["median"][0]), float(ci["median"][1])],
            "steps_per_s": sum(r["steps"] for r in rows) / max(seconds, 1e-9),
            "death_table": death_table(deaths),
            "games_detail": [{k: d[k] for k in ("game", "score", "cause", "maxlvl", "maxhp",
                                                 "xl", "turns", "role")} for d in deaths]}


def evaluation(games: int, max_steps: int, old_rev: str, workdir: Path,
               seed: int = EVAL_SEED) -> dict:
    """5. the new agent (this tree) and the old one (``old_rev``) on the evaluation games."""
    new_dir, old_dir = workdir / "eval-new", workdir / "eval-old"
    common.log(SCRIPT, f"evaluation: new agent, {games} games at seed {seed}")
    new_rows = record(GameConfig(seed=seed, max_steps=max_steps, out_dir=str(new_dir)),
                      games, workers=2)
    common.log(SCRIPT, f"evaluation: old agent ({old_rev[:12]}), the same games")
    command, env, fixes = old_agent_command(old_rev, workdir)
    subprocess.run([*command, "nhrecord", "record", "--episodes", str(games), "--seed",
                    str(seed), "--max-steps", str(max_steps), "-w", "2", "-q",
                    "--out-dir", str(old_dir)], env=env, cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    old_rows = [json.loads((f / "game.json").read_text())
                for f in finished_games(old_dir).values()]
    new, old = agent_on_eval_games(new_rows, new_dir), agent_on_eval_games(old_rows, old_dir)
    return {"seed": seed, "games": games, "max_steps": max_steps, "old_rev": old_rev,
            "old_agent_fixes": fixes,
            "command": (f"papertools nhrecord record --episodes {games} --seed {seed} "
                        f"--max-steps {max_steps} -w 2 --out-dir DIR (this tree; and as of "
                        f"{old_rev[:12]})"),
            "new": new, "old": old,
            "steps_per_s_new_over_old": new["steps_per_s"] / max(old["steps_per_s"], 1e-9)}


def main(argv=None) -> int:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--old-rev", default=OLD_REV,
                       help="the git commit whose agent is the old one in the evaluation "
                            f"(default {OLD_REV[:12]}, the agent before issue 22)")
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=(flags,))
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

        # 5. old and new agent on the evaluation games
        res["evaluation"] = evaluation(m["eval_games"], m["eval_steps"], args.old_rev, work,
                                       EVAL_SEED if mode == "full" else SMOKE_EVAL_SEED)
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
    ev = res["evaluation"]
    goals["eval_median_score"] = common.judge(GOALS, "eval_median_score",
                                              ev["new"]["score"]["median"])
    goals["eval_median_depth"] = common.judge(GOALS, "eval_median_depth",
                                              ev["new"]["max_depth"]["median"])
    goals["eval_steps_per_s_new_over_old"] = common.judge(GOALS, "eval_steps_per_s_new_over_old",
                                                          ev["steps_per_s_new_over_old"])
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
    ev = res["evaluation"]
    print(f"  evaluation ({ev['games']} games x <= {ev['max_steps']} steps, seed {ev['seed']}, "
          f"never played while tuning): {ev['command']}")
    for name in ("old", "new"):
        a = ev[name]
        q = a["score"]
        print(f"  {name} agent: median score {q['median']:.0f} [{a['median_ci'][0]:.0f}, "
              f"{a['median_ci'][1]:.0f}]  quartiles {q['q25']:.0f} / {q['q75']:.0f}  mean "
              f"{q['mean']:.0f}  median depth {a['max_depth']['median']:.1f}  "
              f"{a['steps_per_s']:.0f} steps/s recording")
        print("\n".join("    " + line for line in a["death_table"].splitlines()))
    print(f"  new agent's steps/s over the old one's (same run): "
          f"{ev['steps_per_s_new_over_old']:.2f}")
    for g in goals.values():
        print(f"  {g['kind']:<4} {g['name']:<22} {g['value']:>10.3f}  target {g['target']:<8} "
              f"{g['status']}")
    print(f"  results: {res['results_path']}")


if __name__ == "__main__":
    sys.exit(main())
