#!/usr/bin/env python
"""EmbedDistill's ablation at a budget where its rows have converged (issue 17).

The benchmark's ablation (distill_bench.py) trains each row one epoch; at that budget the
+ inherit row was still recovering from its first steps (distill_inherit.py). This script trains
the same five rows (direct training, + score distillation, + inherited frozen teacher document
tower, + query embedding matching, + generated queries; each step added in turn, the same
initial student, seed, data order, learning rate 1e-3 with linear warm-up and decay, 2 hard
negatives, batch 32, documents cut at 64 tokens) for ``--epochs`` epochs (8, the recorded run:
at 4, three rows failed the rule below; --quick 2) and after every epoch scores the row on the development queries (``--dev 400``'s: 400 training
queries, seed 1, held out of training and of the vocabulary; the fresh split's queries are among
the training ones as in every ablation run). Convergence is judged on those curves, fixed
before the run: a row has converged when its last epoch gains less than 1 point of retention
on the development queries. The test queries (636) are scored once per row, at the end.

``--student goal`` (default) is the current student, the goal run's shape (2 layers of the
teacher's 6 (0 and 5) at its full width 384, feed-forward 380, embeddings factorised to 64,
every token of the corpus and training queries kept); ``--student ablation`` the one the
one-epoch ablation used (2 layers cut to 192 wide, feed-forward 512).

``--work DIR`` keeps the work folder: a finished row is not trained again and an interrupted
one resumes from its last checkpoint (every 100 steps and at every epoch's end).

Usage: python benchmarks/distill_ablation.py [--quick] [--epochs N] [--student goal|ablation]
       [--work DIR] [--output PATH]
Results: benchmarks/results/distill_ablation.json and distill_ablation_curves.png (from a clean
committed tree; --quick: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "distill_ablation.json"
CONVERGED = 0.01  # a row's last epoch gains less than this much retention (development)
DEV_SEED, DEV_SIZE = 1, 400  # distill_bench.py --dev 400's split
STUDENTS = {
    "goal": dict(layers=2, layer_map=[0, 5], hidden=384, intermediate=380, max_positions=128,
                 embedding_size=64),
    "ablation": dict(layers=2, hidden=192, intermediate=512, max_positions=128),
}
GOALS = {}


def log(message: str) -> None:
    common.log("distill_ablation", message)


def plot_curves(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        xs = [0] + [c["epoch"] for c in r["curve"]]
        ys = [100 * r["start_retention"]] + [100 * c["retention"] for c in r["curve"]]
        left.plot(xs, ys, marker="o", label=r["id"])
    left.set_xlabel("epoch")
    left.set_ylabel("MRR@10 retained, development (%)")
    left.set_title("learning curves (400 development queries)", fontsize=10)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    xs = range(len(rows))
    ours = [100 * r["test"]["retention"] for r in rows]
    errs = [[100 * (r["test"]["retention"] - r["test"]["retention_interval"][0]) for r in rows],
            [100 * (r["test"]["retention_interval"][1] - r["test"]["retention"]) for r in rows]]
    paper = [100 * r["paper_retention"].get("msmarco_mrr10", float("nan")) for r in rows]
    right.bar([x - 0.2 for x in xs], ours, width=0.4, yerr=errs, capsize=3,
              label="this run, test queries (95% interval)")
    right.bar([x + 0.2 for x in xs], paper, width=0.4, color="lightgray",
              label="paper, MSMARCO (transcribed)")
    right.set_xticks(list(xs), [r["id"] for r in rows], rotation=20, ha="right", fontsize=8)
    right.set_ylabel("MRR@10 retained (%)")
    right.set_title(f"after {rows[0]['epochs']} epochs a row, against the paper's", fontsize=10)
    right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--epochs", type=int, default=None, help="epochs a row (8; --quick 2)")
    extra.add_argument("--student", choices=sorted(STUDENTS), default="goal")
    extra.add_argument("--work", metavar="DIR", help="keep (and resume) the work folder")
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[extra])
    started = time.perf_counter()
    import numpy as np
    import torch

    from papertools.cli.distill.ablation import (AblationConfig, Evaluator, generated_queries,
                                                 step_config)
    from papertools.cli.distill.data import check_disjoint, read_corpus, read_queries
    from papertools.cli.distill.evaluate import STEPS, STEP_TITLES, paper_retention
    from papertools.cli.distill.student import cut_student, parameter_counts
    from papertools.cli.distill.teacher import load_teacher
    from papertools.cli.distill.train import train
    from papertools.core.models.encoders import load_encoder

    torch.manual_seed(0)
    epochs = args.epochs or (2 if args.quick else 8)
    data = ROOT / "examples" / "distill" / ("small" if args.quick else "")
    corpus = read_corpus([str(data / "corpus.jsonl.gz")])
    train_q = read_queries([str(data / "train.jsonl.gz")], corpus)
    test_q = read_queries([str(data / "test.jsonl.gz")], corpus)
    dev = set(np.random.default_rng(DEV_SEED).permutation(len(train_q))[
        :min(DEV_SIZE, len(train_q) // 5)].tolist())
    dev_q = [q for i, q in enumerate(train_q) if i in dev]
    train_q = [q for i, q in enumerate(train_q) if i not in dev]
    check_disjoint(train_q, test_q, "training")
    check_disjoint(train_q, dev_q, "training")
    busy = common.busy_cpus()
    log(f"{mode}: {len(corpus)} documents, {len(train_q)} training / {len(dev_q)} development / "
        f"{len(test_q)} test queries; the {args.student} student, {epochs} epochs a row; "
        f"{busy if busy is None else round(busy, 2)} CPUs busy elsewhere")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="distill-ablation-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = str(Path(tempfile.gettempdir()) / "papertools-bench" / "distill-cache")
    config = AblationConfig(out_dir=str(work), per_query=1, epochs=epochs, hard_negatives=2,
                            batch_size=32, lr=1e-3, seed=0, doc_max_length=64, cache_dir=cache)
    teacher = load_teacher("minilm", "dual-encoder")
    on_dev = Evaluator("minilm", corpus, dev_q, config.ks, "cpu", config.query_max_length,
                       config.doc_max_length, cache, teacher_obj=teacher)
    on_test = Evaluator("minilm", corpus, test_q, config.ks, "cpu", config.query_max_length,
                        config.doc_max_length, cache, teacher_obj=teacher)
    teacher_dev, teacher_test = on_dev.teacher_row(), on_test.teacher_row()
    student0 = work / "student0"
    if not student0.exists():
        cut_student(teacher.encoder, vocab_texts=corpus.texts + [q.text for q in train_q],
                    **STUDENTS[args.student]).save(work / "student0.partial")
        (work / "student0.partial").rename(student0)
    counts = parameter_counts(load_encoder(str(student0)))
    tcounts = parameter_counts(teacher.encoder)
    log(f"student {counts['total']:,} parameters = {counts['total'] / tcounts['total']:.3f} of "
        f"the teacher's")
    gen = generated_queries(train_q, test_q + dev_q, config.per_query, config.seed)
    check_disjoint(gen, test_q + dev_q, "generated")

    def scored(ev: Evaluator, name: str, folder: Path, tower: str) -> dict:
        meta = folder / "papertools.json"
        if not meta.exists():  # an epoch's snapshot: say which document tower it ranks with
            meta.write_text(json.dumps({"document_encoder": tower, "teacher": "minilm"}))
        return ev.student_row(name, str(folder))

    rows = []
    for step in STEPS:
        name = step.lstrip("+")
        done = work / f"{name}.json"
        if done.exists():
            rows.append(json.loads(done.read_text()))
            log(f"{step}: done before (resumed)")
            continue
        tc = step_config(step, config, str(work / name))
        tc.resume, tc.save_every = True, 100
        tower = "teacher" if tc.inherit_docs else "student"
        start = scored(on_dev, step, student0, tower) if tower == "student" else None
        curve_file = work / f"{name}.curve.jsonl"
        curve = [json.loads(x) for x in curve_file.read_text().splitlines()] \
            if curve_file.exists() else []

        def on_epoch(epoch, student, step=step, name=name, tower=tower, curve=curve,
                     curve_file=curve_file):
            snap = work / f"{name}.epoch"
            student.save(snap)
            (snap / "papertools.json").unlink(missing_ok=True)
            row = scored(on_dev, step, snap, tower)
            point = {"epoch": epoch, "mrr@10": row["mrr@10"], "retention": row["retention"],
                     "teacher_cosine": row.get("teacher_cosine")}
            curve[:] = [c for c in curve if c["epoch"] < epoch] + [point]
            curve_file.write_text("".join(json.dumps(c) + "\n" for c in curve))
            log(f"{step} epoch {epoch}: development retention {100 * row['retention']:.1f}%")

        took = time.perf_counter()
        queries = train_q + (gen if step == "+querygen" else [])
        summary = train(tc, teacher, load_encoder(str(student0)), corpus, queries,
                        teacher_doc_vectors=on_dev.teacher_docs, on_epoch=on_epoch)
        if tower == "teacher":  # where the row starts, untrained, as training starts it
            from papertools.cli.distill.train import add_projection, fit_projection

            s = load_encoder(str(student0))
            s.normalize = teacher.normalize
            if tc.projection == "auto" and s.dense is None:
                add_projection(s, teacher, tc.seed)
            if tc.fit_projection and s.dense is not None:
                tq = teacher.encode_queries([q.text for q in train_q],
                                            max_length=config.query_max_length, cache_dir=cache)
                fit_projection(s, [q.text for q in train_q], tq, corpus.texts,
                               on_dev.teacher_docs, tc)
            s.save(work / f"{name}.start")
            start = scored(on_dev, step, work / f"{name}.start", "teacher")
        test = on_test.student_row(step, str(work / name))
        row = {"id": step, "title": STEP_TITLES[step], "epochs": epochs,
               "start_retention": start["retention"], "curve": curve,
               "last_epoch_gain": round(curve[-1]["retention"] - curve[-2]["retention"], 6)
               if len(curve) > 1 else None,
               "test": {k: test[k] for k in ("mrr@10", "recall@1", "recall@5", "recall@10",
                                             "recall@100", "retention", "retention_interval",
                                             "teacher_cosine") if k in test},
               "paper_retention": paper_retention(step),
               "train_seconds": round(time.perf_counter() - took, 1),
               "steps": summary["steps"], "generated_queries": summary["generated_queries"]}
        done.write_text(json.dumps(row))
        rows.append(row)
        log(f"{step}: test retention {100 * test['retention']:.1f}%, last epoch "
            f"{100 * (row['last_epoch_gain'] or 0):+.1f} points on development")
    goals = {}
    for r in rows:
        if r["last_epoch_gain"] is not None:
            key = f"converged_{r['id'].lstrip('+')}"
            GOALS[key] = ("goal", "<=", CONVERGED)
            goals[key] = common.judge(GOALS, key, r["last_epoch_gain"])
    by = {r["id"]: r for r in rows}
    if "+score" in by and "+inherit" in by:  # the paper's trend: inheriting gains
        GOALS["inherit_minus_score"] = ("aim", ">=", 0.0)
        goals["inherit_minus_score"] = common.judge(
            GOALS, "inherit_minus_score",
            by["+inherit"]["test"]["retention"] - by["+score"]["test"]["retention"])
    res = {"benchmark": "distill_ablation", "mode": mode,
           "machine": dict(common.machine_info(("torch", "transformers")),
                           busy_cpus_at_start=busy),
           "student": args.student, "student_parameters": counts["total"],
           "parameter_ratio": round(counts["total"] / tcounts["total"], 4),
           "epochs": epochs, "data": {"documents": len(corpus), "train_queries": len(train_q),
                                      "development_queries": len(dev_q),
                                      "test_queries": len(test_q)},
           "teacher": {"development_mrr@10": teacher_dev["mrr@10"],
                       "test_mrr@10": teacher_test["mrr@10"]},
           "rows": rows}
    plot = output.with_name(output.stem + "_curves.png")
    output.parent.mkdir(parents=True, exist_ok=True)
    plot_curves(rows, plot)
    res["plot"] = str(plot)

    def table(res, goals):
        print(f"EmbedDistill ablation, the {res['student']} student "
              f"({res['parameter_ratio']:.3f} of the teacher), {res['epochs']} epochs a row; "
              f"teacher MRR@10 {100 * res['teacher']['test_mrr@10']:.1f} (test), "
              f"{100 * res['teacher']['development_mrr@10']:.1f} (development)")
        print(f"  {'row':<12} {'start':>6} {'dev by epoch':<30} {'test retention':<22} paper")
        for r in res["rows"]:
            lo, hi = r["test"]["retention_interval"]
            curve = " ".join(f"{100 * c['retention']:.1f}" for c in r["curve"])
            paper = r["paper_retention"].get("msmarco_mrr10")
            print(f"  {r['id']:<12} {100 * r['start_retention']:5.1f}% {curve:<30} "
                  f"{100 * r['test']['retention']:5.1f}% ({100 * lo:.1f}-{100 * hi:.1f})  "
                  f"{'' if paper is None else f'{100 * paper:.1f}%'}")
        common.print_goals(goals, 3)
        common.print_footer(res)

    common.finish(res, goals, output, started, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
