"""Cross-encoder scorers for ceindex, and the cache that counts every CE call.

A scorer is anything with ``score(queries, items) -> float array`` (one score per pair). Three
kinds, named by a spec string (stored in the index folder, so search uses the same CE):

- ``maxsim:ENCODER[@LAYER]``: late interaction (ColBERT's MaxSim) over an encoder's token
  states: ``f(q, i) = sum_t max_s <q_t, i_s>`` over L2-normalised token vectors of layer LAYER
  (default: the last). It is not a dot product of two fixed vectors, so offline it stands in for
  a real cross-encoder; ENCODER is ``minilm`` (the packaged MiniLM) or a local encoder directory.
- a local directory (or cached hub id) of a Hugging Face sequence-classification cross-encoder
  (``papertools.core.models.encoders.load_cross_encoder``);
- ``py:MODULE:FUNCTION`` or ``py:FILE.py:FUNCTION`` (``--scorer``): a user's function
  ``f(queries: list[str], items: list[str]) -> sequence of floats``. A build records a scorer
  found through the current folder as its file's path relative to the index folder
  (``index_spec``), so search and eval find it from any folder and the index can move with it.

:class:`CachedCE` sits between the method and the scorer: scores are cached per (query text, item
index) in one float row per query, so no pair is ever sent to the scorer twice, and it counts the
pairs asked for (``requested``) and those the scorer actually computed (``computed``).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from papertools.core.errors import PapertoolsError


_ENCODERS: dict = {}


def shared_encoder(name: str, device="cpu", max_length: int = 64):
    """One loaded encoder per (name, device, max_length) in this process: the DE and a MaxSim
    scorer over the same encoder's last layer share it (one model load, not two)."""
    from papertools.core.models.encoders import load_encoder

    key = (name, str(device), max_length)
    if key not in _ENCODERS:
        _ENCODERS[key] = load_encoder(name, device=device, max_length=max_length)
    return _ENCODERS[key]


def parse_spec(ce: str | None, scorer: str | None) -> str:
    """One spec string from ``--ce`` / ``--scorer`` (exactly one of them; a scorer's module or
    file must exist)."""
    if ce and scorer:
        raise PapertoolsError("give --ce or --scorer, not both")
    if scorer:
        where, _, fn = scorer.rpartition(":")
        if not where or not fn or (":" in where and not where.endswith(".py")):
            raise PapertoolsError(f"--scorer {scorer!r}: expected MODULE:FUNCTION or "
                                  "FILE.py:FUNCTION")
        python_file(scorer)  # the module or file exists: checked before any work
        return f"py:{scorer}"
    if not ce:
        raise PapertoolsError("a cross-encoder is needed: --ce maxsim:minilm, --ce DIR, or "
                              "--scorer MODULE:FUNCTION")
    return ce


def python_file(target: str, base: str | Path | None = None) -> tuple[Path | None, str]:
    """(the file, the function name) of ``MODULE:FUNCTION`` or ``FILE.py:FUNCTION``.

    FILE is relative to ``base`` (an index folder), else to the current folder; a module is
    looked up as ``python -m`` would (the current folder first). The file is None for a
    module without one (built in). Nothing is imported but the module's parent packages.
    """
    import importlib.util

    where, _, fn = target.rpartition(":")
    if where.endswith(".py"):
        path = Path(os.path.normpath(Path(base or ".").resolve() / where))
        if not path.is_file():
            raise PapertoolsError(f"--scorer {target!r}: no file {str(path)!r}")
        return path.resolve(), fn
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        found = importlib.util.find_spec(where)
    except (ImportError, ValueError) as exc:
        raise PapertoolsError(f"--scorer {target!r}: cannot import {where!r} ({exc})") from None
    if found is None:
        raise PapertoolsError(f"--scorer {target!r}: cannot import {where!r} (No module named "
                              f"{where!r})")
    origin = found.origin if found.has_location else None
    return (Path(origin).resolve() if origin else None), fn


def index_spec(spec: str, index_dir: str | Path) -> str:
    """The spec as an index records it: a scorer that only the current folder makes
    importable becomes ``py:FILE.py:FUNCTION``, FILE relative to the index folder."""
    if not spec.startswith("py:"):
        return spec
    path, fn = python_file(spec[3:])
    if path is None or (not spec[3:].rpartition(":")[0].endswith(".py")
                        and not path.is_relative_to(Path.cwd().resolve())):
        return spec  # an installed module: importable from anywhere
    return f"py:{os.path.relpath(path, Path(index_dir).resolve())}:{fn}"


def same_spec(given: str, stored: str, index_dir: str | Path) -> bool:
    """Whether ``given`` (from the command line) names the CE an index recorded as ``stored``."""
    if given == stored:
        return True
    if not (given.startswith("py:") and stored.startswith("py:")):
        return False
    here, fn = python_file(given[3:])
    try:
        there, stored_fn = python_file(stored[3:], base=index_dir)
    except PapertoolsError:
        return False
    return here is not None and (here, fn) == (there, stored_fn)


