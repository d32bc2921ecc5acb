"""Session fixtures: a small slice of the shipped docstring retrieval set and tiny models."""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.helpers import EXAMPLES

SMALL = EXAMPLES / "distill" / "small"


def _read(name: str) -> list[dict]:
    with gzip.open(SMALL / name, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def _write(path, records) -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


@pytest.fixture(scope="session")
def data_files(tmp_path_factory):
    """corpus (60 documents), train (40 queries) and test (12 queries) JSONL files."""
    folder = tmp_path_factory.mktemp("distill-data")
    train_all, test_all = _read("train.jsonl.gz"), _read("test.jsonl.gz")
    train, test = train_all[:40], test_all[:12]
    wanted = {p for q in train + test for p in q["positives"]}
    corpus = [d for d in _read("corpus.jsonl.gz") if d["id"] in wanted]
    extra = [d for d in _read("corpus.jsonl.gz") if d["id"] not in wanted][: 60 - len(corpus)]
    return {"corpus": _write(folder / "corpus.jsonl", corpus + extra),
            "train": _write(folder / "train.jsonl", train),
            "test": _write(folder / "test.jsonl", test), "folder": folder}


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory):
    """A tiny random BERT sentence encoder (32 wide, 2 layers, 2 heads; MiniLM's vocabulary)."""
    from papertools.core.models.encoders import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("teacher") / "t", hidden=32, layers=2, heads=2,
                     seed=3)


@pytest.fixture(scope="session")
def data(data_files):
    from papertools.cli.distill.data import read_corpus, read_queries

    corpus = read_corpus([data_files["corpus"]])
    return corpus, read_queries([data_files["train"]], corpus), \
        read_queries([data_files["test"]], corpus)
