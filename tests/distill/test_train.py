"""Training: the frozen document tower, embedding matching, resume, determinism, labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from papertools.core.models.encoders import load_encoder
from papertools.core.errors import PapertoolsError
from papertools.cli.distill.data import Query, check_disjoint
from papertools.cli.distill.student import cut_student
from papertools.cli.distill.teacher import DualEncoderTeacher
from papertools.cli.distill.train import (TrainConfig, batch_candidates, epoch_order,
                                          mine_hard_negatives, train)


def _student(tiny_teacher, corpus, hidden=16):
    teacher = load_encoder(tiny_teacher)
    torch.manual_seed(0)
    return cut_student(teacher, layers=1, hidden=hidden, vocab_texts=corpus.texts)


def _config(tmp_path, name, **kw):
    base = dict(out_dir=str(tmp_path / name), epochs=2, batch_size=8, lr=3e-3,
                query_max_length=24, doc_max_length=48, hard_negatives=2, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def test_inherited_document_tower_gets_no_gradient_and_is_encoded_once(tiny_teacher, data,
                                                                        tmp_path):
    corpus, train_q, _ = data
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    before = {k: v.clone() for k, v in teacher.encoder.model.state_dict().items()}
    summary = train(_config(tmp_path, "a", inherit_docs=True, query_emb_weight=1.0), teacher,
                    _student(tiny_teacher, corpus), corpus, train_q)
    after = teacher.encoder.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical
    assert all(p.grad is None for p in teacher.encoder.model.parameters())
    assert teacher.doc_encodings == len(corpus)  # the documents were embedded once
    assert summary["document_encoder"] == "teacher" and summary["steps"] == 10
    # the saved student loads with its projection and gives the teacher's width
    student = load_encoder(str(tmp_path / "a"))
    assert student.dim == teacher.dim and student.dense is not None


def _gaps(student_dir, teacher, test_q, corpus):
    """Mean ||e^t_q - e^s_q|| and mean |s^t - s^s| on held-out (query, positive) pairs."""
    from papertools.cli.distill.teacher import with_length

    student = load_encoder(student_dir) if isinstance(student_dir, str) else student_dir
    with_length(student, 24)
    texts = [q.text for q in test_q]
    e_t, e_s = teacher.encoder.encode(texts), student.encode(texts)
    d_t = teacher.encoder.encode([corpus.texts[q.positives[0]] for q in test_q])
    dist = np.linalg.norm(e_t - e_s, axis=1).mean()
    gap = np.abs((e_t * d_t).sum(1) - (e_s * d_t).sum(1)).mean()
    return dist, gap


def test_embedding_matching_pulls_query_embeddings_and_scores_toward_the_teacher(
        tiny_teacher, data, tmp_path):
    corpus, train_q, test_q = data
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    start = _student(tiny_teacher, corpus)
    dist0, gap0 = _gaps(start, teacher, test_q, corpus)
    train(_config(tmp_path, "emb", epochs=4, inherit_docs=True, score_weight=0.0,
                  query_emb_weight=1.0), teacher, start, corpus, train_q)
    dist1, gap1 = _gaps(str(tmp_path / "emb"), teacher, test_q, corpus)
    assert dist1 < 0.7 * dist0, (dist0, dist1)
    assert gap1 < 0.7 * gap0, (gap0, gap1)


def _corpus_kl(student, teacher, queries, corpus, tau):
    """Mean KL(teacher || student) of the softmax score distributions over the whole corpus."""
    from papertools.cli.distill.teacher import with_length

    with_length(student, 24)
    texts = [q.text for q in queries]
    d_t = teacher.encoder.encode(corpus.texts)
    s_t, s_s = (e.encode(texts) @ d_t.T / tau for e in (teacher.encoder, student))
    log_p = s_t - np.logaddexp.reduce(s_t, axis=1, keepdims=True)
    log_q = s_s - np.logaddexp.reduce(s_s, axis=1, keepdims=True)
    return float((np.exp(log_p) * (log_p - log_q)).sum(1).mean())


def test_corpus_candidates_distil_the_teachers_ranking_of_the_whole_corpus(tiny_teacher, data,
                                                                           tmp_path):
    corpus, train_q, _ = data
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    kl = {}
    for whole in (False, True):
        # no hard negatives, no in-batch documents: a query's own candidates are its positives
        # alone, so without the whole corpus the score loss has nothing to rank (only the
        # fitted projection moves the student)
        out = f"all-{whole}"
        summary = train(_config(tmp_path, out, epochs=10, inherit_docs=True, query_emb_weight=0.0,
                                corpus_candidates=whole, hard_negatives=0, in_batch=False,
                                temperature=0.01),
                        teacher, _student(tiny_teacher, corpus), corpus, train_q)
        assert summary["config"]["corpus_candidates"] == whole
        kl[whole] = _corpus_kl(load_encoder(str(tmp_path / out)), teacher, train_q, corpus, 0.01)
    assert kl[True] < 0.7 * kl[False], kl


@pytest.mark.parametrize("grouped", [False, True])
def test_resume_continues_and_matches_an_uninterrupted_run(tiny_teacher, data, tmp_path,
                                                           grouped):
    corpus, train_q, _ = data
    train_q = train_q[:24]  # 3 steps an epoch, 6 in all
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    kw = dict(inherit_docs=True, query_emb_weight=1.0, save_every=2, group_by_length=grouped)
    train(_config(tmp_path, "full", **kw), teacher, _student(tiny_teacher, corpus), corpus, train_q)

    def stop_at_step_3(row):
        if row["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, "cut", **kw), teacher, _student(tiny_teacher, corpus), corpus,
              train_q, log=stop_at_step_3)
    state = torch.load(tmp_path / "cut" / "checkpoint" / "state.pt", weights_only=False)
    assert state["state"]["step"] == 3
    with pytest.raises(PapertoolsError, match="already holds a run"):
        train(_config(tmp_path, "cut", **kw), teacher, _student(tiny_teacher, corpus), corpus,
              train_q)
    rows = []
    train(_config(tmp_path, "cut", resume=True, **kw), teacher, _student(tiny_teacher, corpus),
          corpus, train_q, log=rows.append)
    assert rows[0]["step"] == 4 and rows[-1]["step"] == 6
    a, b = load_encoder(str(tmp_path / "full")), load_encoder(str(tmp_path / "cut"))
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for name in sa:
        if not name.startswith("pooler."):  # not saved: AutoModel adds a fresh unused pooler
            assert torch.equal(sa[name], sb[name]), name
    assert torch.equal(a.dense.linear.weight, b.dense.linear.weight)


def test_symmetric_student_with_document_matching_is_deterministic(tiny_teacher, data, tmp_path):
    corpus, train_q, _ = data
    train_q = train_q[:16]
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    kw = dict(epochs=1, label_weight=0.5, doc_emb_weight=1.0, query_emb_weight=1.0, seed=5)
    one = train(_config(tmp_path, "s1", **kw), teacher, _student(tiny_teacher, corpus), corpus,
                train_q)
    train(_config(tmp_path, "s2", **kw), teacher, _student(tiny_teacher, corpus), corpus, train_q)
    assert one["document_encoder"] == "student"
    a, b = load_encoder(str(tmp_path / "s1")), load_encoder(str(tmp_path / "s2"))
    texts = corpus.texts[:6]
    np.testing.assert_array_equal(a.encode(texts), b.encode(texts))


def test_bad_configurations_fail_cleanly(tiny_teacher, data, tmp_path):
    corpus, train_q, _ = data
    teacher = DualEncoderTeacher(load_encoder(tiny_teacher))
    student = _student(tiny_teacher, corpus)
    student.dense = None  # 16 wide against a 32-wide teacher
    with pytest.raises(PapertoolsError, match="needs a projection"):
        train(_config(tmp_path, "p", inherit_docs=True, projection="never"), teacher, student,
              corpus, train_q)
    with pytest.raises(PapertoolsError, match="document embedding matching needs"):
        train(_config(tmp_path, "d", inherit_docs=True, doc_emb_weight=1.0), teacher,
              _student(tiny_teacher, corpus), corpus, train_q)
    with pytest.raises(PapertoolsError, match="whole-corpus candidates need"):
        train(_config(tmp_path, "c", corpus_candidates=True), teacher,
              _student(tiny_teacher, corpus), corpus, train_q)
    generated = [Query("g", "a generated query", [], [], True, "x")]
    with pytest.raises(PapertoolsError, match="need labelled queries"):
        train(_config(tmp_path, "g", label_weight=1.0), teacher, _student(tiny_teacher, corpus),
              corpus, generated)


def test_grouped_epoch_order_batches_similar_lengths_and_is_seeded():
    rng = np.random.default_rng(3)
    lengths = rng.integers(5, 300, size=1003).tolist()  # 31 full batches of 32 and one of 11

    def padded(order):  # what a batch costs: its longest member, times its size
        return sum(max(lengths[i] for i in order[s:s + 32]) * len(order[s:s + 32])
                   for s in range(0, len(order), 32))

    plain = epoch_order(1003, 0, 0)
    grouped = epoch_order(1003, 0, 0, lengths, batch_size=32, group=4)
    assert epoch_order(1003, 0, 0, lengths=None, batch_size=32) == plain  # unchanged when off
    assert sorted(grouped) == list(range(1003))  # every query once
    assert grouped == epoch_order(1003, 0, 0, lengths, batch_size=32, group=4)
    assert grouped != epoch_order(1003, 0, 1, lengths, batch_size=32, group=4)
    assert padded(grouped) < 0.75 * padded(plain)
    assert [len(grouped[s:s + 32]) for s in range(0, 1003, 32)][-1] == 11  # short batch last
    firsts = [lengths[grouped[s]] for s in range(0, 992, 32)]
    assert firsts != sorted(firsts, reverse=True)  # batches are shuffled, not sorted
    assert epoch_order(0, 0, 0, [], batch_size=32) == []


def test_hard_negatives_and_candidates():
    q = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    d = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    assert mine_hard_negatives(q, d, [[0], [2]], 2) == [[1, 3], [3, 1]]
    queries = [Query("a", "a", [0]), Query("b", "b", [2])]
    cands, allowed, positive = batch_candidates(queries, [[0, 1], [2, 1]], in_batch=False)
    assert cands == [0, 1, 2]
    assert allowed.tolist() == [[True, True, False], [False, True, True]]
    assert positive.tolist() == [[True, False, False], [False, False, True]]
    _, allowed, _ = batch_candidates(queries, [[0, 1], [2, 1]], in_batch=True)
    assert allowed.all()


def test_training_and_held_out_queries_must_be_disjoint(data):
    _, train_q, test_q = data
    assert not {q.id for q in train_q} & {q.id for q in test_q}
    check_disjoint(train_q, test_q)  # the shipped split is disjoint
    copy = Query("new-id", test_q[0].text.upper(), [0])
    with pytest.raises(PapertoolsError, match="has the text of held-out query"):
        check_disjoint(train_q + [copy], test_q)
    child = Query("q:x:g0", "something else entirely", [], [], True, test_q[0].id)
    with pytest.raises(PapertoolsError, match="was generated from held-out query"):
        check_disjoint([child], test_q, "generated")


def test_cross_encoder_teacher_with_dual_pooling(tiny_teacher, tmp_path, data):
    from papertools.core.models.encoders import tiny_bert
    from papertools.cli.distill.teacher import load_teacher, teacher_kind

    corpus, train_q, _ = data
    ce_dir = tiny_bert(tmp_path / "ce", cross_encoder=True, hidden=16, layers=1, heads=2)
    assert teacher_kind(ce_dir) == "cross-encoder"
    teacher = load_teacher(ce_dir, "auto", "cpu", "dual")
    scores, eq, ed = teacher.pairs(["a query", "another"], ["a doc", "a second doc"])
    assert scores.shape == (2,) and eq.shape == ed.shape == (2, 16)
    assert torch.allclose(scores, (eq * ed).sum(-1))  # the dual-pooling score
    with pytest.raises(PapertoolsError, match="only a dual-encoder teacher"):
        train(_config(tmp_path, "x", inherit_docs=True), teacher,
              _student(tiny_teacher, corpus), corpus, train_q[:8])
    student = _student(tiny_teacher, corpus)  # 16 wide, as the cross-encoder
    student.dense = None
    summary = train(_config(tmp_path, "ce-student", epochs=1, query_emb_weight=1.0,
                            doc_emb_weight=1.0),
                    teacher, student, corpus, train_q[:16])
    assert summary["teacher_kind"] == "cross-encoder" and summary["steps"] == 2
    assert summary["document_encoder"] == "student"
    assert load_encoder(str(tmp_path / "ce-student")).dim == 16


def test_teacher_embeds_labelled_and_unlabelled_queries_as_two_cached_lists(tiny_teacher):
    """A large unlabelled set is cached on its own, so any labelled queries can join it."""
    from papertools.cli.distill.train import _teacher_queries

    class Recorder:
        def __init__(self):
            self.calls = []

        def encode_queries(self, texts, **kw):
            self.calls.append(list(texts))
            return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    queries = [Query("a", "aa", [0]), Query("g1", "ggg", [], [], True),
               Query("b", "bbbb", [1]), Query("g2", "g", [], [], True)]
    teacher = Recorder()
    vectors = _teacher_queries(teacher, queries, TrainConfig(out_dir="unused"))
    assert teacher.calls == [["aa", "bbbb"], ["ggg", "g"]]
    assert vectors[:, 0].tolist() == [2.0, 3.0, 4.0, 1.0]  # rows in the queries' order


def test_teacher_cache_is_per_text_reused_across_lists_and_kept_when_interrupted(
        tiny_teacher, tmp_path, monkeypatch):
    from papertools.cli.distill import teacher as teacher_mod

    encoder = load_encoder(tiny_teacher)
    calls = []
    real = encoder.encode

    def counting(texts, **kw):
        calls.append(list(texts))
        return real(texts, **kw)

    monkeypatch.setattr(encoder, "encode", counting)
    monkeypatch.setattr(teacher_mod, "CACHE_CHUNK", 3)
    texts = [f"text number {i} about sorting lists" for i in range(8)]
    cache = str(tmp_path / "cache")
    first = teacher_mod.cached_encode(encoder, texts, max_length=24, cache_dir=cache)
    assert [len(c) for c in calls] == [3, 3, 2]
    np.testing.assert_allclose(first, real(texts), atol=1e-5)
    calls.clear()
    # a different list sharing most texts (another split): only the new ones are encoded
    again = teacher_mod.cached_encode(encoder, texts[5:] + ["a new text"] + texts[:2],
                                      max_length=24, cache_dir=cache)
    assert calls == [["a new text"]]
    np.testing.assert_array_equal(again[:3], first[5:])
    np.testing.assert_array_equal(again[4:], first[:2])
    # another token limit is another setting: nothing reused
    calls.clear()
    teacher_mod.cached_encode(encoder, texts[:2], max_length=16, cache_dir=cache)
    assert calls == [texts[:2]]
    # Ctrl-C during the third chunk: the first two chunks are kept and not encoded again
    more = [f"another text {i}" for i in range(8)]
    seen = []

    def interrupted(texts, **kw):
        seen.append(len(texts))
        if len(seen) == 3:
            raise KeyboardInterrupt
        return real(texts, **kw)

    monkeypatch.setattr(encoder, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        teacher_mod.cached_encode(encoder, more, max_length=24, cache_dir=cache)
    monkeypatch.setattr(encoder, "encode", counting)
    calls.clear()
    resumed = teacher_mod.cached_encode(encoder, more, max_length=24, cache_dir=cache)
    assert [len(c) for c in calls] == [2]
    np.testing.assert_allclose(resumed, real(more), atol=1e-5)
