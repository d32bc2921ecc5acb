"""Fixtures for the ceindex tests: synthetic scorers with known factors, tiny models, MiniLM once."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # The test machine is shared: one torch thread is several times faster than two under load.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class LowRank:
    """An exactly low-rank 'cross-encoder' f(q, i) = <u_q, v_i> on texts "q<j>" and "i<j>",
    counting every pair it is asked to score."""

    def __init__(self, n_items=300, n_queries=80, d=8, seed=0):
        rng = np.random.default_rng(seed)
        self.V = rng.normal(size=(n_items, d))
        self.U = rng.normal(size=(n_queries, d))
        self.items = [f"i{j}" for j in range(n_items)]
        self.queries = [f"q{j}" for j in range(n_queries)]
        self.pairs: list[tuple[str, str]] = []

    def score(self, queries, items):
        self.pairs += list(zip(queries, items))
        q = np.array([int(t[1:]) for t in queries])
        i = np.array([int(t[1:]) for t in items])
        return np.einsum("nd,nd->n", self.U[q], self.V[i]).astype(np.float32)


class FakeEncoder:
    """A 'DE' that maps known texts to given vectors (encode() like core.encoders.Encoder)."""

    def __init__(self, table: dict[str, np.ndarray], default: np.ndarray | None = None):
        self.table = table
        self.dim = len(next(iter(table.values())))
        self.default = np.full(self.dim, 0.5) if default is None else default

    def encode(self, texts, batch_size=64, progress=None):
        out = np.stack([self.table.get(t, self.default) for t in texts])
        return out.astype(np.float32)


@pytest.fixture
def lowrank():
    return LowRank()


@pytest.fixture(scope="session")
def minilm():
    from papertools.cli.ceindex.scorers import shared_encoder

    return shared_encoder("minilm", "cpu", 64)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two tiny random BERT encoders (different seeds) and a tiny one-logit cross-encoder."""
    from papertools.core.models.encoders import tiny_bert

    root = tmp_path_factory.mktemp("tiny")
    return {"de": tiny_bert(root / "de", hidden=32, layers=2, seed=0),
            "de2": tiny_bert(root / "de2", hidden=32, layers=2, seed=1),
            "ce": tiny_bert(root / "ce", cross_encoder=True, hidden=32, layers=2, seed=2)}
