"""EmbedDistill training, read top to bottom.

1. The teacher embeds every document once (dual-encoder teacher; cached with ``cache_dir``) and
   every training and generated query once: its embeddings never change. Hard negatives are
   the teacher's top-ranked documents that are not positives (``hard_negatives`` per query),
   unless the records carry their own ``negatives``. A generated query has no labels: its
   candidates are the teacher's top 1 + ``hard_negatives`` documents, and it takes part only in
   the label-free losses (score distillation and query embedding matching).
2. Each epoch shuffles the queries (labelled and generated together) with a seed derived from
   (``seed``, epoch) and cuts batches of ``batch_size`` (with ``group_by_length``, of queries of
   similar length: a batch pads to its own longest query, so a step on short queries mixed with
   long texts costs less, 1.7x less on the distill benchmark's). A batch's candidate documents
   are the union of its queries' positives and hard negatives; with ``in_batch`` every query is
   scored against all of them, otherwise against its own only. With ``corpus_candidates``
   (inherited documents only) every query is scored against the whole corpus: the teacher's
   document embeddings are fixed, so the student's score distribution over all N documents costs
   one (B, H) x (H, N) product, and score distillation then matches the teacher's full ranking.
3. The student embeds the batch's queries, e^s_q = normalise(P pool(student(q))) with the
   projection P when the widths differ (the student :class:`Encoder`'s Dense module; it
   normalises exactly when the teacher does, so scores are on the teacher's scale). With a
   dual-encoder teacher P starts as the ridge-regression map from the student's pooled vectors
   of the training queries and documents to the teacher's embeddings (``fit_projection``). Its
   document embeddings are the teacher's, frozen (``inherit_docs``: the asymmetric student;
   the teacher's document tower gets no gradient and documents are not re-encoded), or its own
   (the symmetric student, documents through the same tower and P).
4. The loss is the weighted sum of ``label`` (direct training), ``score`` (score distillation,
   softmax cross-entropy with temperature, or margin-MSE), ``query_emb`` (L_emb^Q) and
   ``doc_emb`` (L_emb^D, symmetric students only) (losses.py). AdamW, linear warm-up then
   linear decay, gradient clipping at 1.
5. The run folder is core.training's (settings.json, log.jsonl, a lock, finished.json).
   Checkpoints (student, optimiser, schedule, random states, position) go to
   ``OUT/checkpoint`` atomically every ``save_every`` steps, at every epoch's end and on
   Ctrl-C; ``resume`` (with the same settings) continues and gives the same student as an
   uninterrupted run. The final student is saved to ``OUT`` as a sentence-encoder directory
   (``load_encoder(OUT)`` loads it, P included), with ``OUT/papertools.json`` saying how
   documents are to be encoded (``document_encoder``: the teacher for an inherited tower, else
   the student itself) and what it was trained with.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass

from papertools.core.errors import PapertoolsError
from papertools.core.jsonl import write_json
from papertools.core.seed import derive_seed
from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt, digest,
                                      epoch_done, step_done, warmup_schedule)

from . import losses
from .data import Corpus, Query


@dataclass
class TrainConfig:
    out_dir: str
    epochs: int = 3
    batch_size: int = 32  # queries per step
    lr: float = 5e-4  # peak learning rate (a small student from scratch-ish weights)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    temperature: float = 0.05  # tau: scores are cosines in [-1, 1], so 1/20 (sentence-transformers' scale)
    teacher_temperature: float | None = None  # tau_t for the teacher's distribution (default tau)
    label_weight: float = 0.0  # direct training: cross-entropy against the labels
    score_weight: float = 1.0  # score distillation
    score_loss: str = "softmax"  # or "margin-mse"
    query_emb_weight: float = 0.0  # L_emb^Q
    doc_emb_weight: float = 0.0  # L_emb^D (not with an inherited document tower)
    distance: str = "mse"  # of embedding matching: mse | l2 | cosine
    inherit_docs: bool = False  # the asymmetric student: the teacher's frozen document tower
    projection: str = "auto"  # auto: P when the widths differ; never: fail when they do
    fit_projection: bool = True  # start P as the least-squares map onto the teacher's embeddings
    hard_negatives: int = 4  # per query, mined from the teacher when records have none
    in_batch: bool = True  # score every query against the whole batch's candidates
    corpus_candidates: bool = False  # score every query against the whole corpus (inherited docs)
    query_max_length: int = 64  # tokens
    doc_max_length: int = 128  # tokens (teacher and symmetric student)
    group_by_length: bool = False  # batches of queries of similar length (less padding)
    seed: int = 0
    device: str = "cpu"
    save_every: int = 0  # steps between checkpoints (0: at epoch ends only)
    log_every: int = 10
    resume: bool = False
    cache_dir: str | None = None  # where teacher embeddings are cached between runs


# what --resume may change: where and how often, not what is trained
MUTABLE = ("device", "save_every", "log_every", "cache_dir")


def run_settings(config: TrainConfig, teacher, corpus: Corpus, queries: list[Query]) -> dict:
    """What the run is (settings.json): the configuration, the teacher, digests of the data."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("out_dir", "resume")}
    return dict(settings, teacher=_teacher_path(teacher), teacher_kind=teacher.kind,
                documents=len(corpus), corpus_sha256=digest(corpus.texts),
                queries=len(queries), queries_sha256=digest(
                    (q.text, q.positives, q.negatives, q.generated) for q in queries))


