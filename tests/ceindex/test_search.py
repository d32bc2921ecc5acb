"""The search loop, the solver, the budget and the cache, on scorers whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.cli.ceindex.evaluate import exact_topk, recall_at
from papertools.cli.ceindex.scorers import CachedCE
from papertools.cli.ceindex.search import (ItemSpace, Regression, adaptive_search, rank_exact,
                                           solve_min_norm, split_budget)
from papertools.core.errors import PapertoolsError
from papertools.core.seed import numpy_rng


@pytest.mark.parametrize("m,d,rank", [(5, 8, 5), (20, 8, 8), (10, 8, 3), (12, 12, 12)])
def test_solve_is_the_pseudo_inverse(m, d, rank):
    rng = np.random.default_rng(m * 100 + d)
    X = rng.normal(size=(m, rank)) @ rng.normal(size=(rank, d))  # rank-deficient when rank < m, d
    a = rng.normal(size=m)
    assert np.allclose(solve_min_norm(X, a), np.linalg.pinv(X) @ a, atol=1e-8)


def test_solve_with_duplicate_rows_is_still_the_min_norm_solution():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 6))
    X = np.vstack([X, X[:2]])  # repeated items: the Gram matrix is singular
    a = X @ rng.normal(size=6)
    u = solve_min_norm(X, a)
    assert np.allclose(u, np.linalg.pinv(X) @ a, atol=1e-8)
    assert np.allclose(X @ u, a, atol=1e-8)


def test_incremental_regression_equals_the_pseudo_inverse():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(14, 6))
    reg = Regression(6)
    for start in (0, 3, 6, 9, 12):  # crosses m = d = 6 on the way
        reg.add(X[start:start + 3])
        m = min(start + 3, 14)
        a = rng.normal(size=m)
        assert np.allclose(reg.solve(a), np.linalg.pinv(X[:m]) @ a, atol=1e-8)


def test_split_budget():
    assert split_budget(100, 5) == [20] * 5
    assert split_budget(10, 3) == [3, 3, 4]
    assert split_budget(7, 1) == [7]
    with pytest.raises(PapertoolsError, match="smaller than the number of rounds"):
        split_budget(3, 5)


def test_item_space_skips_scored_items():
    V = np.eye(5, dtype=np.float32)
    space = ItemSpace(V)
    u = np.array([5, 4, 3, 2, 1], dtype=np.float32)
    assert space.top(u, 2, set()).tolist() == [0, 1]
    assert space.top(u, 2, {0, 1}).tolist() == [2, 3]
    assert space.top(u, 9, {0, 1, 2}).tolist() == [3, 4]  # only what is left


def test_rank_exact_breaks_ties_by_index():
    idx, s = rank_exact(np.array([7, 3, 5]), np.array([1.0, 2.0, 2.0]), 2)
    assert idx.tolist() == [3, 5] and s.tolist() == [2.0, 2.0]


def test_lowrank_scorer_query_embedding_recovered_and_recall_is_one(lowrank):
    """f = U V^T exactly and V known: once the scored items span R^d, u_q is recovered."""
    ce = CachedCE(lowrank, lowrank.items)
    space = ItemSpace(lowrank.V)
    for qi in range(10):
        first = numpy_rng(0, qi).choice(len(lowrank.items), size=10, replace=False)
        res = adaptive_search(lowrank.queries[qi], ce, space, first, split_budget(40, 4), k=10)
        assert np.allclose(res.u, lowrank.U[qi], atol=1e-4)
        truth = exact_topk(lowrank.V @ lowrank.U[qi], 10)
        assert recall_at(res.top, truth, 10) == 1.0
        assert res.top.tolist() == truth.tolist()


def test_lowrank_query_not_recovered_while_underdetermined(lowrank):
    ce = CachedCE(lowrank, lowrank.items)
    first = numpy_rng(0, 0).choice(len(lowrank.items), size=4, replace=False)  # 4 < d = 8
    res = adaptive_search(lowrank.queries[0], ce, ItemSpace(lowrank.V), first, [4, 36], k=10)
    assert not np.allclose(res.u, lowrank.U[0], atol=1e-2)


def test_adaptive_retrieval_beats_retrieve_and_rerank(lowrank):
    """A DE that is a noisy copy of the CE's factors: rnr reranks the DE's top-B and misses,
    axn finds the CE's top items from the scores of its first round."""
    rng = np.random.default_rng(3)
    de_items = lowrank.V + rng.normal(scale=1.5, size=lowrank.V.shape)
    de_space, true_space = ItemSpace(de_items), ItemSpace(lowrank.V)
    ce = CachedCE(lowrank, lowrank.items)
    rec_rnr, rec_axn = [], []
    for qi in range(30):
        q, truth = lowrank.queries[qi], exact_topk(lowrank.V @ lowrank.U[qi], 10)
        rnr = adaptive_search(q, ce, None, de_space.top(lowrank.U[qi], 40, set()), [40], k=10)
        axn = adaptive_search(q, ce, true_space, de_space.top(lowrank.U[qi], 10, set()),
                              split_budget(40, 4), k=10)
        assert rnr.ce_calls == axn.ce_calls == 40
        rec_rnr.append(recall_at(rnr.top, truth, 10))
        rec_axn.append(recall_at(axn.top, truth, 10))
    assert np.mean(rec_axn) == 1.0
    assert np.mean(rec_rnr) < 0.8


