"""Opening an index for search or eval: the queries, the same DE and CE, the checks."""

from __future__ import annotations

from papertools.core.errors import InputError, PapertoolsError

from .index import Index, de_probe, same_de
from .methods import Searcher
from .records import read_texts
from .scorers import CachedCE, load_scorer, same_spec, shared_encoder


def open_search(index_dir, files, text_field: str = "text", *, de: str | None = None,
                ce_spec: str | None = None, device="cpu", diag=None, encoder=None, scorer=None):
    """(index, queries, searcher) with every check made before any model runs on the queries:

    - test queries must not be training queries of the index (leakage): an error naming the line;
    - the DE must be the index's (same embeddings of fixed probe texts): ``de`` may name the same
      model in another place, but another model is an error;
    - the CE must be the index's (its scores were normalised for it); it is loaded first, so a
      scorer that does not load fails before any other work.
    """
    index = Index(index_dir)
    max_length = index.meta["config"]["max_length"]
    stored = index.meta["ce"]
    if ce_spec and not same_spec(ce_spec, stored, index_dir):
        raise PapertoolsError(f"index {str(index_dir)!r} was built for the CE {stored!r}, "
                              f"not {ce_spec!r}: its score normalisation belongs to that CE")
    # the CE first: a scorer that cannot load fails before the DE and the queries are read
    ce_scorer = scorer or load_scorer(stored, device=device, max_length=max_length,
                                      base=index_dir)
    queries = read_texts(files, text_field, diag, what="query")
    train = index.train_texts()
    for text, place in zip(queries.texts, queries.places):
        if text in train:
            raise InputError("this query is one of the index's training queries; test queries "
                             "must be disjoint from them", place.file, place.line, text_field)
    enc = encoder or shared_encoder(de or index.meta["de"], device, max_length)
    if not same_de(de_probe(enc), index.meta["de_probe"]):
        raise PapertoolsError(f"index {str(index_dir)!r} was built with another dual encoder "
                              f"({index.meta['de']!r}); --de {de or index.meta['de']!r} embeds "
                              "differently: rebuild the index with it")
    ce = CachedCE(ce_scorer, index.items()[1])
    de_q = enc.encode(queries.texts) if len(queries) else enc.encode(["x"])[:0]
    return index, queries, Searcher(index, ce, de_q)
