#!/usr/bin/env python
"""hrl benchmark (issue 19): language-subgoal HRL on BabyAI, HiHack's hierarchical cloning on NetHack.

Part A (``--part a``): ``hrl study`` at its default size: babyai/UnlockPickup, 250 bot
demonstrations shared by every arm, seeds 0-4, 100,000 environment frames for every RL arm, KL
weights 0, 0.01 and 0.1, 8 latent codes; every policy scored greedily on 100 episodes of the
evaluation seed stream 1 (the test episodes; development probes used stream 7, and the
study checks no demonstration seed is among them). The settings the study fixes (the recurrent
high level, the RL stage's learning rate, flat BC's network) were chosen on the development
episodes (benchmarks/README.md). The primary arm, named before the run, is ``lang-rl-kl0.01``
(small soft supervision). Goals: its IQM success over seeds beats flat BC (equal
demonstrations), latent-rl and rl-only (equal frames) with non-overlapping 95% bootstrap
intervals; the figure judged is the gap between its interval's low end and the other arm's
high end (> 0 is a pass). Also: the low level's success per subgoal kind in isolation (seed
0's low level, 200 episodes; training phrasings and held-out ones), which bounds the
hierarchy, and the RL arms' learning curves (benchmarks/results/hrl_curves.png).

Part B (``--part b``): nhrecord's symbolic agent records ``--games`` games (110; seed 11, at
most 5,000 steps each); the flat policy and the strategy-headed one (matched sizes, hidden 64,
one epoch) are cloned from the first N of the games outside 5 held-out ones, for N in
``--sizes`` (25, 50, 100: nested); at the largest size also the ablations strategy coefficient 0
(scored in the game) and the oracle strategy (offline accuracy only: the true strategy is not
known in play). Each in-game arm plays ``--eval-games`` (200) NetHackChallenge games of an
evaluation seed stream beside the expert and a random agent on the same games (median score,
quartiles, bootstrap interval of the median); each clone's held-out action accuracy, per true
strategy, is recorded. Goal: hierarchical beats flat on median score at every size with
non-overlapping intervals, or the report says it does not. On 2 CPU cores this takes hours
(cloning runs at a few hundred frames a second; a cloned policy plays about 150 steps a
second); the paper's sizes need a GPU.

Part C (``--part c``, beyond the paper): Part A's study again with one change each, on the
arms it bears on, scored on the same test episodes and printed beside Part A's recorded rows:
held-out combinations (``exclude_pairs`` "purple box": no demonstration names it; a second
score on test episodes whose mission does, as many as the others), 20% of the annotations
corrupted (the language arms, KL 0.01), and 1,000 demonstrations instead of 250 (flat and
language cloning: where flat BC catches up). Results: hrl_beyond.json.

Usage: python benchmarks/hrl_bench.py [--quick] [--strict] [--part a|b|ab|c] [--work DIR]
       [--output PATH]
``--work DIR`` keeps the study folder, so an interrupted run continues where it stopped.
Results: benchmarks/results/hrl.json (from a clean committed tree; ``--part b`` alone:
hrl_nethack.json). Part A took 43 minutes on 2
busy cores (recorded); ``--quick`` about 3 minutes for Part A, 25 for Part B (loaded cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "hrl.json"
RESULTS_B = RESULTS.with_name("hrl_nethack.json")
RESULTS_C = RESULTS.with_name("hrl_beyond.json")
PRIMARY = "lang-rl-kl0.01"
RIVALS = ("flat-bc", "latent-rl", "rl-only")
GOALS_A = {f"{PRIMARY}_minus_{r}": ("goal", ">=", 1e-9) for r in RIVALS}
GOALS_B = {}


def log(message: str) -> None:
    common.log("hrl_bench", message)


def part_a(quick: bool, work: Path, workers: int) -> dict:
    from papertools.cli.hrl.low import evaluate_low
    from papertools.cli.hrl.study import StudyConfig, rl_runs, run_study, summarise
    from papertools.core.learn.curves import aggregate, load_curves, plot_curves

    study = StudyConfig()
    if quick:
        study = study.quick()
    started = time.perf_counter()
    results = run_study(study, work / "study", resume=True, workers=workers,
                        on_unit=lambda r: log(f"{r['arm']} seed {r['seed']}: "
                                              f"success {r.get('success', '-')}"))
    rows = {r["arm"]: r for r in summarise(results)}
    out = {"config": json.loads(json.dumps(study.__dict__, default=list)), "arms": rows,
           "units": results, "seconds": round(time.perf_counter() - started, 1)}
    low = work / "study" / "low" / f"seed-{study.seeds[0]}" / "policy"
    episodes = 20 if quick else 200
    out["low_level"] = {
        name: evaluate_low(low, study.env, episodes, seed=study.eval_seed, held_out=held,
                           workers=workers)
        for name, held in (("train_phrasings", False), ("held_out_phrasings", True))}
    runs = {a: [d for d in dirs if (d / "log.jsonl").exists()]
            for a, dirs in rl_runs(work / "study", study).items()}
    runs = {a: d for a, d in runs.items() if d}
    if runs:
        curves = aggregate(load_curves(runs), "success", points=20)
        out["curves"] = curves
        png = (Path(tempfile.gettempdir()) / "papertools-bench" / "hrl_curves.quick.png"
               if quick else RESULTS.with_name("hrl_curves.png"))
        png.parent.mkdir(parents=True, exist_ok=True)
        plot_curves(curves, png, title=f"{study.env}: success over environment frames")
        out["curves_png"] = str(png)
    return out


# Beyond the paper (Part C): (name, what StudyConfig changes); each against Part A's arms
BEYOND = (
    ("held-out pairs", dict(arms=("flat-bc", "lang-bc"), exclude_pairs=("purple box",))),
    ("20% corrupted", dict(arms=("lang-bc", "lang-rl"), kl=(0.01,), corrupt=0.2)),
    ("1,000 demos", dict(arms=("flat-bc", "lang-bc"), demos=1000)),
)


def part_c(quick: bool, work: Path, workers: int) -> dict:
    from dataclasses import replace

    from papertools.cli.hrl.study import StudyConfig, run_study, summarise

    out = {}
    for name, changes in BEYOND:
        study = replace(StudyConfig(), **changes)
        if quick:
            study = study.quick()
        started = time.perf_counter()
        folder = work / ("c-" + name.replace(" ", "-").replace(",", "").replace("%", ""))
        results = run_study(study, folder, resume=True, workers=workers,
                            on_unit=lambda r, n=name: log(
                                f"{n}: {r['arm']} seed {r['seed']}: success "
                                f"{r.get('success', '-')}"
                                + (f", held-out pairs {r['heldout_success']}"
                                   if "heldout_success" in r else "")))
        rows = {r["arm"]: r for r in summarise(results)}
        for r in summarise(results, key="heldout_success"):
            rows[r["arm"]]["heldout"] = r
        out[name] = {"config": json.loads(json.dumps(study.__dict__, default=list)),
                     "arms": rows, "units": results,
                     "seconds": round(time.perf_counter() - started, 1)}
    recorded = RESULTS if RESULTS.exists() else None  # Part A's rows, the reference
    if recorded is not None and not quick:
        out["part_a"] = {arm: r for arm, r in json.loads(recorded.read_text())["a"]["arms"]
                         .items()}
    return out


def judge_a(res: dict, goals: dict) -> None:
    arms = res["arms"]
    if PRIMARY not in arms:
        return
    for rival in RIVALS:
        if rival in arms:
            name = f"{PRIMARY}_minus_{rival}"
            goals[name] = common.judge(GOALS_A, name, arms[PRIMARY]["low"] - arms[rival]["high"])


def papertools(*args: str) -> str:
    done = subprocess.run([*common.papertools_command(), *args], capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"hrl_bench: papertools {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def part_b(quick: bool, work: Path, workers: int, games: int, sizes: list[int],
           eval_games: int) -> dict:
    from papertools.cli.hrl.hihack import clone, evaluate

    data = work / "nethack-games"
    papertools("nhrecord", "record", "--episodes", str(games), "--seed", "11",
               "--max-steps", "5000", "-w", str(workers), "--out-dir", str(data), "-q",
               *(["--resume"] if data.exists() else []))
    max_steps = 1000 if quick else 5000  # a game's steps in evaluation
    out = {"games": games, "sizes": sizes, "eval_games": eval_games, "max_steps": max_steps,
           "clones": {}}
    kept = f"eval-{eval_games}-seed5-{max_steps}.json"  # what was played, kept for a resume
    size_kw = dict(hidden=64, head_hidden=64, epochs=1)
    # (name, clone overrides, scored in the game): the two models at every size; at the largest
    # the ablations, strategy coefficient 0 (in the game) and the oracle strategy (offline)
    arms = [(f"{m}-{n}", dict(model=m, games=n), True) for n in sizes for m in ("flat", "hier")]
    top = max(sizes)
    arms += [(f"hier-coef0-{top}", dict(model="hier", games=top, strategy_coef=0.0), True),
             (f"hier-oracle-{top}", dict(model="hier", games=top, oracle=True), False)]
    for name, overrides, in_game in arms:
        run = work / f"clone-{name}"
        summary = clone(data, run, resume=run.exists(), log=lambda r: None,
                        **size_kw, **overrides)
        entry = {"summary": {k: v for k, v in summary.items() if not isinstance(v, dict)},
                 "accuracy": json.loads((run / "accuracy.json").read_text())}
        if in_game:
            entry["policy"] = scored(run / kept, lambda: evaluate(
                run / "policy", episodes=eval_games, seed=5, max_steps=max_steps,
                workers=workers))["policy"]
            log(f"{name}: median {entry['policy']['median']}")
        out["clones"][name] = entry
    others = scored(work / f"expert-random-{kept}", lambda: evaluate(
        None, episodes=eval_games, seed=5, max_steps=max_steps, workers=workers, expert=True,
        random=True))
    out["expert"], out["random"] = others["expert"], others["random"]
    return out


def scored(path: Path, play) -> dict:
    """``play()``'s evaluation, kept at ``path`` (its name says which games were played) so a
    resumed run does not play it again."""
    if path.exists():
        return json.loads(path.read_text())
    result = play()
    path.write_text(json.dumps(result))
    return result


def judge_b(res: dict, goals: dict) -> None:
    for n in res["sizes"]:
        flat, hier = res["clones"][f"flat-{n}"]["policy"], res["clones"][f"hier-{n}"]["policy"]
        name = f"hier_minus_flat_{n}_games"
        GOALS_B[name] = ("goal", ">=", 1e-9)
        goals[name] = common.judge(GOALS_B, name, hier["median_ci"][0] - flat["median_ci"][1])


def main(argv=None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--part", choices=("a", "b", "ab", "c"), default="a")
    extra.add_argument("--work", metavar="DIR", help="keep (and resume) the work folder")
    extra.add_argument("--workers", type=int, default=2)
    extra.add_argument("--games", type=int, default=110)
    extra.add_argument("--sizes", default="25,50,100")
    extra.add_argument("--eval-games", type=int, default=200)
    part = extra.parse_known_args(argv)[0].part
    # Part B or C alone keeps Part A's file
    results = {"b": RESULTS_B, "c": RESULTS_C}.get(part, RESULTS)
    args, mode, output = common.parse_args(__doc__, results, argv, parents=[extra])
    started = time.perf_counter()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="hrl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    res = {"benchmark": "hrl", "mode": mode, "part": args.part,
           "machine": dict(common.machine_info(("torch", "minigrid", "nle")),
                           busy_cpus_at_start=common.busy_cpus())}
    goals: dict = {}
    if "a" in args.part:
        res["a"] = part_a(args.quick, work, args.workers)
        judge_a(res["a"], goals)
    if "b" in args.part:
        games = 12 if args.quick else args.games
        sizes = [3, 6] if args.quick else [int(x) for x in args.sizes.split(",")]
        eval_games = 6 if args.quick else args.eval_games
        res["b"] = part_b(args.quick, work, args.workers, games, sizes, eval_games)
        judge_b(res["b"], goals)
    if args.part == "c":
        res["c"] = part_c(args.quick, work, args.workers)
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if failed and args.strict else 0


def print_table(res: dict, goals: dict) -> None:
    if "a" in res:
        a = res["a"]
        print(f"Part A: {a['config']['env']}, {a['config']['demos']} demonstrations, seeds "
              f"{a['config']['seeds']}, {a['config']['frames']} RL frames; success on held-out "
              "episodes (greedy), IQM over seeds [95% bootstrap interval]")
        for arm, r in a["arms"].items():
            print(f"  {arm:<16} {r['iqm']:.3f} [{r['low']:.3f}, {r['high']:.3f}]  mean "
                  f"{r['mean']:.3f}  seeds {r['seeds']}  RL frames {r['frames']}")
        for name, scored in a["low_level"].items():
            kinds = ", ".join(f"{k} {v['success']:.2f}" for k, v in scored["kinds"].items())
            print(f"  low level alone, {name.replace('_', ' ')}: {kinds}; all "
                  f"{scored['success']:.2f}")
        print("  Paper (Ahuja et al.): language-supervised HRL beats flat cloning and HRL "
              "without the supervised subgoal space (3D tasks; no figures transcribed)")
    if "b" in res:
        b = res["b"]
        print(f"Part B: NetHackChallenge, median in-game score over {b['eval_games']} unseen "
              "games [95% bootstrap interval of the median]")
        for name, c in b["clones"].items():
            accuracy = c["accuracy"].get("all", {}).get("accuracy", float("nan"))
            p = c.get("policy")
            score = (f"{p['median']:.0f} [{p['median_ci'][0]:.0f}, {p['median_ci'][1]:.0f}]  "
                     f"quartiles {p['q1']:.0f}-{p['q3']:.0f}" if p else "(offline only)")
            print(f"  {name:<16} {score}  held-out action accuracy {accuracy:.3f}")
        for who in ("expert", "random"):
            p = b[who]
            print(f"  {who:<12} {p['median']:.0f} [{p['median_ci'][0]:.0f}, "
                  f"{p['median_ci'][1]:.0f}]")
        print("  Paper (HiHack): hierarchical LSTM BC beats flat LSTM BC at equal data and size")
    if "c" in res:
        print("Part C, beyond the paper: IQM success over seeds [95% interval]; Part A's "
              "recorded row beside")
        ref = res["c"].get("part_a", {})
        for name, variant in res["c"].items():
            if name == "part_a":
                continue
            print(f"  {name} ({variant['seconds']:.0f} s)")
            for arm, r in variant["arms"].items():
                base = ref.get(arm)
                line = f"    {arm:<16} {r['iqm']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
                if "heldout" in r:
                    h = r["heldout"]
                    line += f"  held-out pairs {h['iqm']:.3f} [{h['low']:.3f}, {h['high']:.3f}]"
                if base:
                    line += f"  (Part A {base['iqm']:.3f} [{base['low']:.3f}, {base['high']:.3f}])"
                print(line)
    common.print_goals(goals, digits=3)
    common.print_footer(res)


if __name__ == "__main__":
    sys.exit(main())
