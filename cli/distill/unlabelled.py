"""Unlabelled query-like text for query embedding matching (no labels, so no test leakage).

Query embedding matching needs only the teacher's embedding of a text, never a label, so the
student's query tower can be matched on far more text than the labelled queries: every
query-like sentence that is not held out. Two sources, both offline:

- ``document_sentences``: the sentences of the **training** queries' positive documents (the
  part after the ``name(arguments):`` head of a docstring document is split at sentence ends).
  Documents that are a held-out query's positive are never read, even when a training query
  also points at them.
- ``docstring_sentences``: the first sentences of all docstrings (modules, classes, functions
  and methods, private and nested ones included; test folders skipped) of installed packages, found with ``importlib.util.find_spec`` and parsed with
  ``ast`` (nothing is imported or run), in sorted path order. Name packages that are not in the
  evaluation set (the distill example's set is the standard library and numpy, networkx,
  click, jinja2 and pygments).

``clean`` drops duplicates, texts equal to a held-out query, and texts found inside a held-out
query's document (a package may copy another's docstring), so the training texts and the
evaluation set stay disjoint by text as well as by id.

The helpers ``first_sentence`` and ``api_nodes`` are shared with examples/distill/make_data.py,
which builds the labelled set from the same kind of docstrings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from papertools.core.errors import PapertoolsError

SENTENCE = re.compile(r"^(.+?[.!?])(\s+|$)", re.S)
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SKIP_PARTS = {"test", "tests", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip",
              "site-packages", "__pycache__", "pydoc_data", "distutils"}
# packages of the shipped example's evaluation set: never harvested for unlabelled text
EVALUATION_PACKAGES = ("numpy", "networkx", "click", "jinja2", "pygments")
# installed dependencies of papertools that are not in the evaluation set (the benchmark's list)
DEFAULT_PACKAGES = ("torch", "transformers", "scipy", "sympy", "sklearn", "matplotlib",
                    "spacy", "diffusers", "pydantic", "hypothesis", "astroid", "pylint",
                    "rich", "huggingface_hub", "requests", "aiohttp", "sentence_transformers",
                    "thinc", "gymnasium", "textworld", "ray", "pip", "setuptools", "faiss",
                    "PIL", "yaml", "attr", "jsonschema", "markdown_it", "prompt_toolkit", "tqdm",
                    "typer", "fsspec")


def first_sentence(doc: str, min_words: int = 4, max_words: int = 30,
                   min_rest: int = 0) -> tuple[str, str] | None:
    """(first sentence, rest) of a docstring, whitespace collapsed; None when the sentence has
    fewer than ``min_words`` or more than ``max_words`` words or the rest fewer than
    ``min_rest``."""
    text = " ".join(doc.split())
    match = SENTENCE.match(text)
    if not match:
        return None
    head, rest = match.group(1).strip(), text[match.end():].strip()
    if not min_words <= len(head.split()) <= max_words or len(rest.split()) < min_rest:
        return None
    return head, rest


def api_nodes(tree, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) for public functions, methods and classes, in source order."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name.startswith("_"):
                continue
            name = f"{prefix}.{node.name}"
            yield name, node
            if isinstance(node, ast.ClassDef):
                yield from api_nodes(node, name)


def source_files(root: Path, prefix: str = "",
                 public: bool = True) -> Iterator[tuple[str, Path]]:
    """(module name, path) of the ``.py`` files under ``root`` (only public modules when
    ``public``; never tests), in sorted order."""
    for path in sorted(root.rglob("*.py")):
        rel = Path(prefix) / path.relative_to(root) if prefix else path.relative_to(root)
        if SKIP_PARTS & set(rel.parts) or public and any(
                p.startswith("_") and p != "__init__.py" for p in rel.parts):
            continue
        yield ".".join(rel.with_suffix("").parts).removesuffix(".__init__"), path


def package_root(package: str) -> Path | None:
    """The folder of an installed package (found, not imported); None when not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def docstring_sentences(packages: Sequence[str], min_words: int = 3,
                        max_words: int = 30) -> Iterator[tuple[str, str]]:
    """(qualified name, first sentence) of the module, class, function and method docstrings
    of the installed ``packages``; a package that is not installed is an error."""
    for package in packages:
        if package in EVALUATION_PACKAGES:
            raise PapertoolsError(f"package {package!r} is in the distill example's evaluation "
                                  "set; its docstrings cannot be unlabelled training text")
        root = package_root(package)
        if root is None:
            raise PapertoolsError(f"package {package!r} is not installed")
        for module, path in source_files(root, package, public=False):
            try:
                tree = ast.parse(path.read_bytes())
            except (SyntaxError, ValueError):
                continue
            for node in ast.walk(tree):  # every docstring, private and nested ones too
                if not isinstance(node, DOCUMENTED):
                    continue
                doc = ast.get_docstring(node)
                split = first_sentence(doc, min_words, max_words) if doc else None
                if split:
                    yield f"{module}.{getattr(node, 'name', '')}".rstrip("."), split[0]


def split_sentences(text: str, min_words: int = 3, max_words: int = 40) -> list[str]:
    """The sentences of a document's body (after a ``name(args):`` head) within the word limits."""
    head, sep, rest = text.partition(": ")
    body = rest if sep and " " not in head.split("(")[0] else text
    return [s for s in SENTENCE_END.split(" ".join(body.split()))
            if min_words <= len(s.split()) <= max_words]


def document_sentences(corpus, queries, heldout=(), min_words: int = 3,
                       max_words: int = 40) -> Iterator[tuple[str, str]]:
    """(document id, sentence) for the positive documents of the labelled ``queries``, each
    document once, in corpus order; documents that are a positive of a ``heldout`` query are
    skipped."""
    held = {d for q in heldout for d in q.positives}
    rows = sorted({d for q in queries for d in q.positives} - held)
    for d in rows:
        for sentence in split_sentences(corpus.texts[d], min_words, max_words):
            yield corpus.ids[d], sentence


def clean(items: Iterable[tuple[str, str]], held_texts: Iterable[str] = (),
          held_documents: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``items`` without duplicates (by normalised text), without texts equal to a held-out
    query and without texts that occur inside a held-out document (normalised)."""
    from .data import normalise

    seen = {normalise(t) for t in held_texts}
    haystack = "\n".join(normalise(t) for t in held_documents)
    out = []
    for source, text in items:
        key = normalise(text)
        if not key or key in seen:
            continue
        seen.add(key)
        if haystack and key in haystack:
            continue
        out.append((source, text))
    return out
