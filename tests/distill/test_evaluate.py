"""Metrics against hand-computed values; exact search order; the paper's table."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.cli.distill.evaluate import (PAPER, STEPS, metrics, paper_retention,
                                             reciprocal_ranks, retention_interval, search)


def test_mrr_and_recall_match_hand_computed_values():
    ranked = np.array([[3, 1, 2, 0], [0, 1, 2, 3], [2, 3, 0, 1]])
    positives = [[1], [2, 3], [9]]
    m = metrics(ranked, positives, ks=(1, 2, 4))
    assert m["mrr@10"] == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)
    assert m["recall@1"] == pytest.approx(0.0)
    assert m["recall@2"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["recall@4"] == pytest.approx((1 + 1 + 0) / 3)


def test_a_positive_past_rank_ten_scores_zero_reciprocal_rank():
    ranked = np.arange(20)[None, :]
    assert metrics(ranked, [[10]], ks=(20,))["mrr@10"] == 0.0
    assert metrics(ranked, [[9]], ks=(20,))["mrr@10"] == pytest.approx(0.1)


def test_search_is_exact_and_breaks_ties_by_row():
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert search(queries, docs, 3, block=1).tolist() == [[0, 2, 3], [1, 3, 0]]
    assert search(queries, docs, 10).shape == (2, 4)


def test_paper_table_and_retention():
    assert set(STEPS) <= set(PAPER["msmarco_mrr10"])
    assert paper_retention("+query_emb")["msmarco_mrr10"] == round(35.4 / 37.2, 4)
    assert paper_retention("+querygen")["nq_recall5"] == round(64.3 / 72.3, 4)
    assert paper_retention("mine") == {}


def test_reciprocal_ranks_average_to_mrr_and_the_retention_interval_brackets_it():
    rng = np.random.default_rng(0)
    ranked = np.array([rng.permutation(30) for _ in range(200)])
    positives = [[int(rng.integers(0, 30))] for _ in range(200)]
    rr = reciprocal_ranks(ranked, positives)
    assert rr.mean() == pytest.approx(metrics(ranked, positives)["mrr@10"])
    assert retention_interval(rr, rr) == [1.0, 1.0]
    assert retention_interval(rr / 2, rr) == [0.5, 0.5]
    other = reciprocal_ranks(np.array([rng.permutation(30) for _ in range(200)]), positives)
    lo, hi = retention_interval(other, rr)
    point = other.sum() / rr.sum()
    assert lo < point < hi and hi - lo > 0.1  # 200 random queries: a wide interval
    assert retention_interval(other, rr) == [lo, hi]  # seeded


def test_vocabulary_split_marks_queries_a_pruned_student_tokenises_differently(tiny_teacher,
                                                                                data):
    from papertools.cli.distill.evaluate import split_retention, split_summary, vocabulary_split
    from papertools.cli.distill.student import corpus_token_ids, pruned_tokenizer
    from papertools.core.models.encoders import load_encoder

    corpus, train, test = data
    teacher = load_encoder(tiny_teacher).tokenizer
    texts = corpus.texts + [q.text for q in train]
    small = pruned_tokenizer(teacher, corpus_token_ids(teacher, texts, min_count=1))
    queries = [q.text for q in test] + ["unseenword stagnated", texts[0]]
    split = vocabulary_split(small, teacher, queries)
    assert split[-2] and not split[-1]  # unseen words split; a text it was pruned on does not
    for text, flag in zip(queries, split):  # split exactly when the pieces differ
        assert flag == (small.tokenize(text)[:62] != teacher.tokenize(text)[:62])
    assert not vocabulary_split(teacher, teacher, queries).any()
    student, teach = np.array([1.0, 0.0, 0.5, 0.5]), np.array([1.0, 1.0, 0.5, 1.0])
    out = split_retention(np.array([False, True, False, True]), student, teach)
    assert out == {"split_queries": 0.5, "retention_split": 0.25, "retention_unsplit": 1.0}
    assert split_retention(np.zeros(4, bool), student, teach) == {}
    assert "50.0% of the queries" in split_summary({"id": "s", **out})
