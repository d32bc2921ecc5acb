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
   queries, batch 64, best of 3): the online cost of the asymmetric student. And the goal
   student's training step (forward and backward, batch 32 of the unlabelled texts, 40 steps)
   in a plain shuffled order against one grouped by length (``--group-by-length``): a ratio.

5. The goal run: the full method (+querygen's configuration) plus unlabelled query-like text for
   query embedding matching (``--unlabelled``, default both: every sentence of the training
   queries' documents, and the first sentence of every docstring of the installed packages
   outside the evaluation set, cli/distill/unlabelled.py's DEFAULT_PACKAGES; about 79,000 texts;
   none equal to a test query or found inside a test query's document, and no test document is
   read; --quick keeps a seeded 5,000), trained ``--goal-epochs`` (8; --quick 2) on the same
   data, the table's last row ("+unlab xN"). The goal student has its own shape: by default the
   teacher's full width (384, all 12 heads, so no projection and no lossy cut of the residual
   stream), layers 0 and 5 (``--goal-layer-map``), feed-forward 380 (``--goal-intermediate``),
   ALBERT-factorised embeddings of 64 dimensions (``--goal-embedding-size``; 0: plain
   embeddings) over every token the corpus and training queries use (``--goal-min-count`` 1: a
   query holding a word the pruning dropped loses most; ``--goal-vocab-unlabelled`` counts the
   unlabelled texts too), 128 positions; ``--goal-hidden`` below 384 cuts the stream to the
   principal directions of the word embeddings or (``--goal-basis activations``) of the
   teacher's hidden states; ``--goal-head-size`` narrows every attention head (a whitened
   low-rank copy of the teacher's; the attention block's cost goes to depth or feed-forward
   width). Training: ``--goal-lr``, ``--goal-query-emb-weight``, ``--goal-distance``,
   ``--goal-hard-negatives`` (8: each query's score distillation sees the teacher's top 9
   documents, a generated or unlabelled one's included, besides the batch's),
   ``--goal-teacher-temperature``, ``--goal-corpus-candidates`` (score against the whole
   corpus), ``--goal-group-by-length`` (default: batches of similar length;
   ``--no-goal-group-by-length`` for a plain shuffle). The teacher's embeddings of the
   unlabelled texts (about 10 minutes on one core) are cached under the temporary folder's
   papertools-bench/distill-cache. On 2 shared CPU cores the symmetric ablation steps (the
   student embeds documents at every step) cost about 10 s a step, so the ablation gets one
   epoch each (``--epochs``) and documents are cut at 64 tokens (``--doc-max-length``) for
   teacher and students alike.

