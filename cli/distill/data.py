"""Retrieval data: a document corpus and queries with their positive documents.

Records (field names are options of the commands):

    corpus   {"id": "doc-1", "text": "..."}                        one document per record
    queries  {"id": "q-1", "query": "...", "positives": ["doc-1"],  one query per record
              "negatives": ["doc-7", ...]}                          (optional hard negatives)
    generated queries (``distill gen-queries``)
             {"id": "q-1:g0", "query": "...", "source_id": "q-1", "generated": true}

A positive may be one id or a list. Generated queries carry no labels at all: a record with
``"generated": true`` and a ``positives`` field is bad input, so a label cannot ride along.
Every problem is an :class:`InputError` naming the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Iterable

from papertools.core.errors import Diagnostics, InputError, PapertoolsError, field
from papertools.core.jsonl import read_records, read_unique, record_id


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    index: dict[str, int] = dc_field(default_factory=dict)

    def __post_init__(self):
        if not self.index:
            self.index = {d: i for i, d in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Query:
    id: str
    text: str
    positives: list[int]  # corpus rows; empty for generated queries
    negatives: list[int] = dc_field(default_factory=list)
    generated: bool = False
    source_id: str | None = None


def read_corpus(paths: Iterable[str], text_field: str = "text",
                diagnostics: Diagnostics | None = None) -> Corpus:
    ids, texts = [], []
    for rid, _, text in read_unique(list(paths), diagnostics, what="document",
                                    check=lambda item: field(item.record, text_field, str,
                                                             place=item.place)):
        ids.append(rid)
        texts.append(text)
    if not ids:
        raise PapertoolsError(f"empty corpus: no documents in {', '.join(paths) or '-'}")
    return Corpus(ids, texts)


def _id_list(record: dict, name: str, corpus: Corpus, place, required: bool) -> list[int]:
    value = field(record, name, (list, str), place=place, required=required, default=[])
    values = [value] if isinstance(value, str) else value
    out = []
    for v in values:
        if not isinstance(v, str):
            raise InputError("expected document ids (strings)", place.file, place.line, name)
        if v not in corpus.index:
            raise InputError(f"document {v!r} is not in the corpus", place.file, place.line, name)
        out.append(corpus.index[v])
    if required and not out:
        raise InputError("expected at least one document id", place.file, place.line, name)
    return out


def read_queries(paths: Iterable[str], corpus: Corpus | None, query_field: str = "query",
                 labelled: bool = True, diagnostics: Diagnostics | None = None) -> list[Query]:
    """Queries; ``labelled`` requires positives (training or evaluation queries), otherwise the
    records are generated queries and must carry no labels."""
    out = []
    for item in read_records(list(paths), diagnostics):
        record, place = item.record, item.place
        try:
            text = field(record, query_field, str, place=place)
            generated = bool(field(record, "generated", bool, place=place, required=False,
                                   default=False))
            if labelled and not generated:
                positives = _id_list(record, "positives", corpus, place, True) if corpus else []
                negatives = _id_list(record, "negatives", corpus, place, False) if corpus else []
            else:
                for name in ("positives", "negatives"):
                    if name in record:
                        raise InputError("a generated query must carry no labels", place.file,
                                         place.line, name)
                positives, negatives, generated = [], [], True
            source = record.get("source_id")
            out.append(Query(record_id(item), text, positives, negatives, generated,
                             source if isinstance(source, str) else None))
        except InputError as err:
            if diagnostics is None:
                raise
            diagnostics.bad(err)
    return out


def check_disjoint(train: list[Query], heldout: list[Query], what: str = "training") -> None:
    """Training (and generated) queries must share neither ids nor texts with held-out ones."""
    held_ids = {q.id for q in heldout}
    held_texts = {normalise(q.text): q.id for q in heldout}
    for q in train:
        if q.id in held_ids:
            raise PapertoolsError(f"{what} query {q.id!r} is also a held-out query")
        key = normalise(q.text)
        if key in held_texts:
            raise PapertoolsError(f"{what} query {q.id!r} has the text of held-out query "
                                  f"{held_texts[key]!r}")
        if q.source_id is not None and q.source_id in held_ids:
            raise PapertoolsError(f"{what} query {q.id!r} was generated from held-out query "
                                  f"{q.source_id!r}")


def normalise(text: str) -> str:
    return " ".join(text.lower().split())
