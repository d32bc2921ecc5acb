#!/usr/bin/env python
"""relabel benchmark (issue 20): agents taught new words by hindsight relabelling, in lift rooms.

Runs ``relabel study`` (cli/relabel/study.py) at its default size: the original agent cloned
from 1,000 bot lifts of a pointed-at object under "pick up an object"; the contrastive labeller
trained on 3,000 bot episodes of a seed stream of its own; 8,500 rollouts of the original
agent (sampled, pointed at a uniformly drawn object) to relabel, and 3,000 of the unpointed one
for the control row (the issue's literal pipeline); every condition keeps 1,500 labelled
episodes; agents (recurrent, FiLM also on the cells' embeddings, a joint colour-type embedding
per cell; 30 epochs) cloned per condition and seed, each scored greedily on
200 episodes of the evaluation seed stream (rooms of 5 objects, exactly one qualifying: chance
0.2). Settings were decided on development episodes (evaluation stream 7,
benchmarks/README.md); the figures here are on stream 0, read once.

Goals (figures are means over seeds with 95% bootstrap intervals over seeds):
- learned labeller, names and colours: success >= 3x chance;
- learned labeller, categories (taught by examples): success >= 2x chance;
- the noise grid (oracle labeller, precision x recall, 3 x 3 at equal labelled episodes)
  drawn as a heat map (benchmarks/results/relabel_noise.png), and the learned labeller's
  confidence-threshold curve (relabel_thresholds.png).
Also reported: each labeller's precision and recall per mode, apart from agent success; the
novel pair ("purple box": never placed in the original agent's rooms) asked of the objects-mode
agents; the study's wall time (goal: about an hour on 2 CPU cores; --quick under 5 minutes).

Usage: python benchmarks/relabel_bench.py [--quick] [--strict] [--work DIR] [--workers N]
       [--output PATH]
``--work DIR`` keeps the study folder, so an interrupted run continues where it stopped.
Results: benchmarks/results/relabel.json (from a clean committed tree).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "relabel.json"
GOALS = {"names_x_chance": ("goal", ">=", 3.0), "colours_x_chance": ("goal", ">=", 3.0),
         "categories_x_chance": ("goal", ">=", 2.0),
         "quick_minutes": ("aim", "<=", 5.0), "study_minutes": ("aim", "<=", 60.0)}


def log(message: str) -> None:
    common.log("relabel_bench", message)


def plot_thresholds(curve: list[dict], png) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for mode in dict.fromkeys(c["mode"] for c in curve):
        rows = [c for c in curve if c["mode"] == mode and c["precision"] is not None]
        ax.plot([c["recall"] for c in rows], [c["precision"] for c in rows], "o-", label=mode)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("learned labeller: confidence threshold 0 to 0.99", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--work", metavar="DIR", help="keep (and resume) the study folder")
    extra.add_argument("--workers", type=int, default=2)
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[extra])
    from papertools.cli.relabel.study import StudyConfig, plot_grid, run_study

    started = time.perf_counter()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="relabel-bench-"))
    study = StudyConfig()
    if args.quick:
        study = study.quick()
    log(f"study in {work} ({'quick' if args.quick else 'default'} size)")
    result = run_study(study, work / "study", resume=True, workers=args.workers)
    minutes = (time.perf_counter() - started) / 60
    res = {"benchmark": "relabel", "mode": mode,
           "machine": dict(common.machine_info(("torch", "minigrid")),
                           busy_cpus_at_start=common.busy_cpus()),
           "config": {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in study.__dict__.items()},
           "summary": result["summary"], "labellers": result["labellers"],
           "thresholds": result["thresholds"], "agents": result["results"],
           "study_minutes": minutes}
    goals = {}
    by_name = {(s["condition"], s["novel"]): s for s in result["summary"]}
    for name in ("names", "colours", "categories"):
        row = by_name.get((f"learned-{name}", None))
        if row:
            goals[f"{name}_x_chance"] = common.judge(GOALS, f"{name}_x_chance", row["ratio"])
    key = "quick_minutes" if args.quick else "study_minutes"
    goals[key] = common.judge(GOALS, key, minutes)
    png = output.with_name(f"{output.stem}_noise.png")
    plot_grid(result["summary"], png)
    res["noise_png"] = str(png)
    if result["thresholds"]:
        tpng = output.with_name(f"{output.stem}_thresholds.png")
        plot_thresholds(result["thresholds"], tpng)
        res["thresholds_png"] = str(tpng)
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if failed and args.strict else 0


def print_table(res: dict, goals: dict) -> None:
    c = res["config"]
    print(f"relabel: lift rooms of {c['num_objects']} objects; {c['labelled']} relabelled "
          f"episodes per condition; success on {c['eval_episodes']} held-out episodes, mean over "
          "seeds [95% bootstrap interval]")
    for s in res["summary"]:
        name = s["condition"] + (f" ({s['novel']})" if s["novel"] else "")
        print(f"  {name:<40} {s['success']:.3f} [{s['low']:.3f}, {s['high']:.3f}]  chance "
              f"{s['chance']:.2f}  x{s['ratio']:.2f}  seeds {s['seeds']}")
    print("Labellers (on the rollouts, against the lifted objects):")
    for s in res["labellers"]:
        p = "-" if s["precision"] is None else f"{s['precision']:.3f}"
        r = "-" if s["recall"] is None else f"{s['recall']:.3f}"
        print(f"  {s['condition']:<40} precision {p}  recall {r}  answers {s['answers']}")
    print("  Paper (Sumers et al.): Flamingo relabelling teaches names, colours, categories and "
          "preferences; §5.5 studies precision vs recall (its figures are not transcribed here)")
    common.print_goals(goals)
    common.print_footer(res)


if __name__ == "__main__":
    raise SystemExit(main())
