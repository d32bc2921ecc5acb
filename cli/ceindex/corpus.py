"""A real retrieval corpus that needs no download: docstrings of installed Python code.

Each function or class docstring gives one item and one query: the query is the docstring's
summary (its first sentence), the item is ``<module>.<qualname>: <the rest of the docstring>``.
So a query is a real short description, and its source item is a real longer text about the
same thing (``gold_id``), though the metric here never uses it: recall is measured against the
CE's own exact top-k. Sources are parsed with ``ast`` (nothing is imported or run), files are
read in sorted order, and duplicates (same item text or same query) keep their first, so the
corpus is a deterministic function of the installed versions.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sysconfig
from pathlib import Path

from papertools.core.errors import PapertoolsError
from papertools.core.seed import numpy_rng

# stdlib folders that are tests, demos, or tools rather than library code
_SKIP = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "site-packages", "dist-packages",
         "__pycache__", "ensurepip", "tkinter", "pydoc_data", "_vendor", "vendor", "testing"}
_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.S)


def package_root(name: str) -> tuple[Path, str]:
    """(folder or file, module prefix) of ``stdlib`` or an installed top-level package."""
    if name == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"]), ""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise PapertoolsError(f"--package {name!r}: not installed")
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]), name
    return Path(spec.origin), name


def split_docstring(doc: str) -> tuple[str, str] | None:
    """(summary sentence, rest) of a docstring, whitespace folded; None if it has no rest."""
    text = " ".join(doc.split())
    m = _SENTENCE.match(text)
    if not m:
        return None
    summary, rest = m.group(1).strip(), text[m.end(1):].strip()
    return (summary, rest) if rest else None


def iter_docstrings(root: Path, prefix: str):
    """(qualified name, docstring) for every documented function and class under ``root``."""
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*.py") if not (_SKIP & set(p.relative_to(root).parts[:-1])))
    for path in files:
        rel = path.relative_to(root.parent if root.is_file() else root).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        module = ".".join([prefix, *parts] if prefix and not root.is_file() else parts)
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        stack = [(node, module) for node in tree.body]
        while stack:
            node, scope = stack.pop(0)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{scope}.{node.name}"
                if node.name.startswith("_") and not node.name.startswith("__"):
                    continue
                doc = ast.get_docstring(node)
                if doc:
                    yield name, doc
                if isinstance(node, ast.ClassDef):
                    stack.extend((child, name) for child in node.body)


def build_corpus(packages: list[str], min_query_words: int = 4, min_item_words: int = 8,
                 max_item_words: int = 80, max_items: int | None = None) -> list[dict]:
    """Items with their summary: [{"id", "text", "query"}], deterministic."""
    out, seen_items, seen_queries = [], set(), set()
    for name in packages:
        root, prefix = package_root(name)
        for qualname, doc in iter_docstrings(root, prefix):
            pair = split_docstring(doc)
            if pair is None:
                continue
            summary, rest = pair
            words = rest.split()
            if len(summary.split()) < min_query_words or len(words) < min_item_words:
                continue
            text = f"{qualname}: {' '.join(words[:max_item_words])}"
            if text in seen_items or summary in seen_queries or qualname in seen_items:
                continue
            seen_items.update((text, qualname))
            seen_queries.add(summary)
            out.append({"id": qualname, "text": text, "query": summary})
            if max_items and len(out) >= max_items:
                return out
    return out


def split_queries(corpus: list[dict], n_test: int, n_train: int | None, seed: int):
    """Disjoint (train, test) query records, drawn at random: {"id", "text", "gold_id"}."""
    order = numpy_rng(seed, 6).permutation(len(corpus))
    if n_test >= len(corpus):
        raise PapertoolsError(f"--test {n_test}: the corpus has only {len(corpus)} queries")
    test_idx = sorted(order[:n_test].tolist())
    rest = order[n_test:]
    train_idx = sorted((rest if n_train is None else rest[:n_train]).tolist())

    def query(i):
        return {"id": f"q:{corpus[i]['id']}", "text": corpus[i]["query"], "gold_id": corpus[i]["id"]}

    return [query(i) for i in train_idx], [query(i) for i in test_idx]
