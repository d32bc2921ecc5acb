"""Choosing axn's search settings at build time, on held-out training queries (never test ones).

The paper tunes Eq. 7's lambda per data set on development queries (lambda 0 for ZeShEL; 0.8 for
k = 1 and 0 for k = 100 on Hotpot-QA). ``build`` does the same on its own: it holds a few of its
training queries out of the matrix factorisation (the dev queries), and for each fitted variant
runs axn on them with every candidate lambda, with and without the per-query offset
(``intercept``), at a few budgets. The settings with the best mean Top-k recall (over the budgets
and k in {1, 10}) become the index's defaults for search and eval.

Recall on the dev queries is measured against a pooled target, as in TREC pooling: the exact
top-k among every item that any candidate CE-scored for the query (plus its row of G, which
is already scored), not among all items. Brute force over all items would cost
|dev| x |items| CE calls (as much as ANNCUR's anchor matrix); the pool costs a few hundred per
query. Every CE call the choice spends is counted in index.json ("ce_calls": "tune").
"""

from __future__ import annotations

import numpy as np

from .methods import Method, SearchSettings, Searcher
from .search import ItemSpace, rank_exact

LAMBDAS = (0.0, 0.3, 0.5, 0.8, 1.0)  # 1: the DE query embedding alone (near rnr)
BUDGETS = (50, 100, 200)
KS = (1, 10)
ROUNDS = 5  # search's default
# what search and eval use for an index built without a choice (or with --tune-queries 0)
UNTUNED = {"lambda": 0.0, "intercept": True, "tuned": False}


def dev_split(n_queries: int, wanted: int, seed: int) -> np.ndarray:
    """Indices of the dev queries: ``wanted`` at most, and at most a tenth of the training
    queries (none when that leaves fewer than 5)."""
    from papertools.core.seed import numpy_rng

    k = min(int(wanted), n_queries // 10)
    if k < 5:
        return np.zeros(0, dtype=np.int64)
    return np.sort(numpy_rng(seed, 8).choice(n_queries, size=k, replace=False))


class FittedIndex:
    """What a :class:`~.methods.Searcher` reads from an index folder, held in memory while the
    build runs (the folder's index.json is written only after the choice)."""

    def __init__(self, n_items: int, alpha: float, beta: float, de_space: ItemSpace,
                 spaces: dict[str, ItemSpace], mlp_query: dict | None = None):
        self.meta = {"n_items": int(n_items)}
        self.alpha, self.beta = float(alpha), float(beta)
        self.de_space, self.spaces, self.mlp_query = de_space, spaces, mlp_query

    def search_defaults(self, variant: str) -> dict:
        return UNTUNED


def choose(index: FittedIndex, ce, dev_texts: list[str], dev_de: np.ndarray, variant: str,
           lambdas=LAMBDAS, budgets=BUDGETS, ks=KS, rounds: int = ROUNDS, seed: int = 0,
           known: dict | None = None) -> dict:
    """The best (lambda, intercept) for axn with ``variant`` on the dev queries.

    ``ce``: the build's CachedCE (the dev queries' rows of G are in it); ``known``: for each
    dev query text, the item indices already scored (its row of G), which join the pool.
    Returns {"lambda", "intercept", "tuned", "dev_queries", "budgets", "dev_recall": {label:
    mean recall}}; ties go to the candidate listed first (lower lambda, offset on).
    """
    n = index.meta["n_items"]
    budgets = sorted({min(int(b), n) for b in budgets if min(int(b), n) >= rounds})
    if not budgets or not len(dev_texts):
        return dict(UNTUNED)
    searcher = Searcher(index, ce, dev_de, spaces={"de": index.de_space, **index.spaces})
    if variant == "ind" and index.mlp_query is not None:
        from .index import SkipMLP

        searcher._mlp_queries = SkipMLP.apply(index.mlp_query, searcher.de_queries)
    candidates = [(float(lam), icpt) for lam in dict.fromkeys(lambdas) for icpt in (True, False)]
    method = Method("axn", variant)
    k_max = max(ks)
    tops: dict[tuple, list] = {c: [] for c in candidates}
    pools: list[set] = []
    for qi, text in enumerate(dev_texts):
        pool = set((known or {}).get(text, ()))
        for c in candidates:
            per_budget = []
            for b in budgets:
                s = SearchSettings(budget=b, rounds=rounds, k=k_max, init="de", lam=c[0],
                                   intercept=c[1], seed=seed)
                res = searcher.run(method, qi, text, s)
                pool.update(res.scored.tolist())
                per_budget.append(res.top)
            tops[c].append(per_budget)
        pools.append(pool)
    score = {}
    for c in candidates:
        recalls = []
        for qi, text in enumerate(dev_texts):
            idx = np.fromiter(pools[qi], dtype=np.int64)
            target = rank_exact(idx, ce.row(text)[idx], k_max)[0]
            for top in tops[c][qi]:
                for k in ks:
                    recalls.append(len(set(top[:k].tolist()) & set(target[:k].tolist())) / k)
        score[c] = float(np.mean(recalls))
    best = max(candidates, key=lambda c: (score[c], -candidates.index(c)))
    return {"lambda": best[0], "intercept": best[1], "tuned": True,
            "dev_queries": len(dev_texts), "budgets": budgets, "ks": list(ks), "rounds": rounds,
            "dev_recall": {f"lambda={c[0]:g},{'offset' if c[1] else 'no-offset'}": score[c]
                           for c in candidates}}
