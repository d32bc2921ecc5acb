#!/usr/bin/env python
"""pretrain benchmark (issue 21): offline pre-training from observation-only demonstrations
(Mazoure et al., 2023) against PPO from scratch, at equal environment frames.

Runs ``pretrain study`` at its default size: the tasks doorkey (minigrid/DoorKey-6x6) and
multiroom (minigrid/MultiRoom-N2-S4), both demonstrated by the path solver, 200
demonstrations per task for one encoder and one progress model per task, the five arms
(scratch, encoder-frozen, encoder-finetune, progress, both) x seeds 0-4, each at the task's
frame budget (cli/pretrain/demos.py TASKS). ``--demo-sizes 50,200,1000`` and ``--alphas
0.003,0.03`` add the sweeps' arms (ARM-nN for each pre-trained arm, progress-aA); ``--arms``
and ``--tasks`` limit the main arms and the tasks (the data-size sweep of the fine-tuned
encoder on multiroom: ``--tasks multiroom --arms scratch,encoder-finetune --demo-sizes 50,1000
--output benchmarks/results/pretrain_sizes.json``).

Figures: per task and arm, frames to the task's success threshold (IQM over seeds, 95%
stratified-bootstrap interval; a seed that never reaches it counts its budget) and the final
success. Goals, per task: each pre-trained arm (encoder-frozen, encoder-finetune, progress,
both) reaches the threshold in fewer frames than scratch (the figure: scratch's IQM less the
arm's, > 0 passes); aim: both in the fewest of all arms. Curves: benchmarks/results/
pretrain_<task>.png (every arm).

Usage: python benchmarks/pretrain_bench.py [--quick] [--strict] [--work DIR] [--workers N]
       [--demo-sizes N,N] [--alphas A,A] [--arms ARM,ARM] [--tasks T,T]
       [--output PATH]
``--work DIR`` keeps the study folder, so an interrupted run continues where it stopped
(``--resume`` is implied for a folder that holds the same study). Results:
benchmarks/results/pretrain.json (from a clean committed tree). The default study is sized
for about 3 hours on 2 CPU cores (benchmarks/README.md); ``--quick`` runs the quick study
(one task, two seeds, 2,048 frames: a few minutes; the figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "pretrain.json"
PARTS = ("encoder-frozen", "encoder-finetune", "progress", "both")
GOALS: dict = {}


def log(message: str) -> None:
    common.log("pretrain_bench", message)


def run(quick: bool, work: Path, workers: int, demo_sizes, alphas, arms=(), tasks=(),
        output: Path = RESULTS) -> dict:
    from papertools.cli.pretrain.study import StudyConfig, run_study

    study = StudyConfig(demo_sizes=tuple(demo_sizes), alphas=tuple(alphas))
    if arms:
        study = replace(study, arms=tuple(arms))
    if tasks:
        study = replace(study, tasks=tuple(tasks))
    if quick:
        study = study.quick()
    folder = work / "study"
    started = time.perf_counter()

    def progress(r: dict) -> None:
        if "arm" in r:
            log(f"{r['task']} {r['arm']} seed {r['seed']}: success {r.get('success')} "
                f"({r.get('seconds')} s)")
        else:
            log(f"{r['task']}: pre-trained {r['model']} on {r['demos']} demonstrations")

    out = run_study(study, folder, workers=workers, resume=(folder / "study.json").exists(),
                    on_unit=progress)
    curves = {}
    for task, png in out["curves"].items():
        target = (Path(tempfile.gettempdir()) / "papertools-bench" / f"pretrain_{task}.quick.png"
                  if quick else Path(output).with_name(f"{Path(output).stem}_{task}.png"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
        curves[task] = str(target)
    from dataclasses import asdict

    return {"config": json.loads(json.dumps(asdict(study), default=list)), "rows": out["rows"],
            "units": out["results"], "curves_png": curves,
            "seconds": round(time.perf_counter() - started, 1)}


def judge(res: dict, goals: dict) -> None:
    by_task: dict = {}
    for row in res["rows"]:
        by_task.setdefault(row["task"], {})[row["arm"]] = row
    for task, arms in by_task.items():
        if "scratch" not in arms:
            continue
        base = arms["scratch"]["frames_to_threshold"]
        for arm in PARTS:
            if arm in arms:
                name = f"{task}_{arm}_frames_saved"
                GOALS[name] = ("goal", ">=", 1e-9)
                goals[name] = common.judge(GOALS, name, base - arms[arm]["frames_to_threshold"])
        if "both" in arms:
            others = [r["frames_to_threshold"] for a, r in arms.items() if a != "both"]
            name = f"{task}_both_fewest"
            GOALS[name] = ("aim", ">=", 0.0)
            goals[name] = common.judge(GOALS, name,
                                       min(others) - arms["both"]["frames_to_threshold"])


def print_table(res: dict, goals: dict) -> None:
    from papertools.cli.pretrain.study import table

    c = res["config"]
    print(f"pretrain: tasks {', '.join(c['tasks'])}; {c['demos']} demonstrations; seeds "
          f"{c['seeds']}; frames to the success threshold, IQM over seeds [95% bootstrap "
          "interval] (a seed that never reaches it counts its budget)")
    print(table(res["rows"]))
    print()
    common.print_goals(goals, digits=0)
    print("curves: " + ", ".join(res["curves_png"].values()))
    common.print_footer(res)


def main(argv=None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--work", metavar="DIR", help="keep (and resume) the work folder")
    extra.add_argument("--workers", type=int, default=2)
    extra.add_argument("--demo-sizes", default="", help="data-size sweep, e.g. 50,200,1000")
    extra.add_argument("--alphas", default="", help="alpha sweep, e.g. 0.003,0.03")
    extra.add_argument("--arms", default="", help="the main arms, e.g. scratch,encoder-finetune")
    extra.add_argument("--tasks", default="", help="the tasks, e.g. multiroom")
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[extra])
    started = time.perf_counter()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="pretrain-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.demo_sizes.split(",") if x]
    alphas = [float(x) for x in args.alphas.split(",") if x]
    res = {"benchmark": "pretrain", "mode": mode,
           "machine": dict(common.machine_info(("torch", "minigrid")),
                           busy_cpus_at_start=common.busy_cpus())}
    arms = [a for a in args.arms.split(",") if a]
    tasks = [t for t in args.tasks.split(",") if t]
    res.update(run(args.quick, work, args.workers, sizes, alphas, arms, tasks, output))
    goals: dict = {}
    judge(res, goals)
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