A fresh held-out split (``--fresh N``, issue 17): the test queries were scored for five successive
goal students and the development queries chose among them, so neither is an unbiased figure.
``--fresh N`` holds out N training queries that no run has scored: a seeded sample (seed 2) of
the training queries outside the development sample (``--dev 400``'s, seed 1). They leave
training, the vocabulary and the unlabelled sentences as in ``--dev``; the test queries are not
read; only the goal run is trained, with the recipe frozen in the commit before the run (this
script's defaults), and the results go to benchmarks/results/distill_fresh.json. The split is
scored once: the run refuses to start when that file exists. ``--work DIR`` keeps the work
folder (with --dev or --fresh), so an interrupted run continues: the goal run checkpoints every
500 steps and resumes from DIR/goal, and the teacher's embeddings are cached.

Tuning (``--dev N``): N training queries (a seeded sample) become the held-out set and leave
training, the vocabulary and the unlabelled sentences; the test queries are not read; only the
goal run is trained, and results go to benchmarks/results/distill_dev.json unless --output
says otherwise. The goal student's shape was chosen this way (benchmarks/README.md); the
test queries were scored once with it. Each goal row also carries the mean cosine of the
student's query embeddings to the teacher's on the held-out queries and on 1,000 texts it
trained on: no gap means the student is short of capacity, not of data.

Usage: python benchmarks/distill_bench.py [--quick] [--strict] [--epochs N] [--goal-epochs N]
       [--doc-max-length N] [--hidden N] [--reuse-ablation DIR|RESULTS.json]
       [--unlabelled both|sentences|docstrings|none] [--unlabelled-max N] [--goal-lr LR]
       [--goal-layers N] [--goal-layer-map I,J] [--goal-hidden N] [--goal-intermediate N]
       [--goal-max-positions N] [--goal-min-count N] [--goal-embedding-size N]
       [--goal-basis words|activations] [--goal-head-size N] [--goal-vocab-unlabelled]
       [--goal-dropout P] [--goal-query-emb-weight W]
       [--goal-distance D] [--goal-hard-negatives N] [--goal-teacher-temperature T]
       [--goal-corpus-candidates] [--[no-]goal-group-by-length] [--dev N] [--output PATH]
       [--save-student DIR] [--fresh N] [--work DIR]

--reuse-ablation takes the ablation rows from an earlier run with the same settings (its
ablation folder with ablation.json and ablation.png, or its results file and the
``<stem>_ablation.png`` beside it), or the converged rows of distill_ablation.py
(benchmarks/results/distill_ablation.json: the goal-shaped student, 4 epochs a row, the same
636 test queries), instead of training them again, and runs only the goal run and the throughput
measurement (the results file records it as "ablation_reused").
--save-student DIR keeps the trained goal student (an encoder directory) for ``distill eval``.
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
DEV_SAMPLE = 400  # the development split (--dev 400) that chose the goal student
FRESH_SEED = 2  # --fresh: the seed of the never-scored split
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


def step_seconds(encoder, texts, order, steps: int = 40, batch_size: int = 32,
                 max_length: int = 64) -> float:
    """Seconds per training step of ``encoder`` (forward and backward of one batch, no update)
    over the first ``steps`` batches of ``order`` (after two warm-up batches)."""
    encoder.model.train()
    encoder.max_length = max_length
    batches = [[texts[i] for i in order[s:s + batch_size]]
               for s in range(0, min(len(order), (steps + 2) * batch_size), batch_size)]
    if len(batches) < 3:
        return float("nan")
    try:
        for n, batch in enumerate(batches):
            if n == 2:
                start = time.perf_counter()
            encoder.embed(batch).sum().backward()
            encoder.model.zero_grad(set_to_none=True)
    finally:
        encoder.model.eval()
    return (time.perf_counter() - start) / (len(batches) - 2)


def converged_rows(found: dict) -> list[dict]:
    """distill_ablation.py's rows (scored on the test queries) as this script's ablation rows."""
    rows = []
    for r in found["rows"]:
        test = r["test"]
        rows.append({"id": r["id"], "role": "student", **test,
                     "document_encoder": "teacher" if r["id"] not in ("direct", "+score")
                     else "self", "paper_retention": r["paper_retention"],
                     "epochs": r["epochs"], "train_seconds": r["train_seconds"],
                     "generated_queries": r["generated_queries"]})
    return rows


def unlabelled_queries(corpus, train_q, test_q, which: str, limit: int = 0):
    """Unlabelled query-like texts (never a test query, never text of a test query's
    document): sentences of the training queries' documents and/or first sentences of the
    docstrings of installed packages outside the evaluation set; ``limit`` > 0 keeps a seeded
    sample of that many."""
    from papertools.cli.distill.data import Query
    from papertools.cli.distill.unlabelled import (DEFAULT_PACKAGES, clean,
                                                   docstring_sentences, document_sentences,
                                                   package_root)

    items = []
    if which in ("sentences", "both"):
        items += list(document_sentences(corpus, train_q, test_q))
    if which in ("docstrings", "both"):
        installed = [p for p in DEFAULT_PACKAGES if package_root(p) is not None]
        items += list(docstring_sentences(installed))
    held_docs = [corpus.texts[d] for q in test_q for d in q.positives]
    kept = clean(items, [q.text for q in test_q + train_q], held_docs)
    queries = [Query(f"u{i}:{source}", text, [], [], True, None)
               for i, (source, text) in enumerate(kept)]
    return sample(queries, limit)


def sample(items: list, limit: int) -> list:
    """A seeded sample of ``limit`` items in their order (all of them when ``limit`` is 0)."""
    if not limit or len(items) <= limit:
        return items
    import numpy as np

    return [items[i] for i in np.sort(np.random.default_rng(0).permutation(len(items))[:limit])]


def basis_texts(corpus, train_q, n: int = 1000) -> list[str]:
    """A seeded sample of documents and training queries (never a held-out query) whose
    teacher activations give the student's residual-stream basis."""
    import random

    rng = random.Random(0)
    queries = [q.text for q in train_q]
    return rng.sample(corpus.texts, min(n // 3, len(corpus))) + rng.sample(
        queries, min(n - n // 3, len(queries)))


def trained_cosine(teacher, student, texts) -> float:
    """Mean cosine of the student's query embeddings to the teacher's on texts it trained on
    (beside the held-out ``teacher_cosine``: a gap means too little data, no gap too little
    capacity)."""
    from papertools.cli.distill.evaluate import mean_cosine
    from papertools.cli.distill.teacher import with_length

    if not texts:
        return float("nan")
    old = with_length(teacher, 64)  # the query length training used
    a = teacher.encode(texts)
    teacher.max_length = old
    student.max_length = min(student.max_length, 64)
    return mean_cosine(a, student.encode(texts))


def main(argv=None) -> int:
    epochs_parser = argparse.ArgumentParser(add_help=False)
    epochs_parser.add_argument("--epochs", type=int, default=None)
    epochs_parser.add_argument("--hidden", type=int, default=192)
    epochs_parser.add_argument("--goal-epochs", type=int, default=None)
    epochs_parser.add_argument("--doc-max-length", type=int, default=64)
    epochs_parser.add_argument("--reuse-ablation", metavar="DIR", default=None)
    epochs_parser.add_argument("--goal-layers", type=int, default=2)
    epochs_parser.add_argument("--goal-layer-map", default="0,5")
    epochs_parser.add_argument("--goal-hidden", type=int, default=384)
    epochs_parser.add_argument("--goal-intermediate", type=int, default=380)
    epochs_parser.add_argument("--goal-max-positions", type=int, default=128)
    epochs_parser.add_argument("--goal-min-count", type=int, default=1)
    epochs_parser.add_argument("--goal-dropout", type=float, default=None)
    epochs_parser.add_argument("--goal-embedding-size", type=int, default=64)
    epochs_parser.add_argument("--goal-basis", default="words", choices=("words", "activations"))
    epochs_parser.add_argument("--goal-head-size", type=int, default=None)
    epochs_parser.add_argument("--goal-vocab-unlabelled", action="store_true")
    epochs_parser.add_argument("--dev", type=int, default=0)
    epochs_parser.add_argument("--fresh", type=int, default=0)
    epochs_parser.add_argument("--work", metavar="DIR", default=None)
    epochs_parser.add_argument("--unlabelled", default="both",
                               choices=("both", "sentences", "docstrings", "none"))
    epochs_parser.add_argument("--unlabelled-max", type=int, default=0)
    epochs_parser.add_argument("--goal-lr", type=float, default=1e-3)
    epochs_parser.add_argument("--goal-hard-negatives", type=int, default=8)
    epochs_parser.add_argument("--goal-teacher-temperature", type=float, default=None)
    epochs_parser.add_argument("--goal-corpus-candidates", action="store_true")
    epochs_parser.add_argument("--goal-query-emb-weight", type=float, default=1.0)
    epochs_parser.add_argument("--goal-distance", default="mse",
                               choices=("mse", "l2", "cosine"))
    epochs_parser.add_argument("--goal-group-by-length", action=argparse.BooleanOptionalAction,
                               default=True)
    epochs_parser.add_argument("--save-student", metavar="DIR", default=None)
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[epochs_parser])
    started = time.perf_counter()
    import torch

    from papertools.core.models.encoders import load_encoder
    from papertools.cli.distill.ablation import AblationConfig, run_ablation
    from papertools.cli.distill.data import read_corpus, read_queries
    from papertools.cli.distill.evaluate import PAPER, STEP_TITLES, format_table
    from papertools.cli.distill.student import cut_student, parameter_counts

    torch.manual_seed(0)
    data = ROOT / "examples" / "distill" / ("small" if args.quick else "")
    epochs = args.epochs or 1
    goal_epochs = args.goal_epochs or (2 if args.quick else 8)
    held_out = bool(args.dev or args.fresh)  # a split of the training queries: goal run only
    if args.dev and args.fresh:
        sys.exit("distill_bench: --dev and --fresh are two different splits; give one")
    if args.work and not held_out:
        sys.exit("distill_bench: --work resumes the goal run of --dev or --fresh only")
    if args.fresh and output == RESULTS:
        output = RESULTS.with_name("distill_fresh.json")
    if args.fresh and output.exists():  # the fresh split is scored once
        sys.exit(f"distill_bench: {output} exists: the fresh split has been scored; it is "
                 "scored once (remove the file only to discard that figure)")
    busy = common.busy_cpus()
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="distill-bench-"))
    cache = Path(tempfile.gettempdir()) / "papertools-bench" / "distill-cache"
    files = {k: str(data / f"{k}.jsonl.gz") for k in ("corpus", "train", "test")}
    corpus = read_corpus([files["corpus"]])
    train_q = read_queries([files["train"]], corpus)
    test_q = read_queries([files["test"]], corpus)
    if args.dev:  # tuning: hold out training queries, never look at the test queries
        import numpy as np

        order = np.random.default_rng(1).permutation(len(train_q))
        dev_set = set(order[:args.dev].tolist())
        test_q = [q for i, q in enumerate(train_q) if i in dev_set]
        train_q = [q for i, q in enumerate(train_q) if i not in dev_set]
        if output == RESULTS:
            output = RESULTS.with_name("distill_dev.json")
    if args.fresh:  # never scored: outside the development sample, a seeded sample of the rest
        import numpy as np

        dev_sample = set(np.random.default_rng(1).permutation(len(train_q))[:DEV_SAMPLE].tolist())
        rest = [i for i in range(len(train_q)) if i not in dev_sample]
        fresh = {rest[j] for j in np.random.default_rng(FRESH_SEED).permutation(len(rest))[
            :args.fresh].tolist()}
        test_q = [q for i, q in enumerate(train_q) if i in fresh]
        train_q = [q for i, q in enumerate(train_q) if i not in fresh]
    log(f"{mode}: {len(corpus)} documents, {len(train_q)} train / {len(test_q)} test queries, "
        f"{epochs} epochs; {busy if busy is None else round(busy, 2)} CPUs busy elsewhere")

    teacher = load_encoder("minilm")
    vocab_texts = corpus.texts + [q.text for q in train_q]
    student = cut_student(teacher, layers=2, hidden=args.hidden,
                          intermediate=args.hidden * 8 // 3, max_positions=128,
                          vocab_texts=vocab_texts)
    student.save(work / "student0")
    counts, tcounts = parameter_counts(student), parameter_counts(teacher)
    ablation_counts = counts
    ratio = counts["total"] / tcounts["total"]
    if not args.reuse_ablation:  # reused rows say which student they trained
        log(f"ablation student {counts['total']:,} parameters = {ratio:.3f} of the teacher's "
            f"{tcounts['total']:,}")
    layer_map = [int(x) for x in args.goal_layer_map.split(",")] if args.goal_layer_map else None
    unl_all = unlabelled_queries(corpus, train_q, test_q, args.unlabelled)
    goal_vocab = vocab_texts
    if args.goal_vocab_unlabelled:  # every unlabelled text counts too (not a training sample)
        goal_vocab = vocab_texts + [q.text for q in unl_all]
    cut_student(teacher, layers=args.goal_layers, layer_map=layer_map, hidden=args.goal_hidden,
                intermediate=args.goal_intermediate, max_positions=args.goal_max_positions,
                vocab_texts=goal_vocab, min_count=args.goal_min_count, dropout=args.goal_dropout,
                basis_texts=basis_texts(corpus, train_q) if args.goal_basis == "activations"
                else None, embedding_size=args.goal_embedding_size,
                head_size=args.goal_head_size).save(work / "student_goal")
    counts = parameter_counts(load_encoder(str(work / "student_goal")))
    ratio = counts["total"] / tcounts["total"]
    log(f"goal student {counts['total']:,} parameters = {ratio:.3f} of the teacher's")

    config = AblationConfig(out_dir=str(work / "ablation"), per_query=1, epochs=epochs,
                            hard_negatives=2, batch_size=32, lr=1e-3, seed=0,
                            doc_max_length=args.doc_max_length, cache_dir=str(cache),
                            ks=(1, 5, 10, 100))

    def step_done(row):
        log(f"{row['id']}: MRR@10 {100 * row['mrr@10']:.1f}, retention "
            f"{100 * row['retention']:.1f}%, {row['train_seconds']:.0f} s")

    if held_out:  # tuning and fresh runs train only the goal configuration
        rows = []
        (work / "ablation").mkdir(parents=True, exist_ok=True)
    elif args.reuse_ablation:  # an earlier run's ablation folder, or its results file
        import json

        reuse = Path(args.reuse_ablation)
        (work / "ablation").mkdir(parents=True)
        if reuse.is_dir():
            rows = json.loads((reuse / "ablation.json").read_text())
            shutil.copy(reuse / "ablation.png", work / "ablation")
        elif (found := json.loads(reuse.read_text())).get("benchmark") == "distill_ablation":
            rows = converged_rows(found)  # the teacher's row and the plot follow below
            epochs = found["epochs"]
            ablation_counts = {"total": found["student_parameters"],
                               "student": found["student"]}
        else:
            rows = [r for r in found["ablation"]
                    if r["id"] == "teacher" or r["id"] in STEP_TITLES]
            shutil.copy(reuse.with_name(reuse.stem + "_ablation.png"),
                        work / "ablation" / "ablation.png")
        log(f"ablation rows reused from {args.reuse_ablation}")
    else:
        rows = run_ablation(config, "minilm", str(work / "student0"), [files["corpus"]],
                            [files["train"]], [files["test"]], log=step_done)
    # the goal run: the full method (inherited documents, score distillation, query embedding
    # matching, generated queries) plus unlabelled query-like text for query embedding matching,
    # trained for longer; the ablation's rows all share one budget
    from dataclasses import replace

    from papertools.cli.distill.ablation import Evaluator, generated_queries, step_config
    from papertools.cli.distill.data import check_disjoint
    from papertools.cli.distill.teacher import load_teacher
    from papertools.cli.distill.train import train

    dteacher = load_teacher("minilm", "dual-encoder")
    ev = Evaluator("minilm", corpus, test_q, config.ks, "cpu", config.query_max_length,
                   config.doc_max_length, config.cache_dir, teacher_obj=dteacher)
    if held_out:
        rows.append(ev.teacher_row())
    elif rows and rows[0]["id"] != "teacher":  # converged rows: the teacher's scored here
        rows.insert(0, ev.teacher_row())
        from papertools.cli.distill.evaluate import plot

        plot(rows, str(work / "ablation" / "ablation.png"))
    else:
        ev.teacher_row()
    goal_cfg = replace(step_config("+querygen", config, str(work / "goal")), epochs=goal_epochs,
                       lr=args.goal_lr, query_emb_weight=args.goal_query_emb_weight,
                       distance=args.goal_distance, hard_negatives=args.goal_hard_negatives,
                       teacher_temperature=args.goal_teacher_temperature,
                       corpus_candidates=args.goal_corpus_candidates,
                       group_by_length=args.goal_group_by_length,
                       resume=bool(args.work), save_every=500 if args.work else 0)
    gen = generated_queries(train_q, test_q, config.per_query, config.seed)
    unl = sample(unl_all, args.unlabelled_max or (5000 if args.quick else 0))
    check_disjoint(gen + unl, test_q, "generated")
    log(f"goal run: {len(train_q)} training + {len(gen)} perturbed + {len(unl)} unlabelled "
        f"queries ({args.unlabelled}), {goal_epochs} epochs")
    summary = train(goal_cfg, dteacher, load_encoder(str(work / "student_goal")), corpus,
                    train_q + gen + unl, teacher_doc_vectors=ev.teacher_docs)
    goal_id = f"full x{goal_epochs}" if args.unlabelled == "none" else f"+unlab x{goal_epochs}"
    goal_row = ev.student_row(goal_id, str(work / "goal"))
    goal_row["train_seconds"] = summary["seconds"]
    goal_row["train_cosine"] = trained_cosine(dteacher.encoder, load_encoder(str(work / "goal")),
                                              [q.text for q in unl[::max(1, len(unl) // 1000)]])
    goal_row["teacher_seconds"] = summary["teacher_seconds"]
    goal_row["generated_queries"] = summary["generated_queries"]
    goal_row["unlabelled_queries"] = len(unl)
    goal_row["config"] = {k: summary["config"][k] for k in (
        "epochs", "lr", "batch_size", "temperature", "teacher_temperature", "score_weight",
        "query_emb_weight",
        "distance", "hard_negatives", "corpus_candidates", "query_max_length",
        "group_by_length")}
    lo, hi = goal_row["retention_interval"]
    log(f"goal run ({goal_epochs} epochs): MRR@10 {100 * goal_row['mrr@10']:.1f}, retention "
        f"{100 * goal_row['retention']:.1f}% (95% interval {100 * lo:.1f}-{100 * hi:.1f}%), "
        f"{summary['seconds']:.0f} s; query cosine to the "
        f"teacher {goal_row.get('teacher_cosine', float('nan')):.3f} held out, "
        f"{goal_row['train_cosine']:.3f} on trained texts")
    rows.append(goal_row)
    best = max((r for r in rows if r.get("document_encoder") == "teacher"),
               key=lambda r: r["retention"])

    final = load_encoder(best["model"])
    texts = [q.text for q in test_q]
    t_rate, s_rate = throughput(teacher, texts), throughput(final, texts)
    # what --group-by-length saves a training step on the goal run's mixed-length texts
    from papertools.cli.distill.train import epoch_order

    step_texts = [q.text for q in (unl or train_q + gen)]  # --unlabelled none: the rest
    plain_s = step_seconds(final, step_texts, epoch_order(len(step_texts), 0, 0))
    grouped_s = step_seconds(final, step_texts, epoch_order(
        len(step_texts), 0, 0, [len(t) for t in step_texts], 32))
    if not held_out:
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
        "data": {"documents": len(corpus), "train_queries": len(train_q), "dev": args.dev,
                 "fresh": args.fresh, "fresh_seed": FRESH_SEED if args.fresh else None,
                 "test_queries": len(test_q), "source": str(data.relative_to(ROOT))},
        "teacher_parameters": tcounts, "student_parameters": counts,
        "ablation_student_parameters": ablation_counts,
        "parameter_ratio": ratio, "epochs": epochs, "goal_epochs": goal_epochs,
        "doc_max_length": args.doc_max_length, "ablation": rows,
        "ablation_reused": bool(args.reuse_ablation),
        "best_step": best["id"], "best_retention": best["retention"],
        "paper": PAPER, "step_titles": STEP_TITLES,
        "throughput": {"teacher_queries_per_s": t_rate, "student_queries_per_s": s_rate,
                       "ratio": s_rate / t_rate},
        "train_step": {"plain_seconds": plain_s, "grouped_seconds": grouped_s,
                       "group_by_length_speedup": plain_s / grouped_s}}

    def table(res, goals):
        print(f"distill benchmark ({mode}): {len(corpus)} documents, {len(test_q)} held-out "
              f"queries, {epochs} epoch(s) per ablation step"
              f"{' (rows reused)' if args.reuse_ablation else ''}, the last row the full "
              f"method with {goal_row['unlabelled_queries']:,} unlabelled texts "
              f"({args.unlabelled}) trained {goal_epochs} epochs")
        print(f"teacher {tcounts['total']:,} parameters ({tcounts['embedding']:,} embedding, "
              f"{tcounts['non_embedding']:,} non-embedding)")
        for what, c in (("ablation student", ablation_counts),
                        ("goal student", res["student_parameters"])):
            if "layers" not in c:  # converged rows reused: distill_ablation.py's student
                print(f"{what}: the {c['student']} shape, {c['total']:,} parameters "
                      "(distill_ablation.py)")
                continue
            print(f"{what} {c['total']:,} parameters ({c['layers']} layers, {c['hidden']} wide;"
                  f" {c['embedding']:,} embedding with {c['vocab_size']:,} tokens, "
                  f"{c['non_embedding']:,} non-embedding, {c['projection']:,} projection) = "
                  f"{c['total'] / tcounts['total']:.3f} of the teacher")
        print(format_table(rows, config.ks))
        th = res["throughput"]
        print(f"query encoding: student {th['student_queries_per_s']:.0f}/s, teacher "
              f"{th['teacher_queries_per_s']:.0f}/s: {th['ratio']:.2f}x")
        ts = res["train_step"]
        which = "unlabelled" if unl else "training"
        print(f"training step (batch 32 of the {which} texts): {ts['plain_seconds']:.3f} s, "
              f"grouped by length {ts['grouped_seconds']:.3f} s: "
              f"{ts['group_by_length_speedup']:.2f}x")
        for g in goals.values():
            print(f"  {g['status']:<4} {g['name']} = {g['value']:.3f} (target {g['target']}, "
                  f"{g['kind']})")

    failed = common.finish(res, goals, output, started, table)
    if args.save_student:  # the trained goal student, for `papertools distill eval` later
        shutil.rmtree(args.save_student, ignore_errors=True)
        shutil.copytree(work / "goal", args.save_student,
                        ignore=shutil.ignore_patterns("checkpoint*"))
        log(f"goal student saved to {args.save_student}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
