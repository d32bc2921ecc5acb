"""Reading items and queries: ``id`` and a text field per record, with places for errors."""

from __future__ import annotations

from dataclasses import dataclass

from papertools.core.errors import Diagnostics, InputError, field
from papertools.core.jsonl import read_unique


@dataclass
class Texts:
    """Records with an id and a text, in input order."""

    ids: list[str]
    texts: list[str]
    records: list[dict]
    places: list  # core.errors.Place per record

    def __len__(self) -> int:
        return len(self.ids)


def read_texts(files, text_field: str = "text", diag: Diagnostics | None = None,
               what: str = "record") -> Texts:
    """Every record's ``id`` (or ``<stem>:<line>``) and ``text_field`` (a non-empty string).

    Bad records go to ``diag`` (raise under --on-error fail, else reported and skipped);
    a repeated id is bad input too.
    """
    def text_of(item) -> str:
        text = field(item.record, text_field, str, place=item.place)
        if not text.strip():
            raise InputError("empty text", item.place.file, item.place.line, text_field)
        return text

    out = Texts([], [], [], [])
    for rid, item, text in read_unique(files, diag, what=what, check=text_of):
        out.ids.append(rid)
        out.texts.append(text)
        out.records.append(item.record)
        out.places.append(item.place)
    return out