def test_cache_never_scores_a_pair_twice(lowrank):
    ce = CachedCE(lowrank, lowrank.items, batch_size=7)
    a = ce.scores("q1", np.array([3, 4, 5, 3]))
    b = ce.scores("q1", np.array([5, 6, 4]))
    ce.scores("q2", np.arange(20))
    ce.scores("q1", np.arange(20))
    assert len(lowrank.pairs) == len(set(lowrank.pairs)) == 20 + 20
    assert ce.computed == 40 and ce.requested == 4 + 3 + 20 + 20
    assert a[0] == a[3] and b[0] == a[2]
    assert np.allclose(ce.row("q1")[:20], lowrank.V[:20] @ lowrank.U[1], atol=1e-5)


def test_cache_rejects_non_finite_scores():
    class Bad:
        def score(self, queries, items):
            return np.array([np.nan] * len(queries))

    with pytest.raises(PapertoolsError, match="not finite"):
        CachedCE(Bad(), ["a", "b"]).scores("q", np.array([0, 1]))


def test_recall_metric_by_hand():
    exact = np.array([4, 2, 9])
    assert recall_at(np.array([2, 7, 4]), exact, 3) == pytest.approx(2 / 3)
    assert recall_at(np.array([2, 7, 4]), exact, 1) == 0.0
    assert recall_at(np.array([4, 7, 4]), exact, 1) == 1.0


def test_intercept_regression_is_least_squares_with_a_free_offset():
    """With intercept, u minimises ||X u + b - a|| over u and b (min-norm u); adding a constant
    to every score (a per-query offset, e.g. MaxSim's sum over query tokens) changes nothing."""
    rng = np.random.default_rng(5)
    for m, d in ((5, 8), (20, 8)):
        X = rng.normal(size=(m, d))
        a = rng.normal(size=m)
        reg = Regression(d)
        reg.add(X)
        u = reg.solve(a, intercept=True)
        Xc = X - X.mean(0)
        assert np.allclose(u, np.linalg.pinv(Xc) @ (a - a.mean()), atol=1e-8)
        assert np.allclose(reg.solve(a + 37.0, intercept=True), u, atol=1e-8)
    # without the intercept the offset leaks into u (what broke axn on the MaxSim CEs)
    assert not np.allclose(reg.solve(a + 37.0), reg.solve(a), atol=1e-3)


def test_intercept_recovers_a_low_rank_query_under_a_per_query_offset(lowrank):
    """f = U V^T + c_q: the offset does not change the ranking, and with the intercept the
    adaptive search still finds the exact top-k."""
    class Offset:
        def __init__(self, inner, c):
            self.inner, self.c = inner, c

        def score(self, queries, items):
            return self.inner.score(queries, items) + self.c

    ce = CachedCE(Offset(lowrank, 50.0), lowrank.items)
    space = ItemSpace(lowrank.V)
    for qi in range(5):
        first = numpy_rng(0, qi).choice(len(lowrank.items), size=10, replace=False)
        res = adaptive_search(lowrank.queries[qi], ce, space, first, split_budget(40, 4), k=10,
                              intercept=True)
        assert np.allclose(res.u, lowrank.U[qi], atol=1e-4)
        assert res.top.tolist() == exact_topk(lowrank.V @ lowrank.U[qi], 10).tolist()


def test_intercept_solve_full_rank_and_rank_deficient_paths_agree():
    """The Cholesky (KKT) path and the double-centred pseudo-inverse give the same u."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(6, 10))
    a = rng.normal(size=6)
    reg = Regression(10)
    reg.add(X)
    Xc = X - X.mean(0)
    assert np.allclose(reg.solve(a, intercept=True), np.linalg.pinv(Xc) @ (a - a.mean()), atol=1e-8)
    dup = Regression(10)
    dup.add(np.vstack([X, X[:2]]))  # singular Gram: the eigen-decomposition path
    a2 = np.concatenate([a, a[:2]])
    assert np.allclose(dup.solve(a2, intercept=True), reg.solve(a, intercept=True), atol=1e-8)
