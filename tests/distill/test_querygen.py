"""Query generation: perturbation, a local seq2seq model, and no labels ever."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.core.seed import numpy_rng
from papertools.cli.distill.ablation import generated_queries
from papertools.cli.distill.data import normalise
from papertools.cli.distill.querygen import (QueryMaker, Seq2SeqGenerator, masked_span,
                                             perturb)
from tests.helpers import invoke, jsonl


def test_query_maker_keeps_each_new_text_once_and_never_a_source_or_held_out_text():
    sources = [(0, "a", "Open the file for reading"), (3, "b", "Close the file after writing")]
    held = {"open the file for writing"}
    maker = QueryMaker(sources, held, per_query=30, seed=0, p_drop=0.4, p_replace=0.3,
                       p_swap=0.3)
    made = [(k, new) for index, _, text in sources for k, new in maker.queries(index, text)]
    keys = [normalise(new) for _, new in made]
    assert len(made) > 5 and len(set(keys)) == len(keys)
    assert not set(keys) & ({normalise(t) for _, _, t in sources} | held)
    assert all(0 <= k < 30 for k, _ in made)
    again = QueryMaker(sources, held, per_query=30, seed=0, p_drop=0.4, p_replace=0.3,
                       p_swap=0.3)
    assert [(k, new) for index, _, text in sources for k, new in again.queries(index, text)] \
        == made


def test_perturbation_is_seeded_and_keeps_at_least_two_words():
    text = "Return the number of bytes in the buffer"
    a = [perturb(text, numpy_rng(1, 0), ["zebra"], 0.3, 0.2, 0.2) for _ in range(1)]
    b = [perturb(text, numpy_rng(1, 0), ["zebra"], 0.3, 0.2, 0.2) for _ in range(1)]
    assert a == b
    outs = {perturb(text, numpy_rng(1, i), ["zebra"], 0.3, 0.2, 0.2) for i in range(20)}
    assert len(outs) > 10 and all(len(o.split()) >= 2 for o in outs)
    assert perturb("word", numpy_rng(0), ["x"]) == "word"
    assert perturb(text, numpy_rng(0), [], 0.0, 0.0, 0.0) == text


def test_masked_span_replaces_one_span():
    words = "a b c d e f".split()
    masked, start, stop = masked_span(words, np.random.default_rng(0), "<M>")
    assert masked.split() == words[:start] + ["<M>"] + words[stop:] and stop > start


def test_generated_queries_carry_no_labels_and_avoid_held_out_texts(data):
    _, train_q, test_q = data
    gen = generated_queries(train_q, test_q, 2, seed=0)
    assert gen and all(q.generated and not q.positives and not q.negatives for q in gen)
    held = {q.text.lower() for q in test_q} | {q.text.lower() for q in train_q}
    assert not any(q.text.lower() in held for q in gen)
    assert {q.source_id for q in gen} <= {q.id for q in train_q}


def test_gen_queries_cli_writes_unlabelled_records_and_skips_held_out_sources(data_files):
    run = invoke(["distill", "gen-queries", data_files["train"], "-n", "2", "--seed", "3",
                  "--exclude", data_files["test"], "-q"])
    assert run.exit_code == 0, run.stderr
    records = run.records
    assert records and all(r["generated"] is True and "positives" not in r for r in records)
    assert all(r["id"].startswith(r["source_id"] + ":g") for r in records)
    again = invoke(["distill", "gen-queries", data_files["train"], "-n", "2", "--seed", "3", "-q"])
    assert again.records == records
    # a held-out query given as a source is refused as a reject, not used
    held = invoke(["distill", "gen-queries", data_files["test"], "--exclude", data_files["test"]])
    assert held.exit_code == 0 and held.records == [] and "held-out query" in held.stderr


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    """A tiny random T5 over MiniLM's WordPiece vocabulary (no sentinels: [MASK] is used)."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    from papertools.core.models.encoders import packaged_minilm

    tok = AutoTokenizer.from_pretrained(packaged_minilm(), local_files_only=True)
    config = T5Config(vocab_size=len(tok), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                      num_heads=2, pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                      decoder_start_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("t5") / "t5"
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_seq2seq_generator_samples_seeded_rewrites(tiny_t5, tmp_path):
    gen = Seq2SeqGenerator(tiny_t5, max_new_tokens=6)
    assert gen.mask == "[MASK]"
    a = gen.generate("Return the number of bytes", 3, numpy_rng(0, 1))
    b = gen.generate("Return the number of bytes", 3, numpy_rng(0, 1))
    assert a == b and len(a) == 3
    src = tmp_path / "q.jsonl"
    src.write_bytes(jsonl([{"id": "q1", "query": "Return the number of bytes in a buffer"}]))
    run = invoke(["distill", "gen-queries", str(src), "--method", "seq2seq", "--model", tiny_t5,
                  "-n", "2", "-q"])
    assert run.exit_code == 0, run.stderr
    assert all(r["method"] == "seq2seq" and "positives" not in r for r in run.records)
    missing = invoke(["distill", "gen-queries", str(src), "--method", "seq2seq", "--model",
                      str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no such directory" in missing.stderr
