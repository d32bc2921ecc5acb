"""The four methods behind ``--method`` on top of an index folder: axn, rnr, anncur, adacur.

See search.py for the loop they share. Method names: ``axn`` (the index's default item
embeddings) or ``axn:trns`` / ``axn:ind`` / ``axn:de``; ``rnr``; ``anncur``; ``adacur``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import numpy_rng

from .index import Index, SkipMLP
from .search import CUR_RCOND, RCOND, ItemSpace, Result, adaptive_search, split_budget

METHODS = ("axn", "rnr", "anncur", "adacur")


@dataclass(frozen=True)
class Method:
    name: str  # axn | rnr | anncur | adacur
    variant: str | None = None  # axn's item embeddings

    @property
    def label(self) -> str:
        return f"{self.name}:{self.variant}" if self.variant else self.name


def parse_method(text: str, index: Index | None = None) -> Method:
    name, _, variant = text.partition(":")
    if name not in METHODS:
        raise PapertoolsError(f"unknown method {text!r} (choose from axn, axn:trns, axn:ind, "
                              "axn:de, rnr, anncur, adacur)")
    if variant and name != "axn":
        raise PapertoolsError(f"method {text!r}: only axn takes item embeddings (axn:VARIANT)")
    if name == "axn" and index is not None:
        variant = variant or index.meta["default_variant"]
        index.embeddings(variant)  # a clear error when the index lacks it
    return Method(name, variant or None)


@dataclass
class SearchSettings:
    budget: int = 100  # B: CE calls per query
    rounds: int = 5  # R (axn, adacur)
    k: int = 10  # results per query
    init: str = "de"  # first round of axn and adacur: de | random
    # Eq. 7's weight of the DE (or MF_Ind) query embedding, and axn's free per-query offset in
    # the least squares; None: the index's choice (build makes it on held-out training queries)
    lam: float | None = None
    intercept: bool | None = None
    anchor_frac: float = 0.5  # anncur: share of the budget spent on fixed anchor items
    # anncur/adacur: the relative cut-off of the anchor block's pseudo-inverse (search.CUR_RCOND)
    cur_rcond: float = CUR_RCOND
    seed: int = 0


class Searcher:
    """Runs methods for queries against one index with one cached CE.

    ``de_queries``: (n_queries, d) DE embeddings of the queries, in query order.
    """

    def __init__(self, index: Index, ce, de_queries: np.ndarray,
                 spaces: dict[str, ItemSpace] | None = None):
        self.index, self.ce = index, ce
        self.de_queries = np.asarray(de_queries, dtype=np.float32)
        self._spaces: dict[str, ItemSpace] = dict(spaces or {})
        self._mlp_queries: np.ndarray | None = None

    def axn_settings(self, method: Method, s: SearchSettings) -> tuple[float, bool]:
        """(lambda, intercept) axn uses: the settings' where given, else the index's choice."""
        chosen = self.index.search_defaults(method.variant)
        lam = float(chosen["lambda"]) if s.lam is None else float(s.lam)
        icpt = bool(chosen["intercept"]) if s.intercept is None else bool(s.intercept)
        return lam, icpt

    def space(self, name: str) -> ItemSpace:
        if name not in self._spaces:
            if name == "de":
                self._spaces[name] = ItemSpace(self.index.de_items(), self.index.faiss("de"))
            elif name == "cur":  # raw CE scores, as ANNCUR's CUR uses them: V = R^T (n, k_q)
                self._spaces[name] = ItemSpace(np.ascontiguousarray(self.index.cur_rows().T))
            else:
                self._spaces[name] = ItemSpace(self.index.embeddings(name),
                                               self.index.faiss(f"emb_{name}"))
        return self._spaces[name]

    def u_param(self, variant: str, qi: int) -> np.ndarray:
        """Eq. 7's parametric query embedding: the DE's, or MF_Ind's query network on it."""
        if variant != "ind":
            return self.de_queries[qi]
        if self._mlp_queries is None:
            self._mlp_queries = SkipMLP.apply(self.index.mlp("query"), self.de_queries)
        return self._mlp_queries[qi]

    def first_items(self, qi: int, k: int, init: str, seed: int) -> np.ndarray:
        n = self.index.meta["n_items"]
        if init == "random":
            return numpy_rng(seed, 4, qi).choice(n, size=min(k, n), replace=False)
        if init == "de":
            return self.space("de").top(self.de_queries[qi], k, set())
        raise PapertoolsError(f"unknown --init {init!r} (de or random)")

    def run(self, method: Method, qi: int, text: str, s: SearchSettings) -> Result:
        n = self.index.meta["n_items"]
        budget = min(s.budget, n)
        t0 = time.perf_counter()
        intercept, rcond = False, RCOND
        if method.name == "rnr":
            schedule = [budget]
            first, space, u_param, lam = self.first_items(qi, budget, "de", s.seed), None, None, 0.0
        elif method.name == "axn":
            schedule = split_budget(budget, s.rounds)
            first = self.first_items(qi, schedule[0], s.init, s.seed)
            space = self.space(method.variant)
            lam, intercept = self.axn_settings(method, s)
            u_param = self.u_param(method.variant, qi) if lam else None
        elif method.name == "adacur":
            schedule = split_budget(budget, s.rounds)
            first = self.first_items(qi, schedule[0], s.init, s.seed)
            space, u_param, lam, rcond = self.space("cur"), None, 0.0, s.cur_rcond
        elif method.name == "anncur":
            k_i = min(budget, max(1, int(round(s.anchor_frac * budget))))
            schedule = [k_i] + ([budget - k_i] if budget > k_i else [])
            # the same random anchor items for every query (they depend on the budget's k_i)
            first = numpy_rng(s.seed, 5, k_i).choice(n, size=k_i, replace=False)
            space, u_param, lam, rcond = self.space("cur"), None, 0.0, s.cur_rcond
        else:  # pragma: no cover - parse_method guards
            raise PapertoolsError(f"unknown method {method.name!r}")
        first_s = time.perf_counter() - t0
        # the regression onto item embeddings uses normalised scores; CUR the raw ones
        alpha, beta = (0.0, 1.0) if method.name in ("anncur", "adacur") else \
            (self.index.alpha, self.index.beta)
        result = adaptive_search(text, self.ce, space, first, schedule, s.k, alpha, beta,
                                 u_param, lam, intercept=intercept, rcond=rcond)
        result.overhead_s += first_s
        return result
