"""build's choice of axn's search settings on held-out training queries, and anncur's rank cut."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papertools.cli.ceindex.build import build_index
from papertools.cli.ceindex.index import BuildConfig, Index
from papertools.cli.ceindex.methods import SearchSettings, Searcher, parse_method
from papertools.cli.ceindex.scorers import CachedCE
from papertools.cli.ceindex.search import RCOND
from papertools.cli.ceindex.tune import UNTUNED, dev_split
from papertools.core.errors import PapertoolsError

from tests.ceindex.conftest import LowRank
from tests.ceindex.test_methods import fake_de, texts

N_TRAIN = 80


class NoisyLowRank(LowRank):
    """f = U V^T + 0.2 N (N a fixed standard normal matrix): nearly, not exactly, low rank."""

    def __init__(self, *args, noise=0.2, **kw):
        super().__init__(*args, **kw)
        self.N = noise * np.random.default_rng(9).normal(size=(len(self.queries), len(self.items)))

    def score(self, queries, items):
        base = super().score(queries, items)
        q = np.array([int(t[1:]) for t in queries])
        i = np.array([int(t[1:]) for t in items])
        return (base + self.N[q, i]).astype(np.float32)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    lr = LowRank(n_queries=100)
    enc = fake_de(lr, noise=1.0)
    path = tmp_path_factory.mktemp("tuned") / "index"
    config = BuildConfig(de="fake", ce="py:lowrank", k_d=20, variants=("trns", "de"), epochs=5,
                         seed=0, tune_budgets=(10, 20))
    build_index(texts(lr.items), texts(lr.queries[:N_TRAIN]), path, config, encoder=enc,
                scorer=lr)
    return lr, enc, path


def test_dev_split_is_a_tenth_at_most_and_none_below_five():
    assert dev_split(1000, 100, 0).size == 100
    assert dev_split(300, 100, 0).size == 30
    assert dev_split(49, 100, 0).size == 0
    assert dev_split(1000, 0, 0).size == 0
    d = dev_split(1000, 100, 3)
    assert np.array_equal(d, np.sort(np.unique(d))) and np.array_equal(d, dev_split(1000, 100, 3))


def test_build_records_the_best_dev_settings_per_variant(tuned):
    lr, _, path = tuned
    meta = json.loads((path / "index.json").read_text())
    dev_ids = meta["tune_query_ids"]
    assert len(dev_ids) == N_TRAIN // 10 and set(dev_ids) <= set(lr.queries[:N_TRAIN])
    for variant in ("trns", "de"):
        search = meta["variants"][variant]["search"]
        assert search["tuned"] and search["dev_queries"] == len(dev_ids)
        assert search["lambda"] in (0.0, 0.3, 0.5, 0.8, 1.0) and isinstance(search["intercept"], bool)
        label = f"lambda={search['lambda']:g},{'offset' if search['intercept'] else 'no-offset'}"
        assert search["dev_recall"][label] == max(search["dev_recall"].values())
        assert len(search["dev_recall"]) == 10
    # every pair the choice scored beyond G belongs to a dev query (never another query)
    g_pairs = {(q, i) for q, i in lr.pairs[:20 * N_TRAIN]}
    extra = {q for q, i in lr.pairs if (q, i) not in g_pairs}
    assert extra and extra <= set(dev_ids)
    assert meta["ce_calls"]["tune"] == len(set(lr.pairs)) - 20 * N_TRAIN


def test_search_uses_the_index_choice_unless_told(tuned):
    lr, enc, path = tuned
    index = Index(path)
    tests = lr.queries[N_TRAIN:]
    chosen = index.search_defaults("trns")
    # make the explicit settings differ from the choice, so the comparison can fail
    other = 0.8 if chosen["lambda"] != 0.8 else 0.0
    runs = {}
    for name, s in {"default": SearchSettings(budget=20, rounds=4),
                    "explicit": SearchSettings(budget=20, rounds=4, lam=chosen["lambda"],
                                               intercept=chosen["intercept"]),
                    "other": SearchSettings(budget=20, rounds=4, lam=other,
                                            intercept=not chosen["intercept"])}.items():
        searcher = Searcher(index, CachedCE(LowRank(n_queries=100), lr.items), enc.encode(tests))
        m = parse_method("axn:trns", index)
        runs[name] = [searcher.run(m, qi, q, s).scored.tolist() for qi, q in enumerate(tests)]
        assert searcher.axn_settings(m, s) == ((chosen["lambda"], chosen["intercept"])
                                               if name != "other" else (other, not chosen["intercept"]))
    assert runs["default"] == runs["explicit"]
    assert runs["default"] != runs["other"]


def test_an_index_without_a_choice_gets_lambda_0_with_the_offset(tuned, tmp_path):
    import shutil

    _, _, path = tuned
    copy = tmp_path / "old"
    shutil.copytree(path, copy)
    meta = json.loads((copy / "index.json").read_text())
    for v in meta["variants"].values():
        v.pop("search")
    (copy / "index.json").write_text(json.dumps(meta))
    assert Index(copy).search_defaults("trns") == UNTUNED
    meta["variants"]["trns"]["search"] = {"lambda": 3, "intercept": True}
    (copy / "index.json").write_text(json.dumps(meta))
    with pytest.raises(PapertoolsError, match="corrupt index file"):
        Index(copy).search_defaults("trns")


def test_tune_queries_zero_makes_no_choice(tmp_path):
    lr = LowRank(n_queries=60)
    config = BuildConfig(de="fake", ce="py:lowrank", k_d=10, variants=("de",), seed=0,
                         tune_queries=0)
    meta = build_index(texts(lr.items), texts(lr.queries[:50]), tmp_path / "i", config,
                       encoder=fake_de(lr), scorer=lr)
    assert meta["variants"]["de"]["search"] == UNTUNED and meta["tune_query_ids"] == []
    assert meta["ce_calls"]["tune"] == 0 and len(lr.pairs) == 10 * 50
    with pytest.raises(PapertoolsError, match="lambda"):
        build_index(texts(lr.items), texts(lr.queries[:50]), tmp_path / "j",
                    BuildConfig(de="fake", ce="py:lowrank", tune_lambdas=(1.5,)),
                    encoder=fake_de(lr), scorer=lr)


def test_anncur_does_not_collapse_when_its_anchor_block_is_square(tmp_path):
    """k_i anchor items = k_q anchor queries: the square anchor block of a nearly low-rank
    matrix has tiny singular values (noise); inverting them wrecked the CUR approximation."""
    lr = NoisyLowRank(n_items=400, n_queries=120, d=8)
    config = BuildConfig(de="fake", ce="py:noisy", k_d=5, variants=("de",), seed=0,
                         cur_queries=40, tune_queries=0)
    path = tmp_path / "i"
    build_index(texts(lr.items), texts(lr.queries[:60]), path, config, encoder=fake_de(lr),
                scorer=lr)
    index = Index(path)
    tests = lr.queries[60:]
    ce = CachedCE(lr, lr.items)
    exact = {q: np.argsort(-ce.scores(q, np.arange(400)))[:10] for q in tests}
    searcher = Searcher(index, ce, np.zeros((len(tests), 8)))
    m = parse_method("anncur", index)

    def recall(**kw):
        s = SearchSettings(budget=80, anchor_frac=0.5, k=10, **kw)  # k_i = 40 = k_q
        return np.mean([len(set(searcher.run(m, qi, q, s).top.tolist()) & set(exact[q])) / 10
                        for qi, q in enumerate(tests)])

    assert recall() >= 0.9
    assert recall(cur_rcond=RCOND) < recall() - 0.2  # what the cut prevents
