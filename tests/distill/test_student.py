"""Students cut from a teacher: vocabulary pruning, depth, width, parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.core.encoders import load_encoder
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
