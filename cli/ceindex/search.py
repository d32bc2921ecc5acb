"""Test-time search: AXN's adaptive retrieval (Algorithm 1) and the baselines, in one loop.

Every method here CE-scores a set A of items in rounds and returns A's top-k by exact CE score:

    round 1:   A_1 = first items (DE top-k_s, random, or fixed anchors), a_1 = CE(q, A_1)
    round r>1: u_q = pinv(V_A) a            (least squares: argmin_u ||V_A u - a||, Eq. 5)
               u_q = (1 - lam) u_q + lam u_param            (Eq. 7, optional)
               A_r = A_{r-1} + top-k_s items of V u_q not yet in A;  a += CE(q, new items)
    output:    top-k of A by exact CE score; exactly B = |A| CE calls (B split over R rounds)

The methods differ only in the item embeddings V and the round schedule:

- ``axn``:    V = the index's fitted item embeddings (MF, or the DE's own), R rounds.
- ``rnr``:    one round: the DE's top-B items (retrieve and rerank); equal to axn with R=1.
- ``adacur``: V = R^T, the dense CE scores of the anchor (training) queries against all items,
              R rounds: u = pinv(R[:, A]^T) a, so V u = (a^T pinv(R[:, A]) R)^T, the CUR
              approximation of the query's row with the anchors found so far (``topk_cumul``).
- ``anncur``: V = R^T, two rounds: k_i fixed random anchor items (the same for every query),
              then the top B - k_i items of the CUR approximation.

For axn the least squares has a free per-query offset by default (``intercept``: X and a
centred over the scored items, u = pinv(X - mean X) (a - mean a)). The paper's Eq. 5 has none;
without it, a CE whose scores carry a large per-query constant (MaxSim sums over the query's
tokens: after the pooled normalisation the constant was ~40x the spread within a query on the
benchmark) spends u on fitting the constant, and the best linear u over all items ranks worse
than the DE (Top-1-R@100 0.13 vs 0.81 on dev queries, layer-2 MaxSim CE, DE item embeddings;
0.83 with the offset).

For axn, scores are normalised (beta (s - alpha), fitted at build time) before the regression,
as the item embeddings were fitted to normalised scores; CUR works on the raw scores, as ANNCUR
does. The final ranking is always by raw exact CE score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from papertools.core.errors import PapertoolsError

# relative cut-offs for the eigenvalues of a Gram matrix in the pseudo-inverse (the squares of the
# singular values): axn's 1e-10 (singular values below 1e-5 x the largest are cut); the CUR
# baselines' CUR_RCOND, a rank cut that keeps anncur from collapsing when its anchor block is
# square (k_i = k_q: with 1e-10 its Top-10 recall fell to 0.03 at B = 200 on the benchmark)
RCOND = 1e-10
CUR_RCOND = 1e-4


def solve_min_norm(V_A: np.ndarray, a: np.ndarray, rcond: float = RCOND) -> np.ndarray:
    """u = pinv(V_A) a: the minimum-norm least-squares solution of V_A u ~ a.

    V_A: (m, d) embeddings of the scored items; a: (m,) their (normalised) CE scores.
    Through the smaller Gram matrix (m x m when m <= d, else d x d): a Cholesky solve when it is
    well conditioned (then the pseudo-inverse is the inverse), else its eigen-decomposition with
    eigenvalues below rcond * max cut (the pseudo-inverse exactly). Both in float64.
    """
    X = np.asarray(V_A, dtype=np.float64)
    y = np.asarray(a, dtype=np.float64)
    m, d = X.shape
    if m <= d:  # u = X^T (X X^T)^+ y
        return X.T @ _psd_solve(X @ X.T, y, rcond)
    return _psd_solve(X.T @ X, X.T @ y, rcond)  # u = (X^T X)^+ X^T y


def _cholesky(K: np.ndarray, rcond: float):
    """The Cholesky factor of K (a torch tensor) when K is clearly full rank, else None."""
    import torch

    scale = float(np.max(np.diag(K))) if K.size else 0.0
    if scale <= 0.0:
        return None
    L, info = torch.linalg.cholesky_ex(torch.from_numpy(np.ascontiguousarray(K)))  # O(m^3 / 3)
    # cond(K) is about (max/min diagonal of L)^2: accept only clearly full-rank systems
    if int(info) == 0 and float(L.diagonal().min()) ** 2 > 1e4 * rcond * scale:
        return L
    return None


def _chol_solve(L, b: np.ndarray) -> np.ndarray:
    import torch

    B = torch.from_numpy(np.ascontiguousarray(b))
    return torch.cholesky_solve(B[:, None] if B.ndim == 1 else B, L).numpy().reshape(b.shape)


def _psd_solve(K: np.ndarray, b: np.ndarray, rcond: float) -> np.ndarray:
    """K^+ b for a symmetric positive semi-definite K (float64)."""
    scale = float(np.max(np.diag(K))) if K.size else 0.0
    if scale <= 0.0:
        return np.zeros_like(b)
    L = _cholesky(K, rcond)
    if L is not None:  # two triangular solves, O(m^2)
        return _chol_solve(L, b)
    w, Q = np.linalg.eigh(K)
    keep = w > rcond * max(float(w.max()), 0.0)
    inv = np.zeros_like(w)
    inv[keep] = 1.0 / w[keep]
    return Q @ (inv * (Q.T @ b))


class Regression:
    """Least squares u = pinv(X) a for a growing set of rows X (the scored items' embeddings).

    The Gram matrix X X^T is extended by the new rows only (m_new x m x d per round instead of
    m^2 x d), then solved as in :func:`solve_min_norm`, whose result it equals. Past d rows it
    falls back to :func:`solve_min_norm` (the d x d normal equations).
    """

    def __init__(self, dim: int):
        self.X = np.zeros((0, dim))
        self.K = np.zeros((0, 0))

    def add(self, rows: np.ndarray) -> None:
        new = np.asarray(rows, dtype=np.float64)
        if self.X.shape[0] + new.shape[0] <= self.X.shape[1]:
            cross = new @ self.X.T  # (m_new, m)
            self.K = np.block([[self.K, cross.T], [cross, new @ new.T]])
        self.X = np.vstack([self.X, new])

    def solve(self, a: np.ndarray, rcond: float = RCOND, intercept: bool = False) -> np.ndarray:
        """u = pinv(X) a; with ``intercept``, u of min ||X u + b 1 - a|| over u and a free b
        (X and a centred over the scored items; b is the same for every item, so it does not
        change the ranking and is dropped)."""
        m, d = self.X.shape
        a = np.asarray(a, dtype=np.float64)
        if not intercept:
            if m > d:
                return solve_min_norm(self.X, a, rcond)
            return self.X.T @ _psd_solve(self.K, a, rcond)
        if m > d:
            return solve_min_norm(self.X - self.X.mean(0), a - a.mean(), rcond)
        # min ||u|| with X u + b 1 = a: u = X^T w, K w + b 1 = a, 1^T w = 0 (K = X X^T); with
        # K full rank, one Cholesky factor: b = (1^T K^-1 a) / (1^T K^-1 1)
        L = _cholesky(self.K, rcond)
        if L is not None:
            both = _chol_solve(L, np.stack([a, np.ones(m)], axis=1))  # K^-1 [a, 1]
            w = both[:, 0] - both[:, 1] * (both[:, 0].sum() / both[:, 1].sum())
            return self.X.T @ w
        # else the double-centred Gram H K H (H = I - 11^T/m); its pseudo-inverse w sums to 0,
        # so (X - mean X)^T w = X^T w
        K = self.K - self.K.mean(0)[None, :] - self.K.mean(1)[:, None] + self.K.mean()
        return self.X.T @ _psd_solve(K, a - a.mean(), rcond)


def split_budget(budget: int, rounds: int) -> list[int]:
    """B CE calls over R rounds: B // R each, the last round also takes the remainder."""
    if rounds < 1:
        raise PapertoolsError("rounds must be at least 1")
    if budget < rounds:
        raise PapertoolsError(f"budget {budget} is smaller than the number of rounds {rounds}: "
                              "every round needs at least one CE call")
    per = budget // rounds
    return [per] * (rounds - 1) + [budget - per * (rounds - 1)]


class ItemSpace:
    """Item embeddings V (n, d) with top-k search that skips items already scored.

    A faiss inner-product index when given (the index folder's), else a flat one built here.
    """

    def __init__(self, V: np.ndarray, index=None):
        import faiss

        self.V = np.ascontiguousarray(V, dtype=np.float32)
        if index is None:
            index = faiss.IndexFlatIP(self.V.shape[1])
            index.add(self.V)
        self.index = index

    @property
    def n(self) -> int:
        return self.V.shape[0]

    def top(self, u: np.ndarray, k: int, exclude: set[int]) -> np.ndarray:
        """The k best items by <V_i, u> that are not in ``exclude`` (fewer if the items run out)."""
        k = min(k, self.n - len(exclude))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        fetch = min(self.n, k + len(exclude))
        while True:
            _, ids = self.index.search(np.asarray(u, dtype=np.float32)[None, :], fetch)
            picked = [int(i) for i in ids[0] if i >= 0 and int(i) not in exclude][:k]
            if len(picked) == k or fetch >= self.n:
                break
            fetch = min(self.n, fetch * 2)  # approximate indexes may return fewer
        if len(picked) < k:  # an IVF index that missed some: fill from an exact scan
            scores = self.V @ np.asarray(u, dtype=np.float32)
            scores[list(exclude | set(picked))] = -np.inf
            extra = np.argsort(-scores, kind="stable")[:k - len(picked)]
            picked += [int(i) for i in extra]
        return np.asarray(picked, dtype=np.int64)


@dataclass
class Result:
    """One query's search: the scored items in scoring order, their CE scores, the answer."""

    scored: np.ndarray  # (B,) item indices, in the order they were scored
    scores: np.ndarray  # (B,) exact CE scores (raw, not normalised)
    top: np.ndarray  # (k,) item indices, best first
    top_scores: np.ndarray
    ce_calls: int
    overhead_s: float  # time outside CE calls: solves and index searches
    rounds: list[int] = field(default_factory=list)  # items scored per round
    u: np.ndarray | None = None  # the last query embedding solved (axn / adacur)


def rank_exact(idx: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of the scored items by exact CE score (ties: lower item index first)."""
    order = np.lexsort((idx, -scores.astype(np.float64)))[:k]
    return idx[order], scores[order]


def adaptive_search(query: str, ce, space: ItemSpace | None, first: np.ndarray,
                    schedule: list[int], k: int, alpha: float = 0.0, beta: float = 1.0,
                    u_param: np.ndarray | None = None, lam: float = 0.0,
                    intercept: bool = False, rcond: float = RCOND) -> Result:
    """Algorithm 1 for one query.

    ``ce``: a :class:`~.scorers.CachedCE`; ``first``: the round-1 items (len == schedule[0]);
    ``schedule``: items to score per round (sums to the budget); ``space``: the item
    embeddings for rounds after the first (None only when there is one round).
    """
    scored = np.asarray(first, dtype=np.int64)[:schedule[0]]
    if np.unique(scored).size != scored.size:
        raise PapertoolsError("internal: round-1 items repeat")
    raw = ce.scores(query, scored)
    overhead, started = 0.0, None
    u = None
    rounds = [int(scored.size)]
    reg = Regression(space.V.shape[1]) if space is not None else None
    new = scored
    for ks in schedule[1:]:
        started = time.perf_counter()
        a = beta * (raw.astype(np.float64) - alpha)
        reg.add(space.V[new])
        u = reg.solve(a, rcond=rcond, intercept=intercept)
        if u_param is not None and lam:
            u = (1.0 - lam) * u + lam * np.asarray(u_param, dtype=np.float64)
        new = space.top(u, ks, set(scored.tolist()))
        overhead += time.perf_counter() - started
        if new.size == 0:
            break
        raw = np.concatenate([raw, ce.scores(query, new)])
        scored = np.concatenate([scored, new])
        rounds.append(int(new.size))
    started = time.perf_counter()
    top, top_scores = rank_exact(scored, raw, k)
    overhead += time.perf_counter() - started
    return Result(scored, raw, top, top_scores, int(scored.size), overhead, rounds, u)