def load_scorer(spec: str, device="cpu", max_length: int = 64, base: str | Path | None = None):
    """The scorer a spec string names (see the module docstring); ``base``: the folder a
    relative ``py:FILE.py`` is relative to (the index folder for a recorded spec)."""
    if spec.startswith("maxsim:"):
        name, _, layer = spec[len("maxsim:"):].partition("@")
        if not name:
            raise PapertoolsError(f"--ce {spec!r}: expected maxsim:ENCODER[@LAYER]")
        try:
            layer_n = int(layer) if layer else None
        except ValueError:
            raise PapertoolsError(f"--ce {spec!r}: LAYER must be an integer") from None
        return MaxSimScorer(name, layer_n, device=device, max_length=max_length)
    if spec.startswith("py:"):
        return PythonScorer(spec[3:], base=base)
    from papertools.core.models.encoders import load_cross_encoder

    return HFScorer(load_cross_encoder(spec, device=device))


class HFScorer:
    """A sequence-classification cross-encoder (joint encoding of the pair)."""

    def __init__(self, cross_encoder, batch_size: int = 64):
        self.ce, self.batch_size = cross_encoder, batch_size

    def score(self, queries: Sequence[str], items: Sequence[str]) -> np.ndarray:
        return self.ce.score(list(queries), list(items), batch_size=self.batch_size)


class PythonScorer:
    """``MODULE:FUNCTION`` (the current folder is importable, like ``python -m``) or
    ``FILE.py:FUNCTION`` (FILE relative to ``base``, else to the current folder; its folder is
    importable, like ``python FILE.py``)."""

    def __init__(self, target: str, base: str | Path | None = None):
        import importlib.util

        where, _, fn_name = target.rpartition(":")
        path, _ = python_file(target, base)
        try:
            if where.endswith(".py"):
                if str(path.parent) not in sys.path:
                    sys.path.insert(0, str(path.parent))
                name = f"papertools_scorer_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
                module = sys.modules.get(name)
                if module is None:
                    found = importlib.util.spec_from_file_location(name, path)
                    module = importlib.util.module_from_spec(found)
                    found.loader.exec_module(module)
                    sys.modules[name] = module
            else:
                module = importlib.import_module(where)
        except Exception as exc:  # the user's module failed while importing
            raise PapertoolsError(f"--scorer {target!r}: cannot import {where!r} "
                                  f"({type(exc).__name__}: {exc})") from None
        self.fn = getattr(module, fn_name, None)
        if not callable(self.fn):
            raise PapertoolsError(f"--scorer {target!r}: {where} has no function {fn_name!r}")
        self.target = target

    def score(self, queries: Sequence[str], items: Sequence[str]) -> np.ndarray:
        out = np.asarray(self.fn(list(queries), list(items)), dtype=np.float64)
        if out.shape != (len(queries),):
            raise PapertoolsError(f"--scorer {self.target}: returned {out.shape[0] if out.ndim else 0}"
                                  f" scores for {len(queries)} pairs")
        return out.astype(np.float32)