def _teacher_path(teacher):
    return getattr(getattr(teacher, "encoder", None), "path", None) or \
        getattr(getattr(teacher, "ce", None), "path", None)


def check_config(config: TrainConfig, teacher, student) -> None:
    """Clean errors for combinations the method does not allow."""
    if config.score_loss not in losses.SCORE_LOSSES:
        raise PapertoolsError(f"unknown score loss {config.score_loss!r}")
    if config.distance not in losses.DISTANCES:
        raise PapertoolsError(f"unknown distance {config.distance!r}")
    if not any((config.label_weight, config.score_weight, config.query_emb_weight,
                config.doc_emb_weight)):
        raise PapertoolsError("every loss weight is 0: nothing to train")
    if config.inherit_docs and config.doc_emb_weight:
        raise PapertoolsError("document embedding matching needs the student's own document "
                              "tower; an inherited tower is the teacher's (drop one of the two)")
    if config.inherit_docs and teacher.kind != "dual-encoder":
        raise PapertoolsError("only a dual-encoder teacher has a document tower to inherit")
    if config.corpus_candidates and not (config.inherit_docs and teacher.kind == "dual-encoder"):
        raise PapertoolsError("whole-corpus candidates need the inherited document tower of a "
                              "dual-encoder teacher (the corpus is embedded once)")
    needs_teacher_space = config.inherit_docs or config.query_emb_weight or config.doc_emb_weight
    if student.dim != teacher.dim and needs_teacher_space:
        if config.projection == "never":
            raise PapertoolsError(
                f"the student is {student.dim} wide and the teacher {teacher.dim}: matching "
                "embeddings or inheriting documents needs a projection (--projection auto)")
        if student.dense is not None and student.dense.out_features != teacher.dim:
            raise PapertoolsError(f"the student's projection gives {student.dim} dimensions, "
                                  f"the teacher's embeddings have {teacher.dim}")
    if config.projection not in ("auto", "never"):
        raise PapertoolsError(f"unknown projection mode {config.projection!r}")


def add_projection(student, teacher, seed: int) -> None:
    """Give a student narrower (or wider) than the teacher a projection P to the teacher's width."""
    import torch

    from papertools.core.models.encoders import Dense

    if student.dim == teacher.dim:
        return
    width = int(student.model.config.hidden_size)
    torch.manual_seed(seed)
    linear = torch.nn.Linear(width, teacher.dim).to(student.device)
    student.dense = Dense(linear)


# ---------------------------------------------------------------------------------------------
# Candidates


