#!/usr/bin/env python
"""Build the distill example's retrieval set from the Python standard library's docstrings.

Every public function, method and class of the stdlib's pure-Python modules (and of a few
installed packages: numpy, networkx, click, jinja2, pygments) whose docstring has a
first sentence of 4-30 words and at least 8 more words gives one pair:

    query    = the docstring's first sentence ("Return the number of bytes in the buffer.")
    document = "<module>.<qualified name>(<arguments>): <the rest of the docstring>"

The source files are parsed with ``ast`` (nothing is imported or run), in sorted path order, so
the same Python and package versions give the same files. Queries that occur twice (``"Return self."``) and
documents that occur twice are dropped. Pairs are split by a seeded hash of the document id into
train and test, so a document's query is in one split only, and the two query sets are
disjoint by construction (also by text: a test query equal to a train query is dropped).

Writes, under the output folder (default: this folder):

    corpus.jsonl.gz    {"id", "text"}                              every document (the pool)
    train.jsonl.gz     {"id", "query", "positives": [doc id]}      training queries
    test.jsonl.gz      {"id", "query", "positives": [doc id]}      held-out queries
    small/             the same three files for a 400-document subset (pipeline, tests)
    tiny/              and for a 60-document subset of that (the --help examples)

The shipped files were made on 2026-11-29 with Python 3.11.7; other versions of Python or of
the packages give a slightly different set (an upgrade of click changed 13 of 3,402 pairs), so
figures are quoted for the shipped files.

Usage: python examples/distill/make_data.py [--out DIR] [--max-pairs N] [--seed S]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import sys
import sysconfig
from pathlib import Path

import orjson

from papertools.cli.distill.unlabelled import (EVALUATION_PACKAGES, api_nodes, first_sentence,
                                               package_root, source_files)

HERE = Path(__file__).resolve().parent
PACKAGES = ",".join(EVALUATION_PACKAGES)


def signature(node) -> str:
    if isinstance(node, ast.ClassDef):
        return ""
    names = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
    if node.args.vararg:
        names.append("*" + node.args.vararg.arg)
    names += [a.arg for a in node.args.kwonlyargs]
    if node.args.kwarg:
        names.append("**" + node.args.kwarg.arg)
    return "(" + ", ".join(names) + ")"


def pairs(root: Path, prefix: str = ""):
    """Pairs from the ``.py`` files under ``root`` (module names start with ``prefix``)."""
    for module, path in source_files(root, prefix):
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for name, node in api_nodes(tree, module):
            doc = ast.get_docstring(node)
            split = first_sentence(doc, 4, 30, 8) if doc else None
            if split:
                yield name, f"{name}{signature(node)}: {split[1]}", split[0]


def bucket(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def write(path: Path, records: list[dict]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        for record in records:
            fh.write(orjson.dumps(record) + b"\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--max-pairs", type=int, default=4000)
    parser.add_argument("--packages", default=PACKAGES,
                        help="installed packages whose docstrings join the stdlib's (comma list)")
    parser.add_argument("--small", type=int, default=400, help="documents in small/")
    parser.add_argument("--tiny", type=int, default=60, help="documents in tiny/")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    raw = list(pairs(Path(sysconfig.get_paths()["stdlib"])))
    for package in filter(None, args.packages.split(",")):
        root = package_root(package)  # finds the folder; runs nothing
        if root is None:
            print(f"make_data: package {package!r} not installed, skipped", file=sys.stderr)
            continue
        raw += list(pairs(root, package))
    query_count, doc_count = {}, {}
    for _, doc, query in raw:
        query_count[query.lower()] = query_count.get(query.lower(), 0) + 1
        doc_count[doc] = doc_count.get(doc, 0) + 1
    seen_ids, kept = set(), []
    for name, doc, query in raw:
        if query_count[query.lower()] > 1 or doc_count[doc] > 1 or name in seen_ids:
            continue
        seen_ids.add(name)
        kept.append((name, doc, query))
    kept.sort(key=lambda p: bucket(p[0], args.seed))  # a seeded sample, order fixed by hash
    kept = sorted(kept[: args.max_pairs])
    small = sorted(kept, key=lambda p: bucket("small:" + p[0], args.seed))[: args.small]
    tiny = sorted(small, key=lambda p: bucket("tiny:" + p[0], args.seed))[: args.tiny]
    for folder, chosen in ((args.out, kept), (args.out / "small", small),
                           (args.out / "tiny", tiny)):
        chosen = sorted(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        corpus = [{"id": name, "text": doc} for name, doc, _ in chosen]
        train, test = [], []
        for name, _, query in chosen:
            record = {"id": f"q:{name}", "query": query, "positives": [name]}
            (test if bucket("split:" + name, args.seed) < args.test_fraction else train).append(record)
        train_texts = {r["query"].lower() for r in train}
        test = [r for r in test if r["query"].lower() not in train_texts]
        write(folder / "corpus.jsonl.gz", corpus)
        write(folder / "train.jsonl.gz", train)
        write(folder / "test.jsonl.gz", test)
        print(f"{folder}: {len(corpus)} documents, {len(train)} train and {len(test)} test "
              f"queries (Python {sys.version.split()[0]} stdlib)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
