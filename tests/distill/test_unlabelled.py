"""Unlabelled query-like text (sentences of training documents, docstrings of other packages):
never a held-out query, never text of a held-out query's document."""

from __future__ import annotations

import ast

import pytest

from papertools.core.errors import PapertoolsError
from papertools.cli.distill.data import normalise
from papertools.cli.distill.unlabelled import (api_nodes, clean, docstring_sentences,
                                               document_sentences, first_sentence,
                                               split_sentences)
from tests.helpers import invoke


def test_first_sentence_and_split_sentences():
    assert first_sentence("Return the  buffer size.\n\nMore words here.") == \
        ("Return the buffer size.", "More words here.")
    assert first_sentence("Too short.") is None
    assert first_sentence("Return the size. Rest.", min_rest=8) is None
    doc = "mod.f(a, b): Add two numbers. The result is an int. Ok."
    assert split_sentences(doc) == ["Add two numbers.", "The result is an int."]
    assert split_sentences("No head here at all. And a second sentence.") == \
        ["No head here at all.", "And a second sentence."]


def test_api_nodes_are_public_and_qualified():
    tree = ast.parse("def f():\n '''x'''\nclass C:\n def m(self): pass\n def _p(self): pass\n"
                     "def _g(): pass\n")
    assert [n for n, _ in api_nodes(tree, "mod")] == ["mod.f", "mod.C", "mod.C.m"]


def test_document_sentences_never_read_held_out_documents(data):
    corpus, train_q, test_q = data
    held_docs = {d for q in test_q for d in q.positives}
    # a training query that also points at a held-out document must not open it
    shared = train_q[0].__class__("q:x", "x y z", [next(iter(held_docs))])
    items = list(document_sentences(corpus, train_q + [shared], test_q))
    assert items
    sources = {corpus.index[s] for s, _ in items}
    assert not sources & held_docs
    assert sources <= {d for q in train_q for d in q.positives}


def test_clean_drops_duplicates_held_out_queries_and_held_out_document_text():
    items = [("a", "Return the size."), ("b", "return  the SIZE."), ("c", "Held out query."),
             ("d", "part of a test document"), ("e", "Fine text here.")]
    kept = clean(items, ["held out query."], ["This is part of a test document, really."])
    assert kept == [("a", "Return the size."), ("e", "Fine text here.")]


def test_docstring_sentences_refuse_evaluation_packages_and_missing_ones():
    with pytest.raises(PapertoolsError, match="evaluation set"):
        list(docstring_sentences(["numpy"]))
    with pytest.raises(PapertoolsError, match="not installed"):
        list(docstring_sentences(["no_such_package_xyz"]))
    got = list(docstring_sentences(["tqdm"]))
    assert len(got) > 20 and all(name.startswith("tqdm") for name, _ in got)


def test_gen_queries_sentences_and_docstrings_are_unlabelled_and_disjoint(data, data_files):
    corpus, _, test_q = data
    run = invoke(["distill", "gen-queries", data_files["train"], "--method", "sentences",
                  "--corpus", data_files["corpus"], "--exclude", data_files["test"], "-q"])
    assert run.exit_code == 0, run.stderr
    recs = run.records
    assert len(recs) > 40
    assert all(r["generated"] is True and "positives" not in r and r["method"] == "sentences"
               for r in recs)
    held_text = {normalise(q.text) for q in test_q}
    held_docs = "\n".join(normalise(corpus.texts[d]) for q in test_q for d in q.positives)
    assert not any(normalise(r["query"]) in held_text or normalise(r["query"]) in held_docs
                   for r in recs)
    assert len({r["id"] for r in recs}) == len(recs)
    # a held-out query's own file as input: its documents are never read
    held = invoke(["distill", "gen-queries", data_files["test"], "--method", "sentences",
                   "--corpus", data_files["corpus"], "--exclude", data_files["test"], "-q"])
    assert held.exit_code == 0 and held.records == []
    doc = invoke(["distill", "gen-queries", "--method", "docstrings", "--package", "tqdm",
                  "--exclude", data_files["test"], "-q"])
    assert doc.exit_code == 0, doc.stderr
    assert doc.records and all(r["source_id"].startswith("tqdm") for r in doc.records)
    # and train accepts them as generated queries, checked against the held-out set
    usage = invoke(["distill", "gen-queries", "--method", "sentences", data_files["train"]])
    assert usage.exit_code == 2 and "--corpus" in usage.stderr