def mine_hard_negatives(query_vectors, doc_vectors, exclude: list[list[int]], k: int,
                        block: int = 1024) -> list[list[int]]:
    """For each query, the ``k`` best-scored documents (teacher) not in its ``exclude`` list;
    ties broken by document order (a stable sort), so the choice is deterministic."""
    import numpy as np

    out = []
    for start in range(0, len(query_vectors), block):
        scores = query_vectors[start:start + block] @ doc_vectors.T  # (b, N)
        top = np.argsort(-scores, axis=1, kind="stable")[:, : k + 64]
        for row, ranked in enumerate(top):
            skip = set(exclude[start + row])
            out.append([int(d) for d in ranked if d not in skip][:k])
    return out


def batch_candidates(queries: list[Query], own: list[list[int]], in_batch: bool):
    """(candidate corpus rows C, allowed (B, C) bool, positive (B, C) bool) for a batch."""
    import torch

    cands, where = [], {}
    for rows in own:
        for d in rows:
            if d not in where:
                where[d] = len(cands)
                cands.append(d)
    allowed = torch.zeros(len(queries), len(cands), dtype=torch.bool)
    positive = torch.zeros_like(allowed)
    for i, (q, rows) in enumerate(zip(queries, own)):
        if in_batch:
            allowed[i] = True
        else:
            allowed[i, [where[d] for d in rows]] = True
        for d in q.positives:
            positive[i, where[d]] = True
    return cands, allowed, positive


def epoch_order(n: int, seed: int, epoch: int, lengths=None, batch_size: int = 1,
                group: int = 50) -> list[int]:
    """The epoch's order of the n queries: a permutation seeded by (``seed``, ``epoch``).

    With ``lengths`` (one per query) batches are grouped by length, as Hugging Face's
    ``group_by_length`` does: the permutation is cut into spans of ``group`` batches, each
    span sorted by length (longest first) and cut into batches of ``batch_size``, and the
    full batches are shuffled (a short last batch stays last). Each batch then pads to about
    its own length, not to the longest of a random draw.
    """
    import numpy as np

    rng = np.random.default_rng(derive_seed(seed, epoch))
    order = rng.permutation(n)
    if lengths is None or n == 0:
        return order.tolist()
    lengths = np.asarray(lengths)
    span = group * batch_size
    flat = np.concatenate([c[np.argsort(-lengths[c], kind="stable")]
                           for c in (order[s:s + span] for s in range(0, n, span))])
    batches = [flat[s:s + batch_size] for s in range(0, n, batch_size)]
    full = len(batches) - (1 if n % batch_size else 0)
    batches = [batches[i] for i in rng.permutation(full)] + batches[full:]
    return np.concatenate(batches).tolist()


