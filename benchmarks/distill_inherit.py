#!/usr/bin/env python
"""Why inheriting the teacher's document tower lowered the ablation's retention (issue 17).

The benchmark's ablation (one epoch a row, a 2-layer student cut to 192 wide) gave + score
distillation 73.8% of the teacher's MRR@10 and + inherited document tower 58.2%, where the paper
gains (76.9% -> 81.5%). This diagnostic measures, on the development split (``--dev 400``'s
queries, seed 1: held out of training and of the vocabulary; the test queries and the fresh
split's are not read):

1. where each row starts, untrained: the cut student ranking with its own document tower
   (symmetric, as direct and + score) against the same student's queries ranked among the
   teacher's documents (asymmetric, as + inherit), with the projection P the cut gives and
   with the least-squares P that training starts from; for the ablation student and for the
   goal student's shape (full width, factorised embeddings, no projection);
2. the + inherit row trained 1 epoch (the ablation's budget) at the ablation's learning rate
   (1e-3) and at 1e-4, and ``--inherit-epochs`` epochs (default 4) at 1e-3, the same
   configuration otherwise (score distillation only, 2 hard negatives, batch 32, documents cut
   at 64 tokens).

Usage: python benchmarks/distill_inherit.py [--quick] [--inherit-epochs N] [--output PATH]
Results: benchmarks/results/distill_inherit.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "distill_inherit.json"


def log(message: str) -> None:
    common.log("distill_inherit", message)


def main(argv=None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--inherit-epochs", type=int, default=4)
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[extra])
    started = time.perf_counter()
    import json

    import numpy as np
    import torch

    from papertools.core.models.encoders import load_encoder
    from papertools.cli.distill.ablation import AblationConfig, Evaluator, step_config
    from papertools.cli.distill.data import read_corpus, read_queries
    from papertools.cli.distill.student import cut_student
    from papertools.cli.distill.teacher import load_teacher
    from papertools.cli.distill.train import fit_projection, train

    torch.manual_seed(0)
    data = ROOT / "examples" / "distill" / ("small" if args.quick else "")
    corpus = read_corpus([str(data / "corpus.jsonl.gz")])
    train_q = read_queries([str(data / "train.jsonl.gz")], corpus)
    dev = set(np.random.default_rng(1).permutation(len(train_q))[:min(400, len(train_q) // 5)]
              .tolist())
    held = [q for i, q in enumerate(train_q) if i in dev]
    train_q = [q for i, q in enumerate(train_q) if i not in dev]
    busy = common.busy_cpus()
    log(f"{mode}: {len(corpus)} documents, {len(train_q)} train / {len(held)} development "
        f"queries; {busy if busy is None else round(busy, 2)} CPUs busy elsewhere")
    cache = str(Path(tempfile.gettempdir()) / "papertools-bench" / "distill-cache")
    config = AblationConfig(out_dir="", per_query=1, epochs=1, hard_negatives=2, batch_size=32,
                            lr=1e-3, seed=0, doc_max_length=64, cache_dir=cache)
    teacher = load_teacher("minilm", "dual-encoder")
    ev = Evaluator("minilm", corpus, held, config.ks, "cpu", config.query_max_length,
                   config.doc_max_length, cache, teacher_obj=teacher)
    trow = ev.teacher_row()
    vocab = corpus.texts + [q.text for q in train_q]
    work = Path(tempfile.mkdtemp(prefix="distill-inherit-"))
    students = {
        "ablation student (2 x 192, cut)": dict(layers=2, hidden=192, intermediate=512,
                                                 max_positions=128),
        "goal shape (2 x 384, embeddings 64)": dict(layer_map=[0, 5], intermediate=380,
                                                    max_positions=128, embedding_size=64)}
    rows = []

    def score(name, folder, document_encoder):
        meta = folder / "papertools.json"
        meta.write_text(json.dumps({"document_encoder": document_encoder, "teacher": "minilm"}))
        row = ev.student_row(name, str(folder))
        rows.append({k: row[k] for k in ("id", "mrr@10", "retention", "retention_interval",
                                         "document_encoder") if k in row}
                    | {"teacher_cosine": row.get("teacher_cosine")})
        log(f"{name}: retention {100 * row['retention']:.1f}% "
            f"(query cosine to the teacher {row.get('teacher_cosine', float('nan')):.3f})")

    tq = teacher.encode_queries([q.text for q in train_q], max_length=config.query_max_length,
                                cache_dir=cache)
    for label, kwargs in students.items():
        s = cut_student(teacher.encoder, vocab_texts=vocab, **kwargs)
        base = work / label.split()[0]
        s.save(base / "student0")
        for tower in ("student", "teacher"):
            folder = work / f"{label.split()[0]}-{tower}"
            s.save(folder)
            score(f"{label}, untrained, {tower} document tower"
                  + (", P from the cut" if s.dense is not None else ""), folder, tower)
        if s.dense is not None:  # the least-squares P that + inherit's training starts from
            s.normalize = teacher.normalize
            fit_projection(s, [q.text for q in train_q], tq, corpus.texts, ev.teacher_docs,
                           step_config("+inherit", config, ""))
            folder = work / f"{label.split()[0]}-fitted"
            s.save(folder)
            score(f"{label}, untrained, teacher document tower, least-squares P", folder,
                  "teacher")
    s0 = work / "ablation" / "student0"
    for epochs, lr in ((1, 1e-3), (1, 1e-4), (args.inherit_epochs, 1e-3)):
        name = f"+inherit, {epochs} epoch(s), lr {lr:g}"
        folder = work / f"inherit-{epochs}-{lr:g}"
        cfg = step_config("+inherit", AblationConfig(**{**config.__dict__, "epochs": epochs,
                                                        "lr": lr}), str(folder))
        took = time.perf_counter()
        train(cfg, teacher, load_encoder(str(s0)), corpus, train_q,
              teacher_doc_vectors=ev.teacher_docs)
        row = ev.student_row(name, str(folder))
        rows.append({k: row[k] for k in ("id", "mrr@10", "retention", "retention_interval",
                                         "document_encoder", "teacher_cosine") if k in row}
                    | {"train_seconds": round(time.perf_counter() - took, 1)})
        log(f"{name}: retention {100 * row['retention']:.1f}%, query cosine "
            f"{row.get('teacher_cosine', float('nan')):.3f}")
    res = {"benchmark": "distill_inherit", "mode": mode,
           "machine": common.machine_info(("torch", "transformers")), "busy_cpus_before": busy,
           "data": {"documents": len(corpus), "train_queries": len(train_q),
                    "development_queries": len(held)},
           "teacher_mrr@10": trow["mrr@10"], "rows": rows}

    def table(res, goals):
        print(f"teacher MRR@10 {100 * res['teacher_mrr@10']:.1f} on {len(held)} development "
              "queries")
        for r in rows:
            lo, hi = r["retention_interval"]
            print(f"  {r['id']:<92} {100 * r['retention']:5.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"
                  f"  cos {r.get('teacher_cosine') or float('nan'):.3f}")
        common.print_footer(res)

    common.finish(res, {}, output, started, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
