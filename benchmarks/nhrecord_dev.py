#!/usr/bin/env python
"""nhrecord's development loop (issue 22): play the development games, compare agents by game.

The agent's rules are chosen on these games only: seeds 100, 200, ..., 400 and 700, 800, ...,
1,800, 24 games each (384 games, up to 50,000 steps). The evaluation games of
``nhrecord_bench.py`` (seed 31337) are played once a round, at its end, and never to choose.

    python benchmarks/nhrecord_dev.py play DIR [--rev REV] [--seeds S,S,...] [--episodes N]
                                               [--workers W] [--max-steps N]
    python benchmarks/nhrecord_dev.py compare BASE NEW [NEW ...]

``play`` records each seed's games with ``papertools nhrecord record`` into ``DIR/seed-S``, on 2
workers (about 10 minutes for all 384 on 2 cores); a seed already finished is skipped, so a run
stopped part way resumes. With ``--rev``, the agent of that commit (its cli/ and core/ unpacked
from git, as the benchmark plays the old agent), else this tree's.

``compare`` prints, for each directory, the median score with its 95% bootstrap interval over
games, the quartiles, the mean and the median depth, and for each NEW against BASE, paired by
game (the agent is a function of the seeds, so a rule changes only the games it touches): how
many games scored more, less and the same, the mean score gained per game with its 95% bootstrap
interval over games, how many heroes died fainted from hunger or while praying (a prayer that came
too soon), the death causes whose counts moved most, and per role the games better and worse
with the median score (a change may help one role and cost another).

    python benchmarks/nhrecord_dev.py odds DIR [DIR ...] [--goal 2000] [--games 200]

``odds`` pools the games played under the DIRs (one agent's, on seeds other than the evaluation's)
and says how often the median of GAMES of them, drawn at random with replacement, reaches GOAL:
the chance that an agent playing as it did there meets a median goal on a fresh set of that size,
and the same with every score 10%, 20% and 30% higher (how far the agent is from even odds).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import common
from nhrecord_bench import old_agent_command
from papertools.cli.nhrecord.stats import game_deaths
from papertools.core.learn.curves import interval_estimates

SCRIPT = "nhrecord_dev"
DEV_SEEDS = (100, 200, 300, 400, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700,
             1800)


def play(out: Path, seeds, episodes: int, workers: int, rev: str | None,
         max_steps: int = 50_000) -> None:
    """Record the development games into ``out/seed-S``, skipping seeds already finished."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="nhrecord-dev-"))
    try:
        if rev:
            command, env, _ = old_agent_command(rev, work)
        else:
            command, env = [sys.executable, "-m", "papertools.cli.main"], None
        for n, seed in enumerate(seeds, 1):
            folder = out / f"seed-{seed}"
            if (folder / "done").exists():
                continue
            common.log(SCRIPT, f"seed {seed} ({n} of {len(seeds)}): {episodes} games")
            if folder.exists():
                shutil.rmtree(folder)  # a seed stopped part way is played again whole
            subprocess.run([*command, "nhrecord", "record", "--episodes", str(episodes),
                            "--seed", str(seed), "--max-steps", str(max_steps), "-w", str(workers),
                            "-q", "--out-dir", str(folder)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            (folder / "done").touch()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def games(folder: Path) -> dict:
    """(seed, game) -> (score, depth, cause, while, role) of every finished game under
    ``folder`` (``while``: what the hero was doing when it died, "fainted from lack of food",
    "praying", or ""; ``role``: the xlogfile's, "Val", "Hea", ...)."""
    out = {}
    for seed_dir in sorted(folder.glob("seed-*")):
        seed = int(seed_dir.name.split("-", 1)[1])
        for d in game_deaths([seed_dir]):
            out[(seed, d["game"])] = (d["score"], d["maxlvl"], d["cause"], d["while"], d["role"])
    return out


def tally(base: dict, new: dict, keys) -> tuple[int, int]:
    """How many of the games ``keys`` NEW scored more on than BASE, and how many less."""
    return sum(new[k][0] > base[k][0] for k in keys), sum(new[k][0] < base[k][0] for k in keys)


def by_role(base: dict, new: dict, both) -> str:
    """Per role, over the games ``both`` played: games better / worse, and the median score
    from BASE to NEW (a change may help one role and cost another)."""
    roles = collections.defaultdict(list)
    for k in both:
        roles[base[k][4]].append(k)
    return ", ".join(
        "{} {}/{} ({:,.0f} -> {:,.0f})".format(
            role, *tally(base, new, keys), np.median([base[k][0] for k in keys]),
            np.median([new[k][0] for k in keys]))
        for role, keys in sorted(roles.items()))


def paired_mean_gain(base: dict, new: dict, both, reps: int = 2000) -> tuple[float, float, float]:
    """The mean of NEW's score minus BASE's over the games ``both`` played, with its 95%
    bootstrap interval over games (a change may lift the mean through a few long games and
    leave the median where it was)."""
    gain = np.array([new[k][0] - base[k][0] for k in both], float)
    est, ci = interval_estimates({"gain": gain}, np.mean, reps=reps, seed=0)
    return float(est["gain"]), float(ci["gain"][0]), float(ci["gain"][1])


def describe(name: str, rows: dict) -> str:
    scores = np.array([r[0] for r in rows.values()], float)
    _, ci = interval_estimates({"median": scores}, np.median, reps=2000, seed=0)
    q25, q50, q75 = np.percentile(scores, [25, 50, 75])
    return (f"{name}: {len(scores)} games, median {q50:,.0f} [{ci['median'][0]:,.0f}, "
            f"{ci['median'][1]:,.0f}], quartiles {q25:,.0f} / {q75:,.0f}, mean "
            f"{scores.mean():,.0f}, median depth {np.median([r[1] for r in rows.values()]):.0f}")


def compare(base_dir: Path, new_dirs) -> None:
    base = games(base_dir)
    print(describe(str(base_dir), base))
    for new_dir in new_dirs:
        new = games(new_dir)
        print(describe(str(new_dir), new))
        both = sorted(set(base) & set(new))
        better, worse = tally(base, new, both)
        print(f"  against {base_dir}, paired over {len(both)} games: {better} better, "
              f"{worse} worse, {len(both) - better - worse} the same")
        if both:
            gain, lo, hi = paired_mean_gain(base, new, both)
            print(f"  mean score gained per game: {gain:+,.0f} [{lo:+,.0f}, {hi:+,.0f}]")
        ends = ("fainted from lack of food", "praying")
        print("  died while " + ", ".join(
            f"{w} {sum(base[k][3] == w for k in both)} -> {sum(new[k][3] == w for k in both)}"
            for w in ends))
        old_causes = collections.Counter(base[k][2] for k in both)
        new_causes = collections.Counter(new[k][2] for k in both)
        moved = sorted(set(old_causes) | set(new_causes),
                       key=lambda c: (-abs(new_causes[c] - old_causes[c]), c))[:8]
        print("  deaths that moved most: " + ", ".join(
            f"{c} {old_causes[c]} -> {new_causes[c]}" for c in moved))
        if both:
            print("  by role, better/worse (median): " + by_role(base, new, both))


SCALES = (1.0, 1.1, 1.2, 1.3)


def goal_odds(scores, goal: float, games: int = 200, scales=SCALES, reps: int = 20_000,
              seed: int = 0) -> list[tuple[float, float]]:
    """(scale, share) for each scale: the share of ``reps`` draws of ``games`` of ``scores`` (with
    replacement), each score times the scale, whose median is ``goal`` or more."""
    scores = np.asarray(scores, float)
    draws = scores[np.random.default_rng(seed).integers(0, len(scores), (reps, games))]
    return [(s, float((np.median(draws * s, axis=1) >= goal).mean())) for s in scales]


def odds(dirs, goal: float, n: int) -> None:
    scores = np.array([r[0] for d in dirs for r in games(d).values()], float)
    if not scores.size:
        raise SystemExit(f"nhrecord_dev: no finished games under {', '.join(map(str, dirs))}")
    (_, p), *rest = goal_odds(scores, goal, n)
    print(f"{scores.size} games, median {np.median(scores):,.0f}, "
          f"{np.mean(scores >= goal):.0%} at {goal:,.0f} or more")
    print(f"  the median of {n} such games reaches {goal:,.0f}: {p:.1%} of draws (every score "
          + ", ".join(f"x{s:g}: {q:.0%}" for s, q in rest) + ")")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("play", help="record the development games into DIR (resumes)")
    p.add_argument("dir", type=Path)
    p.add_argument("--rev", help="play the agent of this git commit instead of this tree's")
    p.add_argument("--seeds", default=",".join(map(str, DEV_SEEDS)),
                   help="comma-separated seeds (default: the 16 development seeds)")
    p.add_argument("--episodes", type=int, default=24, help="games per seed (default 24)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--max-steps", type=int, default=50_000,
                   help="agent steps per game at most (default 50,000)")
    c = sub.add_parser("compare", help="compare NEW directories with BASE, game by game")
    c.add_argument("base", type=Path)
    c.add_argument("new", type=Path, nargs="+")
    o = sub.add_parser("odds", help="how often a median of GAMES of these games reaches GOAL")
    o.add_argument("dirs", type=Path, nargs="+")
    o.add_argument("--goal", type=float, default=2000, help="median score goal (default 2,000)")
    o.add_argument("--games", type=int, default=200, help="games in a set (default 200)")
    args = parser.parse_args(argv)
    if args.command == "odds":
        if args.games < 1:
            parser.error("--games must be at least 1")
        odds(args.dirs, args.goal, args.games)
    elif args.command == "play":
        seeds = [int(s) for s in args.seeds.split(",")]
        if 31337 in seeds or 31338 in seeds:
            parser.error("seeds 31337 and 31338 are the benchmark's evaluation games")
        play(args.dir, seeds, args.episodes, args.workers, args.rev, args.max_steps)
    else:
        compare(args.base, args.new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
