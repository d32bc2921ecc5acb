#!/usr/bin/env python
"""EmbedDistill benchmark (issue 9): the paper's ablation on real text, retention, size, speed.

Data: examples/distill (docstrings of the Python 3.11 standard library and of numpy, networkx,
click, jinja2 and pygments, made by make_data.py: 3,402 documents, 2,766 training and 636
held-out queries; the query is a docstring's first sentence, the document the signature and the
rest). ``--quick``: examples/distill/small (400 documents, 328 / 72 queries).

1. Teacher: the packaged MiniLM (all-MiniLM-L6-v2: 6 layers, 384 wide, 22.6M parameters without
   its unused pooler, 11.9M of them embeddings). Its MRR@10 and Recall@k on the held-out queries
   against the whole corpus.
2. Student query tower: cut from the teacher (``distill student``): 2 of its 6 layers, 192 wide
   (feed-forward 512), 128 positions, the vocabulary pruned to the corpus and training queries,
   with the projection P (192 -> 384). Parameters, embedding and non-embedding, and the ratio to
   the teacher's (goal: at most 1/10).
3. The ablation (``distill ablate``): direct training, + score distillation, + inherited frozen
   document tower, + query embedding matching, + generated queries (perturbations, one per
   training query), each trained from the same initial student with the same seed and schedule
   (``--epochs``). Each row: MRR@10, Recall@k, retention = student / teacher MRR@10 on the same
   queries and pool, printed beside the paper's MSMARCO retention (transcribed; 37.2 teacher).
   Goal: the best asymmetric student keeps >= 95% of the teacher's MRR@10.
4. Query-encoding throughput, student against teacher (a ratio, same run, same held-out
   queries, batch 64, best of 3): the online cost of the asymmetric student.

5. The goal run: the full method (+querygen's configuration) trained ``--goal-epochs`` (5;
   --quick 2) on the same data, the table's last row ("full xN"). On 2 shared CPU cores the
   symmetric ablation steps (the student embeds documents at every step) cost about 10 s a
   step, so the ablation gets one epoch each (``--epochs``) and documents are cut at 64 tokens
   (``--doc-max-length``) for teacher and students alike.

Usage: python benchmarks/distill_bench.py [--quick] [--strict] [--epochs N] [--goal-epochs N]
       [--doc-max-length N] [--hidden N] [--reuse-ablation DIR] [--output PATH]

--reuse-ablation DIR takes the ablation rows (ablation.json, ablation.png) from an earlier run
with the same settings instead of training them again, and runs only the goal run and the
throughput measurement (the results file records it as "ablation_reused").
Results: benchmarks/results/distill.json (--quick: a temporary folder).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "distill.json"
GOALS = {
    "student_parameter_ratio": ("goal", "<=", 0.1),
    "best_retention_mrr10": ("goal", ">=", 0.95),
    "query_throughput_ratio": ("aim", ">=", 3.0),
}


def log(message: str) -> None:
    common.log("distill_bench", message)


def throughput(encoder, texts, reps: int = 3) -> float:
    """Queries per second, best of ``reps`` (after one warm-up pass)."""
    encoder.max_length = min(encoder.max_length, 64)
    encoder.encode(texts[:64])
    best = None
    for _ in range(reps):
        start = time.perf_counter()
        encoder.encode(texts, batch_size=64)
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return len(texts) / best


def main(argv=None) -> int:
    epochs_parser = argparse.ArgumentParser(add_help=False)
    epochs_parser.add_argument("--epochs", type=int, default=None)
    epochs_parser.add_argument("--hidden", type=int, default=192)
    epochs_parser.add_argument("--goal-epochs", type=int, default=None)
    epochs_parser.add_argument("--doc-max-length", type=int, default=64)
    epochs_parser.add_argument("--reuse-ablation", metavar="DIR", default=None)
    known, rest = epochs_parser.parse_known_args(argv)
    args, mode, output = common.parse_args(__doc__, RESULTS, rest)
    started = time.perf_counter()
    import torch

    from papertools.core.encoders import load_encoder
    from papertools.cli.distill.ablation import AblationConfig, run_ablation
    from papertools.cli.distill.data import read_corpus, read_queries
    from papertools.cli.distill.evaluate import PAPER, STEP_TITLES, format_table
    from papertools.cli.distill.student import cut_student, parameter_counts

    torch.manual_seed(0)
    data = ROOT / "examples" / "distill" / ("small" if args.quick else "")
    epochs = known.epochs or 1
    goal_epochs = known.goal_epochs or (2 if args.quick else 5)
    busy = common.busy_cpus()
    work = Path(tempfile.mkdtemp(prefix="distill-bench-"))
    cache = Path(tempfile.gettempdir()) / "papertools-bench" / "distill-cache"
    files = {k: str(data / f"{k}.jsonl.gz") for k in ("corpus", "train", "test")}
    corpus = read_corpus([files["corpus"]])
    train_q = read_queries([files["train"]], corpus)
    test_q = read_queries([files["test"]], corpus)
    log(f"{mode}: {len(corpus)} documents, {len(train_q)} train / {len(test_q)} test queries, "
        f"{epochs} epochs; {busy if busy is None else round(busy, 2)} CPUs busy elsewhere")

    teacher = load_encoder("minilm")
    student = cut_student(teacher, layers=2, hidden=known.hidden,
                          intermediate=known.hidden * 8 // 3, max_positions=128,
                          vocab_texts=corpus.texts + [q.text for q in train_q])
    student.save(work / "student0")
    counts, tcounts = parameter_counts(student), parameter_counts(teacher)
    ratio = counts["total"] / tcounts["total"]
    log(f"student {counts['total']:,} parameters = {ratio:.3f} of the teacher's {tcounts['total']:,}")

    config = AblationConfig(out_dir=str(work / "ablation"), per_query=1, epochs=epochs,
                            hard_negatives=2, batch_size=32, lr=1e-3, seed=0,
                            doc_max_length=known.doc_max_length, cache_dir=str(cache),
                            ks=(1, 5, 10, 100))

    def step_done(row):
        log(f"{row['id']}: MRR@10 {100 * row['mrr@10']:.1f}, retention "
            f"{100 * row['retention']:.1f}%, {row['train_seconds']:.0f} s")

    if known.reuse_ablation:  # the ablation.json and .png of an earlier run of this script
        import json

        rows = json.loads((Path(known.reuse_ablation) / "ablation.json").read_text())
        (work / "ablation").mkdir(parents=True)
        shutil.copy(Path(known.reuse_ablation) / "ablation.png", work / "ablation")
        log(f"ablation rows reused from {known.reuse_ablation}")
    else:
        rows = run_ablation(config, "minilm", str(work / "student0"), [files["corpus"]],
                            [files["train"]], [files["test"]], log=step_done)
    # the goal run: the full method (inherited documents, score distillation, query embedding
    # matching, generated queries) trained for longer; the ablation's rows all share one budget
    from dataclasses import replace

    from papertools.cli.distill.ablation import Evaluator, generated_queries, step_config
    from papertools.cli.distill.teacher import load_teacher
    from papertools.cli.distill.train import train

    dteacher = load_teacher("minilm", "dual-encoder")
    ev = Evaluator("minilm", corpus, test_q, config.ks, "cpu", config.query_max_length,
                   config.doc_max_length, config.cache_dir, teacher_obj=dteacher)
    ev.teacher_row()
    goal_cfg = replace(step_config("+querygen", config, str(work / "goal")), epochs=goal_epochs)
    gen = generated_queries(train_q, test_q, config.per_query, config.seed)
    summary = train(goal_cfg, dteacher, load_encoder(str(work / "student0")), corpus,
                    train_q + gen, teacher_doc_vectors=ev.teacher_docs)
    goal_row = ev.student_row(f"full x{goal_epochs}", str(work / "goal"))
    goal_row["train_seconds"] = summary["seconds"]
    log(f"goal run ({goal_epochs} epochs): MRR@10 {100 * goal_row['mrr@10']:.1f}, retention "
        f"{100 * goal_row['retention']:.1f}%, {summary['seconds']:.0f} s")
    rows.append(goal_row)
    best = max((r for r in rows if r.get("document_encoder") == "teacher"),
               key=lambda r: r["retention"])

    final = load_encoder(best["model"])
    texts = [q.text for q in test_q]
    t_rate, s_rate = throughput(teacher, texts), throughput(final, texts)
    png = output.with_name(output.stem + "_ablation.png")
    png.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "ablation" / "ablation.png", png)

    goals = {"student_parameter_ratio": common.judge(GOALS, "student_parameter_ratio", ratio),
             "best_retention_mrr10": common.judge(GOALS, "best_retention_mrr10",
                                                  best["retention"]),
             "query_throughput_ratio": common.judge(GOALS, "query_throughput_ratio",
                                                    s_rate / t_rate)}
    res = {"benchmark": "distill", "mode": mode, "machine": common.machine_info(
        ("torch", "transformers")), "busy_cpus_before": busy,
        "data": {"documents": len(corpus), "train_queries": len(train_q),
                 "test_queries": len(test_q), "source": str(data.relative_to(ROOT))},
        "teacher_parameters": tcounts, "student_parameters": counts,
        "parameter_ratio": ratio, "epochs": epochs, "goal_epochs": goal_epochs,
        "doc_max_length": known.doc_max_length, "ablation": rows,
        "ablation_reused": bool(known.reuse_ablation),
        "best_step": best["id"], "best_retention": best["retention"],
        "paper": PAPER, "step_titles": STEP_TITLES,
        "throughput": {"teacher_queries_per_s": t_rate, "student_queries_per_s": s_rate,
                       "ratio": s_rate / t_rate}}

    def table(res, goals):
        print(f"distill benchmark ({mode}): {len(corpus)} documents, {len(test_q)} held-out "
              f"queries, {epochs} epoch(s) per ablation step, the last row the full method "
              f"trained {goal_epochs} epochs")
        c = res["student_parameters"]
        print(f"teacher {tcounts['total']:,} parameters ({tcounts['embedding']:,} embedding, "
              f"{tcounts['non_embedding']:,} non-embedding)")
        print(f"student {c['total']:,} parameters ({c['embedding']:,} embedding with "
              f"{c['vocab_size']:,} tokens, {c['non_embedding']:,} non-embedding, "
              f"{c['projection']:,} projection) = {ratio:.3f} of the teacher")
        print(format_table(rows, config.ks))
        th = res["throughput"]
        print(f"query encoding: student {th['student_queries_per_s']:.0f}/s, teacher "
              f"{th['teacher_queries_per_s']:.0f}/s: {th['ratio']:.2f}x")
        for g in goals.values():
            print(f"  {g['status']:<4} {g['name']} = {g['value']:.3f} (target {g['target']}, "
                  f"{g['kind']})")

    failed = common.finish(res, goals, output, started, table)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
