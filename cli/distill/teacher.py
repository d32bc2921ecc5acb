"""Teachers: a dual encoder (a sentence-encoder directory) or a cross-encoder with dual pooling.

A **dual-encoder teacher** embeds queries and documents with one encoder:
s^t(q, d) = <e^t_q, e^t_d> (cosine when the encoder normalises, as MiniLM does). Its embeddings
never change during distillation, so they are computed once per run (and cached on disk with
``cache_dir``, keyed by the encoder, its settings and the texts).

A **cross-encoder teacher** reads the pair jointly. Its score is the classifier's logit
(``ce_score="logit"``) or the dual-pooling score (``"dual"``): the last hidden states of the
pair's query tokens (token type 0, [CLS] and the first [SEP] included) and of its document
tokens (type 1) are mean-pooled separately into e_q(q, d) and e_d(q, d), and s = <e_q, e_d>.
Dual pooling is what gives a cross-encoder the query and document "embeddings" a dual-encoder
student can match; the paper states the scorer exists, the exact pooling here is our choice.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from papertools.core.errors import PapertoolsError

KINDS = ("auto", "dual-encoder", "cross-encoder")


def teacher_kind(name: str) -> str:
    """``cross-encoder`` for a sequence-classification directory, else ``dual-encoder``."""
    from papertools.core.encoders import resolve_encoder_path

    path = Path(resolve_encoder_path(name))
    config = path / "config.json"
    if config.exists() and not (path / "modules.json").exists():
        archs = json.loads(config.read_text()).get("architectures") or []
        if any("SequenceClassification" in a for a in archs):
            return "cross-encoder"
    return "dual-encoder"


def with_length(encoder, max_length: int | None):
    """Set an encoder's token limit (never above its model's) and return the old one."""
    old = encoder.max_length
    if max_length:
        limit = getattr(encoder.model.config, "max_position_embeddings", None) or 512
        encoder.max_length = min(max_length, limit)
    return old


def cached_encode(encoder, texts: Sequence[str], *, max_length: int | None = None,
                  batch_size: int = 64, cache_dir: str | None = None, progress=None):
    """float32 (n, dim) embeddings of ``texts``; read from / written to ``cache_dir`` if given."""
    import numpy as np

    old = with_length(encoder, max_length)
    try:
        key = None
        if cache_dir:
            h = hashlib.sha256()
            h.update(json.dumps([str(encoder.path), encoder.pooling, encoder.normalize,
                                 encoder.max_length, encoder.dim]).encode())
            for t in texts:
                h.update(t.encode("utf-8") + b"\0")
            key = Path(cache_dir) / f"emb-{h.hexdigest()[:24]}.npy"
            if key.exists():
                return np.load(key)
        vectors = encoder.encode(list(texts), batch_size=batch_size, progress=progress)
        if key is not None:
            key.parent.mkdir(parents=True, exist_ok=True)
            tmp = key.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(key)
        return vectors
    finally:
        encoder.max_length = old


class DualEncoderTeacher:
    kind = "dual-encoder"

    def __init__(self, encoder):
        self.encoder = encoder
        self.encoder.model.requires_grad_(False).eval()
        self.doc_encodings = 0  # documents encoded so far (the test checks: once)

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def normalize(self) -> bool:
        return self.encoder.normalize

    def encode_docs(self, texts, **kw):
        self.doc_encodings += len(texts)
        return cached_encode(self.encoder, texts, **kw)

    def encode_queries(self, texts, **kw):
        return cached_encode(self.encoder, texts, **kw)


class CrossEncoderTeacher:
    kind = "cross-encoder"

    def __init__(self, cross_encoder, score: str = "logit"):
        if score not in ("logit", "dual"):
            raise PapertoolsError(f"unknown cross-encoder score {score!r} (logit or dual)")
        self.ce, self.score_kind = cross_encoder, score
        self.ce.model.requires_grad_(False).eval()
        self.doc_encodings = 0

    @property
    def dim(self) -> int:
        return int(self.ce.model.config.hidden_size)

    @property
    def normalize(self) -> bool:
        return False

    def pairs(self, queries: Sequence[str], docs: Sequence[str], max_length: int | None = None,
              batch_size: int = 64):
        """(scores (n,), e_q (n, H), e_d (n, H)) for the pairs, as float32 tensors, no grad."""
        import torch

        from papertools.core.encoders import pool

        scores, eq, ed = [], [], []
        limit = min(max_length or self.ce.max_length, self.ce.max_length)
        with torch.inference_mode():
            for start in range(0, len(queries), batch_size):
                q, d = list(queries[start:start + batch_size]), list(docs[start:start + batch_size])
                batch = self.ce.tokenizer(q, d, padding=True, truncation="only_second",
                                          max_length=limit, return_tensors="pt")
                batch = {k: v.to(self.ce.device) for k, v in batch.items()}
                out = self.ce.model(**batch, output_hidden_states=True)
                hidden, mask = out.hidden_states[-1], batch["attention_mask"]
                types = batch.get("token_type_ids")
                if types is None:
                    raise PapertoolsError("dual pooling needs a cross-encoder with token type ids")
                qv = pool(hidden, mask * (types == 0), "mean")
                dv = pool(hidden, mask * (types == 1), "mean")
                logits = out.logits
                logit = logits[:, -1] if logits.shape[-1] <= 2 else logits[:, 0]
                scores.append(logit if self.score_kind == "logit" else (qv * dv).sum(-1))
                eq.append(qv)
                ed.append(dv)
        return (torch.cat(scores).float().cpu(), torch.cat(eq).float().cpu(),
                torch.cat(ed).float().cpu())


def load_teacher(name: str, kind: str = "auto", device="cpu", ce_score: str = "logit"):
    from papertools.core.encoders import load_cross_encoder, load_encoder

    if kind not in KINDS:
        raise PapertoolsError(f"unknown teacher kind {kind!r}")
    if kind == "auto":
        kind = teacher_kind(name)
    if kind == "cross-encoder":
        return CrossEncoderTeacher(load_cross_encoder(name, device=device), ce_score)
    return DualEncoderTeacher(load_encoder(name, device=device))