def fit_projection(student, query_texts, query_targets, doc_texts, doc_targets, config,
                   ridge: float = 1.0) -> None:
    """Set P (weight and bias) to the ridge-regression map from the student's pooled vectors of
    the training queries and documents to the teacher's embeddings of them: closed-form
    embedding matching for P alone, a far better start than a random or principal-basis P when
    the student's layers were cut (measured: held-out query cosine 0.12 -> 0.6 before training)."""
    import numpy as np
    import torch

    from .teacher import with_length

    dense, normalize = student.dense, student.normalize
    student.dense, student.normalize = None, False
    try:
        old = with_length(student, config.query_max_length)
        xq = student.encode(list(query_texts))
        with_length(student, config.doc_max_length)
        xd = student.encode(list(doc_texts))
        student.max_length = old
    finally:
        student.dense, student.normalize = dense, normalize
    X = np.vstack([xq, xd]).astype(np.float64)
    X = np.hstack([X, np.ones((len(X), 1))])  # (n, h + 1): the bias column
    Y = np.vstack([query_targets, doc_targets]).astype(np.float64)  # (n, H)
    reg = ridge * np.eye(X.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    W = np.linalg.solve(X.T @ X + reg, X.T @ Y)  # (h + 1, H)
    with torch.no_grad():
        dense.linear.weight.copy_(torch.from_numpy(W[:-1].T.copy()).to(dense.linear.weight))
        dense.linear.bias.copy_(torch.from_numpy(W[-1].copy()).to(dense.linear.bias))


def _teacher_queries(teacher, queries: list[Query], config: TrainConfig):
    """The teacher's (n, H) query embeddings, the labelled and the generated queries encoded
    (and cached) as two lists, so a large unlabelled set is encoded once for every run that
    uses it, whatever labelled queries go with it."""
    import numpy as np

    parts = [[i for i, q in enumerate(queries) if q.generated == flag] for flag in (False, True)]
    out = None
    for rows in parts:
        if not rows:
            continue
        vectors = teacher.encode_queries([queries[i].text for i in rows],
                                         max_length=config.query_max_length,
                                         cache_dir=config.cache_dir)
        if out is None:
            out = np.zeros((len(queries), vectors.shape[1]), dtype=vectors.dtype)
        out[rows] = vectors
    return out


def _params(student):
    params = list(student.model.parameters())
    if student.dense is not None:
        params += list(student.dense.linear.parameters())
    return params


# ---------------------------------------------------------------------------------------------
# Training


def train(config: TrainConfig, teacher, student, corpus: Corpus, queries: list[Query],
          log=lambda row: None, progress=False, teacher_doc_vectors=None,
          on_epoch=None) -> dict:
    """Distil ``teacher`` into ``student`` on ``queries`` over ``corpus``; save to out_dir.

    ``log(record)`` receives the log records (they also go to OUT/log.jsonl); ``progress``
    shows a step bar on standard error. ``teacher_doc_vectors`` (N, H) may be given when the
    caller already has them (the ablation trains several students on one teacher).
    ``on_epoch(epoch, student)`` is called after each epoch's checkpoint (the student in eval
    mode; a learning curve on held-out queries). Returns the summary written to
    papertools.json.
    """
    if not queries:
        raise PapertoolsError("no training queries")
    if not any(q.positives for q in queries) and (config.label_weight or
                                                  config.score_loss == "margin-mse"):
        raise PapertoolsError("the label loss and margin-MSE need labelled queries")
    with RunDir(config.out_dir, run_settings(config, teacher, corpus, queries),
                resume=config.resume, mutable=MUTABLE, echo=log) as run:
        if run.finished:
            return run.finished
        return _train(config, teacher, student, corpus, queries, run, progress,
                      teacher_doc_vectors, on_epoch)


def _train(config: TrainConfig, teacher, student, corpus: Corpus, queries: list[Query],
           run: RunDir, progress, teacher_doc_vectors, on_epoch=None) -> dict:
    import numpy as np
    import torch

    from papertools.core.models.encoders import load_encoder

    from .teacher import with_length

    out = run.path
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    # the student scores as the teacher does: normalised (cosine) or not (inner product)
    student.normalize = teacher.normalize
    if config.projection == "auto" and student.dense is None and (
            config.inherit_docs or config.query_emb_weight or config.doc_emb_weight):
        add_projection(student, teacher, config.seed)
    check_config(config, teacher, student)

    # 1. teacher embeddings, once
    started = time.perf_counter()
    texts = [q.text for q in queries]
    D_t = Q_t = None
    if teacher.kind == "dual-encoder":
        D_t = teacher_doc_vectors if teacher_doc_vectors is not None else teacher.encode_docs(
            corpus.texts, max_length=config.doc_max_length, cache_dir=config.cache_dir)
        Q_t = _teacher_queries(teacher, queries, config)
        mined = mine_hard_negatives(Q_t, D_t, [q.positives for q in queries],
                                    config.hard_negatives + 1)
        D_t_torch = torch.from_numpy(np.ascontiguousarray(D_t)).to(device)
        Q_t_torch = torch.from_numpy(np.ascontiguousarray(Q_t)).to(device)
    else:  # a cross-encoder teacher: negatives drawn at random (seeded), scores on the fly
        rng = np.random.default_rng(derive_seed(config.seed, 7))
        mined = [rng.choice(len(corpus), size=min(len(corpus), config.hard_negatives + 1),
                            replace=False).tolist() for _ in queries]
    own = []  # each query's candidate rows: positives then hard negatives
    for q, m in zip(queries, mined):
        if q.generated:  # no labels: the teacher's own top documents
            rows = m[: config.hard_negatives + 1]
        else:
            negs = q.negatives or [d for d in m if d not in q.positives][: config.hard_negatives]
            rows = list(dict.fromkeys(q.positives + negs))
        own.append(rows)
    teacher_seconds = time.perf_counter() - started

    # 2. the student, its optimiser and schedule (or the checkpoint's)
    saved = run.load_checkpoint() if config.resume else None
    if saved is not None:
        student = load_encoder(str(saved.path / "student"), device=device)
        student.normalize = teacher.normalize
    if getattr(student.model, "pooler", None) is not None:
        student.model.pooler = None  # BERT's pooler: unused by a pooled sentence encoder
    student.model.to(device)
    needs_teacher_space = config.inherit_docs or config.query_emb_weight or config.doc_emb_weight
    if (saved is None and config.fit_projection and student.dense is not None
            and teacher.kind == "dual-encoder" and needs_teacher_space):
        fit_projection(student, texts, Q_t, corpus.texts, D_t, config)
    for p in _params(student):
        p.requires_grad_(True)
    steps_per_epoch = math.ceil(len(queries) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    params = _params(student)
    optimizer = adamw(params, config.lr, config.weight_decay)
    # linear warm-up, then linear decay to 0
    scheduler = warmup_schedule(optimizer, total_steps, warmup_ratio=config.warmup_ratio)
    state = {"step": 0, "epoch": 0, "batch": 0, "queries": 0, "sums": {}, "count": 0}
    if saved is not None:
        saved.restore(optimizer=optimizer, scheduler=scheduler)
        state = saved.state

    def checkpoint():
        run.save_checkpoint(state=json.loads(json.dumps(state)), optimizer=optimizer,
                            scheduler=scheduler, write=lambda folder: student.save(
                                folder / "student"))

    weights = {"label": config.label_weight, "score": config.score_weight,
               "query_emb": config.query_emb_weight, "doc_emb": config.doc_emb_weight}
    student.model.train()
    train_started, queries_at_start = time.perf_counter(), state["queries"]
    bar = Progress(total_steps, state["step"], "distill train") if progress else None

    def emit_log():
        run.log(_log_record(state, steps_per_epoch, scheduler, train_started, queries_at_start))
        state["sums"], state["count"] = {}, 0

    # characters, a proxy for tokens that needs no tokenizer and never changes between runs
    lengths = [len(q.text) for q in queries] if config.group_by_length else None
    with checkpoint_on_interrupt(checkpoint, bar):  # Ctrl-C keeps what was learned; --resume
        while state["epoch"] < config.epochs:
            order = epoch_order(len(queries), config.seed, state["epoch"], lengths,
                                config.batch_size)
            while state["batch"] < steps_per_epoch:
                idx = order[state["batch"] * config.batch_size:
                            (state["batch"] + 1) * config.batch_size]
                batch = [queries[i] for i in idx]
                if config.corpus_candidates:  # every document: the teacher's full ranking
                    cands = list(range(len(corpus)))
                    allowed = torch.ones(len(batch), len(cands), dtype=torch.bool)
                    positive = torch.zeros_like(allowed)
                    for i, q in enumerate(batch):
                        positive[i, q.positives] = True
                else:
                    cands, allowed, positive = batch_candidates(batch, [own[i] for i in idx],
                                                                config.in_batch)
                allowed, positive = allowed.to(device), positive.to(device)
                old = with_length(student, config.query_max_length)
                q_s = student.embed([q.text for q in batch])  # (B, H)
                student.max_length = old
                if config.inherit_docs:
                    d_s = D_t_torch[cands]  # (C, H), frozen: no gradient reaches the teacher
                else:
                    old = with_length(student, config.doc_max_length)
                    d_s = student.embed([corpus.texts[d] for d in cands])  # (C, H)
                    student.max_length = old
                s_s = q_s @ d_s.T  # (B, C)
                parts = {}
                if teacher.kind == "dual-encoder":
                    q_t = Q_t_torch[idx]  # (B, H)
                    d_t = D_t_torch[cands]  # (C, H)
                    s_t = q_t @ d_t.T  # (B, C)
                else:
                    s_t, q_t, d_t = _ce_batch(teacher, batch, cands, corpus, config)
                    s_t, q_t, d_t = s_t.to(device), q_t.to(device), d_t.to(device)
                if weights["label"]:
                    parts["label"] = losses.label_loss(s_s, positive, allowed, config.temperature)
                if weights["score"]:
                    if config.score_loss == "softmax":
                        parts["score"] = losses.score_distillation(
                            s_s, s_t, allowed, config.temperature, config.teacher_temperature)
                    else:
                        parts["score"] = losses.margin_mse(s_s, s_t, positive, allowed)
                if weights["query_emb"]:
                    parts["query_emb"] = losses.embedding_matching(q_s, q_t, config.distance)
                if weights["doc_emb"]:
                    parts["doc_emb"] = losses.embedding_matching(d_s, d_t, config.distance)
                loss = sum(weights[k] * v for k, v in parts.items())
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["batch"] += 1
                state["step"] += 1
                state["queries"] += len(batch)
                state["count"] += 1
                for k, v in parts.items():
                    state["sums"][k] = state["sums"].get(k, 0.0) + float(v.detach())
                state["sums"]["loss"] = state["sums"].get("loss", 0.0) + float(loss.detach())
                if bar is not None:
                    bar.update(loss=f"{state['sums']['loss'] / max(1, state['count']):.4f}")
                step_done(state, total_steps, config.log_every, config.save_every, emit_log,
                          checkpoint)
            epoch_done(state, checkpoint)
            if on_epoch is not None:
                student.model.eval()
                on_epoch(state["epoch"], student)
                student.model.train()

    student.model.eval()
    from .student import parameter_counts

    summary = {"finished": True, "steps": state["step"], "epochs": config.epochs,
               "queries": sum(1 for q in queries if not q.generated),
               "generated_queries": sum(1 for q in queries if q.generated),
               "documents": len(corpus), "teacher": _teacher_path(teacher), "teacher_kind": teacher.kind,
               "document_encoder": "teacher" if config.inherit_docs else "student",
               "teacher_doc_encodings": teacher.doc_encodings,
               "teacher_seconds": round(teacher_seconds, 3),
               "seconds": round(time.perf_counter() - train_started, 3),
               "parameters": parameter_counts(student), "config": asdict(config)}
    student.save(out)
    write_json(out / "papertools.json", summary)
    run.finish(summary)
    return summary


def _ce_batch(teacher, batch: list[Query], cands: list[int], corpus: Corpus, config):
    """Cross-encoder teacher on every (query, candidate) pair of the batch: scores (B, C), and
    dual-pooled embeddings: each query's from its pair with the teacher's best candidate, each
    candidate's from its pair with the query that scores it highest."""
    qs = [q.text for q in batch for _ in cands]
    ds = [corpus.texts[d] for _ in batch for d in cands]
    scores, eq, ed = teacher.pairs(qs, ds, max_length=config.doc_max_length)
    B, C = len(batch), len(cands)
    scores, eq, ed = scores.view(B, C), eq.view(B, C, -1), ed.view(B, C, -1)
    best_doc = scores.argmax(dim=1)  # (B,)
    best_query = scores.argmax(dim=0)  # (C,)
    import torch

    q_t = eq[torch.arange(B), best_doc]
    d_t = ed[best_query, torch.arange(C)]
    return scores, q_t, d_t


def _log_record(state, steps_per_epoch, scheduler, started, queries_at_start) -> dict:
    n = max(1, state["count"])
    row = {"step": state["step"], "epoch": round(state["step"] / steps_per_epoch, 4)}
    row.update({k: round(v / n, 5) for k, v in sorted(state["sums"].items())})
    row["lr"] = scheduler.get_last_lr()[0]
    row["queries_per_s"] = round((state["queries"] - queries_at_start)
                                 / max(1e-9, time.perf_counter() - started), 1)
    return row
