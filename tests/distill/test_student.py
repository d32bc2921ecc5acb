"""Students cut from a teacher: vocabulary pruning, depth, width, parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.core.models.encoders import load_encoder
from papertools.core.errors import PapertoolsError
from papertools.cli.distill.student import (corpus_token_ids, cut_student, evenly_spaced_layers,
                                            from_config, parameter_counts, pruned_tokenizer)


def test_evenly_spaced_layers_end_with_the_last():
    assert evenly_spaced_layers(6, 2) == [2, 5]
    assert evenly_spaced_layers(6, 3) == [1, 3, 5]
    assert evenly_spaced_layers(6, 6) == list(range(6))
    with pytest.raises(PapertoolsError):
        evenly_spaced_layers(2, 3)


def test_pruned_vocabulary_tokenises_the_corpus_exactly_as_before(tiny_teacher, data):
    corpus, train, _ = data
    teacher = load_encoder(tiny_teacher)
    texts = corpus.texts + [q.text for q in train]
    keep = corpus_token_ids(teacher.tokenizer, texts)
    small = pruned_tokenizer(teacher.tokenizer, keep)
    assert len(small) == len(keep) < len(teacher.tokenizer) / 3
    for text in texts[:30]:
        old = teacher.tokenizer(text)["input_ids"]
        assert [keep[i] for i in small(text)["input_ids"]] == old
    # an unseen ASCII word still splits into pieces, not [UNK]
    assert small.unk_token not in small.tokenize("zqxv")


def test_min_count_drops_rare_tokens_which_then_split_into_kept_pieces(tiny_teacher, data):
    from collections import Counter

    corpus, train, _ = data
    teacher = load_encoder(tiny_teacher)
    texts = corpus.texts + [q.text for q in train]
    length = teacher.max_length  # what cut_student reads of each text
    counts = Counter(i for ids in teacher.tokenizer(texts, truncation=True, max_length=length)[
        "input_ids"] for i in ids)
    every, common = (corpus_token_ids(teacher.tokenizer, texts, length, min_count=m)
                     for m in (1, 3))
    rare = {i for i, n in counts.items() if n < 3} - set(teacher.tokenizer.all_special_ids)
    rare = {i for i in rare if len(teacher.tokenizer.convert_ids_to_tokens(i).lstrip("#")) > 1}
    assert rare and rare <= set(every) and not rare & set(common)
    assert set(common) == set(every) - rare
    small = pruned_tokenizer(teacher.tokenizer, common)
    word = teacher.tokenizer.convert_ids_to_tokens(sorted(rare)[0])
    if not word.startswith("##"):  # a whole word that is now rare: pieces, never [UNK]
        pieces = small.tokenize(word)
        assert len(pieces) > 1 and small.unk_token not in pieces
    student = cut_student(teacher, layers=1, hidden=16, vocab_texts=texts, min_count=3,
                          dropout=0.0)
    assert parameter_counts(student)["vocab_size"] == len(common)
    assert student.model.config.hidden_dropout_prob == 0.0


def test_full_width_copy_with_pruned_vocabulary_embeds_like_the_teacher(tiny_teacher, data):
    corpus, train, _ = data
    teacher = load_encoder(tiny_teacher)
    student = cut_student(teacher, vocab_texts=corpus.texts + [q.text for q in train])
    a, b = teacher.encode(corpus.texts[:20]), student.encode(corpus.texts[:20])
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert student.dense is None


def test_narrow_student_counts_round_trip_and_errors(tiny_teacher, data, tmp_path):
    corpus, _, _ = data
    teacher = load_encoder(tiny_teacher)
    student = cut_student(teacher, layers=1, hidden=16, vocab_texts=corpus.texts)
    counts = parameter_counts(student)
    V = counts["vocab_size"]
    # word + 128 positions + 2 types, and the LayerNorm; one layer of width 16, FFN 64
    assert counts["embedding"] == (V + 128 + 2) * 16 + 2 * 16
    assert counts["non_embedding"] == 4 * (16 * 16 + 16) + 2 * 16 + (16 * 64 + 64) + (64 * 16 + 16) + 2 * 16
    assert counts["projection"] == 16 * 32 + 32 and student.dim == 32
    student.save(tmp_path / "s")
    again = load_encoder(str(tmp_path / "s"))
    assert again.dim == 32 and again.normalize == teacher.normalize
    np.testing.assert_array_equal(student.encode(corpus.texts[:5]), again.encode(corpus.texts[:5]))
    with pytest.raises(PapertoolsError, match="cannot be cut from a teacher 32 wide"):
        cut_student(teacher, hidden=64)
    with pytest.raises(PapertoolsError, match="multiple of the teacher's head size"):
        cut_student(teacher, hidden=24)


def test_from_config_builds_a_random_student_of_that_shape(tiny_teacher, tmp_path):
    import json

    teacher = load_encoder(tiny_teacher)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                               "intermediate_size": 16, "max_position_embeddings": 64}))
    student = from_config(str(cfg), teacher, vocab_texts=["hello world"])
    assert student.model.config.hidden_size == 8 and student.dim == 32
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PapertoolsError, match="not a BERT config"):
        from_config(str(bad), teacher)


def test_activation_basis_keeps_more_of_the_teachers_hidden_states(tiny_teacher, data):
    import torch

    from papertools.cli.distill.student import _activation_basis, _principal_basis

    corpus, train, _ = data
    teacher = load_encoder(tiny_teacher)
    texts = corpus.texts[:40] + [q.text for q in train[:40]]
    layers = list(range(teacher.model.config.num_hidden_layers))
    U = _activation_basis(teacher, texts, layers, 16)
    assert U.shape == (32, 16)
    torch.testing.assert_close(U.T @ U, torch.eye(16), atol=1e-5, rtol=0)
    W = _principal_basis(teacher.model.embeddings.word_embeddings.weight.detach(), 16)
    with torch.no_grad():
        batch = teacher.tokenize(texts)
        states = teacher.model(**batch, output_hidden_states=True).hidden_states
        x = torch.cat([s[batch["attention_mask"].bool()] for s in states])
    kept = lambda B: float((x @ B).pow(2).sum() / x.pow(2).sum())  # noqa: E731
    assert kept(U) > kept(W) and kept(U) > 0.5
    student = cut_student(teacher, layers=1, hidden=16, vocab_texts=texts, basis_texts=texts)
    assert student.dim == 32


def test_factorised_embeddings_count_save_load_and_train(tiny_teacher, data, tmp_path):
    import torch

    from papertools.cli.distill.teacher import DualEncoderTeacher
    from papertools.cli.distill.train import TrainConfig, train

    corpus, train_q, _ = data
    teacher = load_encoder(tiny_teacher)
    plain = cut_student(teacher, layers=1, hidden=16, vocab_texts=corpus.texts)
    small = cut_student(teacher, layers=1, hidden=16, vocab_texts=corpus.texts, embedding_size=8)
    assert type(small.model).__name__ == "AlbertModel"
    a, b = parameter_counts(plain), parameter_counts(small)
    V = a["vocab_size"]
    # tokens, 128 positions and 2 types in 8 dimensions, their LayerNorm, the map 8 -> 16
    assert b["embedding"] == (V + 128 + 2) * 8 + 2 * 8 + (8 * 16 + 16)
    assert b["non_embedding"] == a["non_embedding"] and b["projection"] == a["projection"]
    small.save(tmp_path / "s")
    again = load_encoder(str(tmp_path / "s"))
    np.testing.assert_array_equal(small.encode(corpus.texts[:5]), again.encode(corpus.texts[:5]))
    # the map starts from BERT's LayerNorm: the factorised student starts near the plain one
    x, y, z = (e.encode(corpus.texts[:20]) for e in (plain, small, from_config_like(plain)))
    near = float((x * y).sum(1).mean())
    assert near > float((x * z).sum(1).mean()) and near > 0.5
    before = again.model.embeddings.word_embeddings.weight.detach().clone()
    config = TrainConfig(out_dir=str(tmp_path / "t"), epochs=1, batch_size=8, lr=3e-3,
                         query_max_length=24, doc_max_length=48, hard_negatives=2,
                         inherit_docs=True, query_emb_weight=1.0)
    train(config, DualEncoderTeacher(teacher), again, corpus, train_q)
    trained = load_encoder(str(tmp_path / "t"))
    assert type(trained.model).__name__ == "AlbertModel"
    assert not torch.equal(trained.model.embeddings.word_embeddings.weight, before)
    with pytest.raises(PapertoolsError, match="below the student's width"):
        cut_student(teacher, layers=1, hidden=16, vocab_texts=corpus.texts, embedding_size=16)


def test_narrow_heads_are_low_rank_copies_of_the_teachers_that_save_load_and_train(
        tiny_teacher, data, tmp_path):
    import torch

    from papertools.cli.distill.student import _layer_moments, factorise_embeddings
    from papertools.cli.distill.teacher import DualEncoderTeacher
    from papertools.cli.distill.train import TrainConfig, train

    corpus, train_q, _ = data
    teacher = load_encoder(tiny_teacher)  # 32 wide, 2 heads of 16
    texts = corpus.texts[:40]
    # at full rank the narrow-head path (whitened SVDs) reproduces the plain ALBERT copy
    bert = cut_student(teacher).model
    moments = _layer_moments(teacher, texts, [0, 1])
    plain = factorise_embeddings(bert, 24).eval()
    same = factorise_embeddings(bert, 24, head_size=16, moments=moments).eval()
    assert type(same).__name__ == "NarrowAlbertModel"
    batch = teacher.tokenize(texts[:6])
    with torch.no_grad():
        torch.testing.assert_close(same(**batch).last_hidden_state,
                                   plain(**batch).last_hidden_state, atol=1e-4, rtol=1e-4)
    wide = cut_student(teacher, embedding_size=24, vocab_texts=corpus.texts)
    narrow = cut_student(teacher, embedding_size=24, head_size=8, vocab_texts=corpus.texts)
    a, b = parameter_counts(wide), parameter_counts(narrow)
    # per layer (2 of them): queries, keys and values lose 32 x 16 weights and 16 biases each
    # (2 heads x 8 dimensions), the output map 16 x 32 weights
    assert a["non_embedding"] - b["non_embedding"] == 2 * (3 * (32 * 16 + 16) + 16 * 32)
    assert b["embedding"] == a["embedding"]
    x, y = wide.encode(texts), narrow.encode(texts)
    assert float((x * y).sum(1).mean()) > 0.5  # half the head size, still near the teacher
    narrow.save(tmp_path / "n")
    again = load_encoder(str(tmp_path / "n"))
    assert type(again.model).__name__ == "NarrowAlbertModel"
    np.testing.assert_array_equal(again.encode(texts[:5]), narrow.encode(texts[:5]))
    before = again.model.encoder.albert_layer_groups[0].albert_layers[0].attention.query.weight
    before = before.detach().clone()
    config = TrainConfig(out_dir=str(tmp_path / "t"), epochs=1, batch_size=8, lr=3e-3,
                         query_max_length=24, doc_max_length=48, hard_negatives=2,
                         inherit_docs=True, query_emb_weight=1.0)
    train(config, DualEncoderTeacher(teacher), again, corpus, train_q)
    trained = load_encoder(str(tmp_path / "t"))
    query = trained.model.encoder.albert_layer_groups[0].albert_layers[0].attention.query
    assert query.weight.shape == before.shape == (16, 32)
    assert not torch.equal(query.weight, before)
    with pytest.raises(PapertoolsError, match="needs --embedding-size"):
        cut_student(teacher, head_size=8)
    with pytest.raises(PapertoolsError, match="head size"):
        cut_student(teacher, embedding_size=24, head_size=17)


def from_config_like(encoder):
    """The same shape, randomly initialised (a baseline for 'near')."""
    import copy

    import torch

    other = copy.deepcopy(encoder)
    torch.manual_seed(1)
    for p in other.model.parameters():
        if p.ndim >= 2:
            torch.nn.init.normal_(p, std=0.02)
    return other


@pytest.mark.parametrize("kwargs", [
    {"layers": 1, "hidden": 16},  # narrower: plain embeddings and a projection
    {"layer_map": [0, 1], "intermediate": 40, "max_positions": 64},  # full width
    {"layers": 2, "embedding_size": 20},  # factorised
    {"layers": 1, "embedding_size": 12, "head_size": 8},  # narrow heads
])
def test_predicted_counts_are_the_built_students(kwargs, tiny_teacher, data):
    from papertools.cli.distill.student import predicted_counts, student_shape

    corpus, _, _ = data
    teacher = load_encoder(tiny_teacher)
    student = cut_student(teacher, vocab_texts=corpus.texts, **kwargs)
    built = parameter_counts(student)
    shape = student_shape(teacher, **{k: v for k, v in kwargs.items() if k != "embedding_size"})
    predicted = predicted_counts(shape, built["vocab_size"], kwargs.get("embedding_size"))
    assert predicted == {k: built[k] for k in predicted}


def test_a_budget_keeps_every_token_and_shrinks_the_embeddings_before_cutting_rare_ones(
        tiny_teacher, data):
    from papertools.cli.distill.student import (fit_budget, predicted_counts, student_shape,
                                                token_counts)

    corpus, train, _ = data
    teacher = load_encoder(tiny_teacher)
    texts = corpus.texts + [q.text for q in train]
    counts = token_counts(teacher.tokenizer, texts, teacher.max_length)
    every = len(corpus_token_ids(teacher.tokenizer, texts, teacher.max_length))
    shape = student_shape(teacher, layers=1)
    fit = lambda budget, **kw: fit_budget(shape, budget, tokenizer=teacher.tokenizer,  # noqa
                                          counts=counts, **kw)
    plain = predicted_counts(shape, every, None)["total"]
    assert fit(plain) == {"min_count": 1, "embedding_size": None, "vocab_size": every,
                          "parameters": plain}
    # a little less: every token, the largest factorised embeddings that fit
    chosen = fit(plain - 1)
    assert chosen["min_count"] == 1 and chosen["vocab_size"] == every
    e = chosen["embedding_size"]
    assert 16 <= e < 32 and chosen["parameters"] <= plain - 1
    assert e == 31 or predicted_counts(shape, every, e + 1)["total"] > plain - 1
    # below the smallest embeddings over every token: rare tokens go, the fewest that must
    floor = predicted_counts(shape, every, 16)["total"]
    cut = fit(floor - 1000)
    assert cut["min_count"] > 1 and cut["vocab_size"] < every
    assert cut["parameters"] <= floor - 1000
    kept = len(corpus_token_ids(teacher.tokenizer, texts, teacher.max_length,
                                cut["min_count"] - 1))
    assert cut["vocab_size"] == len(corpus_token_ids(teacher.tokenizer, texts,
                                                     teacher.max_length, cut["min_count"]))
    assert predicted_counts(shape, kept, 16)["total"] > floor - 1000
    # a given embedding size is kept; only the cut is chosen
    fixed = fit(floor - 1000, embedding_size=20)
    assert fixed["embedding_size"] == 20 and fixed["parameters"] <= floor - 1000
    with pytest.raises(PapertoolsError, match="layers and projection alone cost"):
        fit(1000)
    # the built student has the predicted size
    student = cut_student(teacher, layers=1, vocab_texts=texts, min_count=cut["min_count"],
                          embedding_size=cut["embedding_size"])
    assert parameter_counts(student)["total"] == cut["parameters"]