class MaxSimScorer:
    """Late interaction over an encoder's token states (MaxSim, summed over query tokens).

    Token states of each distinct text are computed once (in batches, truncated to
    ``max_length`` tokens), L2-normalised and kept as float32 in one padded array, so scoring a
    query against many items is one matrix product per chunk of items. ``layer`` picks a hidden
    layer (1 = after the first transformer block; the default is the last): the model is cut
    after it, so lower layers are also cheaper.
    """

    def __init__(self, encoder: str, layer: int | None = None, device="cpu", max_length: int = 64,
                 batch_size: int = 64):
        from papertools.core.models.encoders import load_encoder

        enc = shared_encoder(encoder, device, max_length)
        n_layers = int(enc.model.config.num_hidden_layers)
        if layer is not None and layer != n_layers:
            if not 1 <= layer <= n_layers:
                raise PapertoolsError(f"maxsim: layer {layer} out of range 1..{n_layers}")
            enc = load_encoder(encoder, device=device, max_length=max_length)  # a copy to cut
            try:
                enc.model.encoder.layer = enc.model.encoder.layer[:layer]
            except AttributeError:
                raise PapertoolsError(f"maxsim: {encoder!r} is not a BERT-like encoder; "
                                      "@LAYER needs model.encoder.layer") from None
        self.enc, self.layer, self.batch_size = enc, layer or n_layers, batch_size
        self.width = enc.max_length  # tokens kept per text
        self._rows: dict[str, int] = {}
        self._store = np.zeros((0, self.width, enc.model.config.hidden_size), dtype=np.float32)
        self._lens = np.zeros(0, dtype=np.int32)
        self._count = 0  # rows in use (the arrays grow by doubling)

    def reserve(self, n: int) -> None:
        """Room for ``n`` texts in all (avoids growing by copies when the count is known)."""
        if n > self._store.shape[0]:
            grown = np.zeros((n,) + self._store.shape[1:], dtype=np.float32)
            grown[:self._count] = self._store[:self._count]
            lens = np.zeros(n, np.int32)
            lens[:self._count] = self._lens[:self._count]
            self._store, self._lens = grown, lens

    def put(self, texts: Sequence[str], hidden, mask) -> None:
        """Keep the token states (B, T, H) of ``texts`` (a forward pass made elsewhere)."""
        import torch.nn.functional as F

        hidden = F.normalize(hidden.float(), dim=-1).cpu().numpy()
        lengths = mask.sum(1).cpu().numpy().astype(np.int32)
        n0, t = self._count, min(hidden.shape[1], self.width)
        need = n0 + len(texts)
        if need > self._store.shape[0]:
            self.reserve(max(need, 2 * self._store.shape[0], 256))
        self._store[n0:need, :t] = hidden[:, :t]
        self._lens[n0:need] = np.minimum(lengths, t)
        for j, text in enumerate(texts):
            self._rows[text] = n0 + j
        self._count = need

    def _ensure(self, texts: Sequence[str]) -> None:
        import torch

        new = sorted({t for t in texts if t not in self._rows}, key=len)
        with torch.inference_mode():
            for start in range(0, len(new), self.batch_size):
                chunk = new[start:start + self.batch_size]
                hidden, mask = self.enc.token_states(chunk)
                self.put(chunk, hidden, mask)

    def states(self, text: str) -> np.ndarray:
        """(tokens, H) float32 unit vectors of one text."""
        self._ensure([text])
        row = self._rows[text]
        return self._store[row, :self._lens[row]]

    def score(self, queries: Sequence[str], items: Sequence[str]) -> np.ndarray:
        self._ensure(list(queries) + list(items))
        out = np.zeros(len(queries), dtype=np.float32)
        order: dict[str, list[int]] = {}
        for pos, q in enumerate(queries):
            order.setdefault(q, []).append(pos)
        for q, positions in order.items():
            qs = self.states(q)  # (Tq, H)
            rows = np.fromiter((self._rows[items[p]] for p in positions), dtype=np.int64,
                               count=len(positions))
            for start in range(0, rows.size, 512):
                chunk = rows[start:start + 512]
                out[positions[start:start + 512]] = self._maxsim(qs, chunk)
        return out

    def _maxsim(self, qs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """sum over query tokens of the best-matching item token's cosine, per item row."""
        t = int(self._lens[rows].max())
        packed = self._store[rows, :t]  # (N, T, H)
        n, _, hid = packed.shape
        sims = (packed.reshape(n * t, hid) @ qs.T).reshape(n, t, -1)  # (N, T, Tq)
        pad = np.arange(t)[None, :] >= self._lens[rows][:, None]  # (N, T): padding tokens
        sims += np.where(pad, np.float32(-4.0), np.float32(0.0))[:, :, None]  # below any cosine
        return sims.max(axis=1).sum(axis=1)


class CachedCE:
    """Scores (query, item) pairs through a scorer, each pair at most once.

    ``items``: the item texts, by index. One float row per query text (NaN = not scored yet).
    ``requested``: pairs asked for (what a method spends); ``computed``: pairs the scorer ran;
    ``seconds``: time spent inside the scorer.
    """

    def __init__(self, scorer, items: Sequence[str], batch_size: int = 256):
        self.scorer, self.items, self.batch_size = scorer, list(items), batch_size
        self.rows: dict[str, np.ndarray] = {}
        self.requested = 0
        self.computed = 0
        self.seconds = 0.0

    def row(self, query: str) -> np.ndarray:
        row = self.rows.get(query)
        if row is None:
            row = self.rows[query] = np.full(len(self.items), np.nan, dtype=np.float32)
        return row

    def known(self, query: str, scores: np.ndarray, idx: np.ndarray | None = None) -> None:
        """Put scores already computed (a resumed build) into the cache."""
        row = self.row(query)
        if idx is None:
            row[:] = scores
        else:
            row[np.asarray(idx, dtype=np.int64)] = scores

    def scores(self, query: str, idx) -> np.ndarray:
        """CE scores of ``query`` against the items ``idx`` (an int array), scoring only new pairs."""
        idx = np.asarray(idx, dtype=np.int64)
        row = self.row(query)
        self.requested += int(idx.size)
        missing = np.unique(idx[np.isnan(row[idx])])
        for start in range(0, missing.size, self.batch_size):
            chunk = missing[start:start + self.batch_size]
            started = time.perf_counter()
            got = np.asarray(self.scorer.score([query] * chunk.size,
                                               [self.items[i] for i in chunk]), dtype=np.float32)
            self.seconds += time.perf_counter() - started
            if not np.all(np.isfinite(got)):
                raise PapertoolsError("cross-encoder returned a score that is not finite "
                                      f"(query {query[:60]!r})")
            row[chunk] = got
            self.computed += int(chunk.size)
        return row[idx].copy()
