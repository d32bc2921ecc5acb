"""Teachers: a dual encoder (a sentence-encoder directory) or a cross-encoder with dual pooling.

A **dual-encoder teacher** embeds queries and documents with one encoder:
s^t(q, d) = <e^t_q, e^t_d> (cosine when the encoder normalises, as MiniLM does). Its embeddings
never change during distillation, so they are computed once per run (and cached on disk with
``cache_dir``, per text, keyed by the encoder and its settings: :func:`cached_encode`).

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
from papertools.core.jsonl import atomic_path

KINDS = ("auto", "dual-encoder", "cross-encoder")


def teacher_kind(name: str) -> str:
    """``cross-encoder`` for a sequence-classification directory, else ``dual-encoder``."""
    from papertools.core.models.encoders import resolve_encoder_path

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


CACHE_CHUNK = 2048  # texts encoded (and saved) at a time, so an interrupted encoding resumes


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def _read_shards(folder: Path) -> dict:
    """{text key: vector} from every complete shard in ``folder``."""
    import numpy as np

    found = {}
    for shard in sorted(folder.glob("shard-*.npz")):
        with np.load(shard) as data:
            for key, vector in zip(data["keys"], data["vectors"]):
                found[key.tobytes()] = vector
    return found


def cached_encode(encoder, texts: Sequence[str], *, max_length: int | None = None,
                  batch_size: int = 64, cache_dir: str | None = None, progress=None):
    """float32 (n, dim) embeddings of ``texts``; with ``cache_dir``, cached per text.

    The cache is a folder per encoder setting (its path, pooling, normalisation, token limit and
    width) of shards, each holding the vectors of up to ``CACHE_CHUNK`` texts keyed by a hash of
    the text. Only texts no shard holds are encoded, a chunk at a time, each chunk saved
    atomically as it finishes: a list that shares texts with an earlier one (a development
    split, a few more generated queries) reuses their vectors, and an interrupted encoding
    (Ctrl-C) keeps the chunks it finished."""
    import numpy as np

    old = with_length(encoder, max_length)
    try:
        if not cache_dir:
            return encoder.encode(list(texts), batch_size=batch_size, progress=progress)
        setting = hashlib.sha256(json.dumps(
            [str(encoder.path), encoder.pooling, encoder.normalize, encoder.max_length,
             encoder.dim]).encode()).hexdigest()[:16]
        folder = Path(cache_dir) / f"encoder-{setting}"
        found = _read_shards(folder) if folder.exists() else {}
        keys = [_text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            folder.mkdir(parents=True, exist_ok=True)
            text_of = dict(zip(keys, texts))
            done = 0
            for start in range(0, len(missing), CACHE_CHUNK):
                chunk = missing[start:start + CACHE_CHUNK]
                tell = None if progress is None else (lambda n, base=done: progress(base + n))
                vectors = encoder.encode([text_of[k] for k in chunk], batch_size=batch_size,
                                         progress=tell)
                name = hashlib.sha256(b"".join(chunk)).hexdigest()[:16]
                keys_array = np.frombuffer(b"".join(chunk), dtype=np.uint8).reshape(-1, 16)
                with atomic_path(folder / f"shard-{name}.npz") as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, keys=keys_array, vectors=vectors)
                found.update(zip(chunk, vectors))
                done += len(chunk)
        if not keys:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
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

        from papertools.core.models.encoders import pool

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
    from papertools.core.models.encoders import load_cross_encoder, load_encoder

    if kind not in KINDS:
        raise PapertoolsError(f"unknown teacher kind {kind!r}")
    if kind == "auto":
        kind = teacher_kind(name)
    if kind == "cross-encoder":
        return CrossEncoderTeacher(load_cross_encoder(name, device=device), ce_score)
    return DualEncoderTeacher(load_encoder(name, device=device))
