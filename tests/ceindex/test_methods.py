"""The methods on a built index: budgets, the R=1 equivalence, CUR exactness, resume, checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papertools.cli.ceindex.build import build_index
from papertools.cli.ceindex.evaluate import evaluate, exact_scores
from papertools.cli.ceindex.index import BuildConfig, Index
from papertools.cli.ceindex.methods import SearchSettings, Searcher, parse_method
from papertools.cli.ceindex.records import Texts
from papertools.cli.ceindex.scorers import CachedCE
from papertools.cli.ceindex.session import open_search
from papertools.core.errors import InputError, PapertoolsError

from tests.ceindex.conftest import FakeEncoder, LowRank
from tests.helpers import jsonl

N_TRAIN = 60


def texts(names):
    return Texts(list(names), list(names), [{} for _ in names], [None] * len(names))


def fake_de(lr: LowRank, noise=0.5, seed=1):
    rng = np.random.default_rng(seed)
    table = {t: v + rng.normal(scale=noise, size=v.shape) for t, v in zip(lr.items, lr.V)}
    table.update({t: u + rng.normal(scale=noise, size=u.shape) for t, u in zip(lr.queries, lr.U)})
    return FakeEncoder(table, rng.normal(size=lr.V.shape[1]))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    lr = LowRank()
    enc = fake_de(lr)
    path = tmp_path_factory.mktemp("idx") / "index"
    config = BuildConfig(de="fake", ce="py:lowrank", k_d=20, variants=("trns", "ind", "de"),
                         cur_queries=12, epochs=5, seed=0)
    build_index(texts(lr.items), texts(lr.queries[:N_TRAIN]), path, config, encoder=enc, scorer=lr)
    return lr, enc, path


def searcher_for(built):
    lr, enc, path = built
    scorer = LowRank()  # same matrices (same seed), fresh pair log
    index = Index(path)
    tests = scorer.queries[N_TRAIN:]
    return scorer, tests, Searcher(index, CachedCE(scorer, scorer.items), enc.encode(tests))


def test_index_records_ce_calls_and_variants(built):
    lr, _, path = built
    meta = json.loads((path / "index.json").read_text())
    assert meta["ce_calls"]["sparse"] == 20 * N_TRAIN
    assert meta["ce_calls"]["cur"] == 12 * len(lr.items)
    assert set(meta["variants"]) == {"trns", "ind", "de"}
    # the build scored each pair once, though CUR rows overlap G's entries
    assert len(lr.pairs) == len(set(lr.pairs)) == meta["ce_calls"]["computed_this_run"]
    # plus the pairs the choice of search settings scored on the held-out training queries
    assert 0 < meta["ce_calls"]["tune"]
    assert meta["ce_calls"]["computed_this_run"] < \
        20 * N_TRAIN + 12 * len(lr.items) + meta["ce_calls"]["tune"]


def test_axn_with_one_round_is_rnr(built):
    _, tests, s = searcher_for(built)
    for variant in ("trns", "ind", "de"):
        axn = parse_method(f"axn:{variant}", s.index)
        for qi, q in enumerate(tests[:8]):
            a = s.run(axn, qi, q, SearchSettings(budget=30, rounds=1, k=10))
            b = s.run(parse_method("rnr"), qi, q, SearchSettings(budget=30, k=10))
            assert a.scored.tolist() == b.scored.tolist() and a.top.tolist() == b.top.tolist()


@pytest.mark.parametrize("method", ["axn", "axn:ind", "rnr", "anncur", "adacur"])
def test_every_query_spends_exactly_the_budget(built, method):
    scorer, tests, s = searcher_for(built)
    m = parse_method(method, s.index)
    for qi, q in enumerate(tests):
        res = s.run(m, qi, q, SearchSettings(budget=37, rounds=4, k=5))
        assert res.ce_calls == 37 == len(set(res.scored.tolist()))
        assert sum(res.rounds) == 37
    assert len(scorer.pairs) == len(set(scorer.pairs)) == 37 * len(tests)


def test_eval_scores_no_pair_twice_and_cur_is_exact_on_a_low_rank_ce(built):
    scorer, tests, s = searcher_for(built)
    exact_scores(s.ce, tests, None, "py:lowrank", "x")
    rows = evaluate(s, tests, [parse_method(m, s.index) for m in ("axn", "rnr", "anncur", "adacur")],
                    [20, 40], [1, 10], SearchSettings(rounds=4))
    assert len(scorer.pairs) == len(set(scorer.pairs)) == len(tests) * len(scorer.items)
    by = {r["id"]: r for r in rows}
    # 12 anchor queries span the rank-8 score matrix: CUR's approximation is exact, so once
    # 8 anchor items are scored, the rest of the budget goes to the true top items
    assert by["adacur@40"]["recall"]["10"] == 1.0
    assert by["anncur@40"]["recall"]["10"] == 1.0
    assert by["axn:trns@40"]["recall"]["10"] >= by["rnr@40"]["recall"]["10"]
    assert all(r["ce_calls_per_query"] == r["budget"] for r in rows)
    assert by["rnr@20"]["index_ce_calls"] == 0 and by["adacur@20"]["index_ce_calls"] == 12 * 300


def test_search_is_deterministic_per_seed(built):
    runs = []
    for seed in (3, 3, 4):
        _, tests, s = searcher_for(built)
        m = parse_method("axn", s.index)
        runs.append([s.run(m, qi, q, SearchSettings(budget=20, rounds=2, init="random",
                                                     seed=seed)).scored.tolist()
                     for qi, q in enumerate(tests)])
    assert runs[0] == runs[1] != runs[2]


def _write(tmp_path, names, name="q.jsonl"):
    path = tmp_path / name
    path.write_bytes(jsonl([{"id": n, "text": n} for n in names]))
    return str(path)


def test_training_queries_are_refused_as_test_queries(built, tmp_path):
    lr, enc, path = built
    f = _write(tmp_path, [lr.queries[70], lr.queries[3]])
    with pytest.raises(InputError, match="training queries") as err:
        open_search(path, [f], encoder=enc, scorer=LowRank())
    assert err.value.line == 2 and err.value.file == f


def test_another_de_is_refused(built, tmp_path):
    lr, _, path = built
    f = _write(tmp_path, [lr.queries[70]])
    with pytest.raises(PapertoolsError, match="another dual encoder"):
        open_search(path, [f], encoder=fake_de(lr, seed=9), scorer=LowRank())
    with pytest.raises(PapertoolsError, match="built for the CE"):
        open_search(path, [f], ce_spec="maxsim:minilm", encoder=fake_de(lr), scorer=LowRank())


def test_method_errors(built):
    _, _, s = searcher_for(built)
    with pytest.raises(PapertoolsError, match="unknown method"):
        parse_method("bm25", s.index)
    with pytest.raises(PapertoolsError, match="no 'nope' item embeddings"):
        parse_method("axn:nope", s.index)
    with pytest.raises(PapertoolsError, match="smaller than the number of rounds"):
        s.run(parse_method("axn", s.index), 0, "q70", SearchSettings(budget=3, rounds=5))


def test_build_resumes_without_rescoring(tmp_path):
    lr = LowRank(n_items=60, n_queries=20, d=4)
    enc = fake_de(lr)
    config = BuildConfig(de="fake", ce="py:lowrank", k_d=5, cur_queries=3, epochs=2)

    class Failing(LowRank):
        def score(self, queries, items):
            if len(self.pairs) >= 30:
                raise RuntimeError("killed")
            return super().score(queries, items)

    first = Failing(n_items=60, n_queries=20, d=4)
    with pytest.raises(RuntimeError):
        build_index(texts(lr.items), texts(lr.queries), tmp_path / "i", config, encoder=enc,
                    scorer=first)
    assert not (tmp_path / "i" / "index.json").exists()
    with pytest.raises(PapertoolsError, match="not empty"):
        build_index(texts(lr.items), texts(lr.queries), tmp_path / "i", config, encoder=enc,
                    scorer=lr)
    second = LowRank(n_items=60, n_queries=20, d=4)
    build_index(texts(lr.items), texts(lr.queries), tmp_path / "i", config, encoder=enc,
                scorer=second, resume=True)
    assert not set(first.pairs) & set(second.pairs)  # nothing logged was scored again
    fresh = LowRank(n_items=60, n_queries=20, d=4)
    build_index(texts(lr.items), texts(lr.queries), tmp_path / "j", config, encoder=enc,
                scorer=fresh)
    for name in ("scores.jsonl", "cur.jsonl", "emb_trns.npy"):
        assert (tmp_path / "i" / name).read_bytes() == (tmp_path / "j" / name).read_bytes()
    other = BuildConfig(de="fake", ce="py:lowrank", k_d=6, cur_queries=3, epochs=2)
    with pytest.raises(PapertoolsError, match="k_d"):
        build_index(texts(lr.items), texts(lr.queries), tmp_path / "i", other, encoder=enc,
                    scorer=lr, resume=True)
