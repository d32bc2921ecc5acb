"""The paper's ablation, each step added in turn, and the evaluator both ``eval`` and it use.

Steps (cumulative, as the paper's table):

    direct       label cross-entropy only; the student embeds documents itself (symmetric)
    +score       score distillation replaces the labels (L = L_score)
    +inherit     the teacher's frozen document tower (asymmetric student)
    +query_emb   + query embedding matching (L = L_score + alpha L_emb^Q)
    +querygen    + generated queries (perturbations of the training queries, or --generated)

Every step trains a fresh copy of the same initial student with the same seed, data order and
schedule; the teacher's embeddings are computed once for all of them.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from papertools.core.errors import PapertoolsError

from .evaluate import (mean_cosine, metrics, paper_retention, reciprocal_ranks,
                       retention_interval, search, split_retention, vocabulary_split)


class Evaluator:
    """Scores the teacher and students on the same held-out queries and corpus."""

    def __init__(self, teacher: str, corpus, queries, ks=(1, 5, 10, 100), device="cpu",
                 query_max_length: int = 64, doc_max_length: int = 128,
                 cache_dir: str | None = None, teacher_obj=None):
        from .teacher import load_teacher

        self.corpus, self.queries, self.ks = corpus, queries, tuple(ks)
        self.device = device
        self.qlen, self.dlen, self.cache_dir = query_max_length, doc_max_length, cache_dir
        self.teacher = teacher_obj or load_teacher(teacher, "dual-encoder", device)
        self.teacher_name = teacher
        self.positives = [q.positives for q in queries]
        self._doc_vectors = None
        self.teacher_metrics = None
        self._teacher_queries = None

    @property
    def teacher_docs(self):
        if self._doc_vectors is None:
            self._doc_vectors = self.teacher.encode_docs(self.corpus.texts, max_length=self.dlen,
                                                         cache_dir=self.cache_dir)
        return self._doc_vectors

    def _row(self, name: str, role: str, query_vectors, doc_vectors, parameters: dict) -> dict:
        ranked = search(query_vectors, doc_vectors, max(max(self.ks), 10))
        m = metrics(ranked, self.positives, self.ks)
        self._last_rr = reciprocal_ranks(ranked, self.positives)
        row = {"id": name, "role": role, **{k: round(v, 6) for k, v in m.items()},
               "queries": len(self.queries), "documents": len(self.corpus),
               "parameters": parameters}
        return row

    def teacher_row(self) -> dict:
        from .student import parameter_counts
        from .teacher import cached_encode

        q = cached_encode(self.teacher.encoder, [x.text for x in self.queries],
                          max_length=self.qlen, cache_dir=self.cache_dir)
        self._teacher_queries = q
        row = self._row("teacher", "teacher", q, self.teacher_docs,
                        parameter_counts(self.teacher.encoder))
        row["model"] = str(self.teacher.encoder.path)
        self.teacher_metrics = row
        self._teacher_rr = self._last_rr
        return row

    def student_row(self, name: str, path: str) -> dict:
        from papertools.core.models.encoders import load_encoder

        from .evaluate import document_encoder
        from .student import parameter_counts
        from .teacher import cached_encode

        if self.teacher_metrics is None:
            self.teacher_row()
        encoder = load_encoder(path, device=self.device)
        if encoder.dim != self.teacher.dim and document_encoder(path) == "teacher":
            raise PapertoolsError(f"student {path}: {encoder.dim} wide, the teacher's documents "
                                  f"{self.teacher.dim}")
        q = cached_encode(encoder, [x.text for x in self.queries], max_length=self.qlen)
        if document_encoder(path) == "teacher":
            docs = self.teacher_docs
        else:
            docs = cached_encode(encoder, self.corpus.texts, max_length=self.dlen)
        row = self._row(name, "student", q, docs, parameter_counts(encoder))
        row["model"] = str(path)
        row["document_encoder"] = document_encoder(path)
        tq = self._teacher_queries
        if tq is not None and q.shape == tq.shape:  # how close the query embeddings came
            row["teacher_cosine"] = mean_cosine(q, tq)
        t = self.teacher_metrics
        row["retention"] = round(row["mrr@10"] / t["mrr@10"], 6) if t["mrr@10"] else 0.0
        row["retention_interval"] = retention_interval(self._last_rr, self._teacher_rr)
        split = vocabulary_split(encoder.tokenizer, self.teacher.encoder.tokenizer,
                                 [x.text for x in self.queries], self.qlen)
        row.update(split_retention(split, self._last_rr, self._teacher_rr))
        for k in self.ks:
            key = f"recall@{k}"
            row[f"retention_{key}"] = round(row[key] / t[key], 6) if t[key] else 0.0
        paper = paper_retention(name)
        if paper:
            row["paper_retention"] = paper
        return row


@dataclass
class AblationConfig:
    out_dir: str
    steps: list = field(default_factory=lambda: ["direct", "+score", "+inherit", "+query_emb",
                                                 "+querygen"])
    per_query: int = 2
    temperature: float = 0.05
    hard_negatives: int = 4
    query_emb_weight: float = 1.0
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    query_max_length: int = 64
    doc_max_length: int = 128
    seed: int = 0
    cache_dir: str | None = None
    ks: tuple = (1, 5, 10, 100)


def step_config(step: str, config: AblationConfig, out_dir: str):
    """The TrainConfig of one ablation step (each includes the steps before it)."""
    from .evaluate import STEPS
    from .train import TrainConfig

    upto = STEPS.index(step)
    return TrainConfig(
        out_dir=out_dir, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
        temperature=config.temperature, hard_negatives=config.hard_negatives,
        label_weight=1.0 if upto == 0 else 0.0, score_weight=0.0 if upto == 0 else 1.0,
        inherit_docs=upto >= 2, query_emb_weight=config.query_emb_weight if upto >= 3 else 0.0,
        query_max_length=config.query_max_length, doc_max_length=config.doc_max_length,
        seed=config.seed, cache_dir=config.cache_dir, log_every=10 ** 9)


def generated_queries(train, heldout, per_query: int, seed: int):
    """Perturbations of the training queries as unlabelled Query records (none equal to a
    training or held-out query)."""
    from papertools.core.seed import numpy_rng

    from .data import Query, normalise
    from .querygen import perturb

    vocabulary = sorted({w for q in train for w in q.text.split()})
    seen = {normalise(q.text) for q in train} | {normalise(q.text) for q in heldout}
    out = []
    for i, q in enumerate(train):
        rng = numpy_rng(seed, i)
        for k in range(per_query):
            text = perturb(q.text, rng, vocabulary)
            if normalise(text) in seen:
                continue
            seen.add(normalise(text))
            out.append(Query(f"{q.id}:g{k}", text, [], [], True, q.id))
    return out


def run_ablation(config: AblationConfig, teacher_name: str, student_dir: str, corpus_files,
                 train_files, test_files, generated_files=(), device="cpu", quiet=False,
                 plot_path: str | None = None, log=None) -> list[dict]:
    from papertools.core.models.encoders import load_encoder
    from papertools.core.jsonl import write_json

    from .data import check_disjoint, read_corpus, read_queries
    from .evaluate import plot
    from .teacher import load_teacher
    from .train import train

    corpus = read_corpus(corpus_files)
    train_q = read_queries(train_files, corpus)
    test_q = read_queries(test_files, corpus)
    check_disjoint(train_q, test_q, "training")
    gen = read_queries(generated_files, corpus, labelled=False) if generated_files else \
        generated_queries(train_q, test_q, config.per_query, config.seed)
    check_disjoint(gen, test_q, "generated")
    teacher = load_teacher(teacher_name, "dual-encoder", device)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = Evaluator(teacher_name, corpus, test_q, config.ks, device, config.query_max_length,
                   config.doc_max_length, config.cache_dir, teacher_obj=teacher)
    docs = ev.teacher_docs  # once, for every step
    rows = [ev.teacher_row()]
    for step in config.steps:
        folder = out / step.lstrip("+")
        shutil.rmtree(folder, ignore_errors=True)
        tc = step_config(step, config, str(folder))
        tc.device = str(device)
        queries = train_q + (gen if step == "+querygen" else [])
        student = load_encoder(student_dir, device=device)
        summary = train(tc, teacher, student, corpus, queries, teacher_doc_vectors=docs)
        row = ev.student_row(step, str(folder))
        row["train_seconds"] = summary["seconds"]
        row["generated_queries"] = summary["generated_queries"]
        rows.append(row)
        if not quiet:
            print(f"papertools distill: ablation {step}: MRR@10 {100 * row['mrr@10']:.1f} "
                  f"({100 * row['retention']:.1f}% of the teacher's "
                  f"{100 * rows[0]['mrr@10']:.1f}), {summary['seconds']:.0f} s",
                  file=sys.stderr, flush=True)
        if log:
            log(row)
    write_json(out / "ablation.json", rows)
    plot(rows, plot_path or str(out / "ablation.png"))
    return rows
