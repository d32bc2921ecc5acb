"""Query generation: new unlabelled queries near the training queries (EmbedDistill §4).

Generated queries explore the query manifold where training queries are sparse. They carry no
labels; distillation uses them only through the teacher (its scores and its query embedding).

- ``perturb``: word-level edits of a training query, each word independently dropped (p_drop),
  replaced by a word of another training query (p_replace), and adjacent words swapped
  (p_swap). At least two words stay.
- ``Seq2SeqGenerator``: a local sequence-to-sequence model (a T5 or BART directory) rewrites the
  query: one random span of words is replaced by the model's mask token (T5's ``<extra_id_0>``,
  BART's ``<mask>``) and the model samples the infill (T5) or the whole rewritten query (BART
  and others, which see the masked query, or the query itself when there is no mask token).

Random choices come from ``numpy_rng(seed, record index)``, so output does not depend on order
of processing. Held-out queries (``held_out``) are never sources (``read_sources``), and
``QueryMaker`` drops generated texts that are empty or equal to a source, a held-out query or an
earlier generated text (compared after ``data.normalise``).

``harvest`` gathers the other unlabelled text of ``distill gen-queries``: the sentences of the
training queries' positive documents, or docstring sentences of installed packages
(unlabelled.py), with held-out queries and the text of their documents dropped.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from papertools.core.errors import Diagnostics, InputError, PapertoolsError, field
from papertools.core.jsonl import Item, record_id
from papertools.core.seed import numpy_rng

from .data import normalise, read_corpus, read_queries


def perturb(text: str, rng, vocabulary: Sequence[str], p_drop: float = 0.15,
            p_replace: float = 0.1, p_swap: float = 0.1) -> str:
    words = text.split()
    if len(words) < 2:
        return text
    out = []
    for w in words:
        u = rng.random()
        if u < p_drop:
            continue
        if u < p_drop + p_replace and vocabulary:
            out.append(vocabulary[int(rng.integers(len(vocabulary)))])
        else:
            out.append(w)
    if len(out) < 2:
        out = words[:2]
    for i in range(len(out) - 1):
        if rng.random() < p_swap:
            out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def held_out(items: Iterable[Item], query_field: str = "query") -> tuple[set[str], set[str]]:
    """(ids, normalised query texts) of held-out query records."""
    ids, texts = set(), set()
    for item in items:
        ids.add(record_id(item))
        if isinstance(item.record.get(query_field), str):
            texts.add(normalise(item.record[query_field]))
    return ids, texts


def read_sources(items: Iterable[Item], query_field: str, held_ids: set[str],
                 held_texts: set[str], diag: Diagnostics) -> list[tuple[int, str, str]]:
    """(record index, id, query) of the input queries to generate from: bad records go to
    ``diag``, and a held-out query (by id or by text) is a reject."""
    sources = []
    for item in items:
        try:
            text = field(item.record, query_field, str, place=item.place)
            rid = record_id(item)
        except InputError as err:
            diag.bad(err)
            continue
        if rid in held_ids or normalise(text) in held_texts:
            diag.reject(f"query {rid!r} is a held-out query; not used", item.place)
            continue
        sources.append((item.index, rid, text))
    return sources


class QueryMaker:
    """New queries from ``sources`` ((record index, id, query)): ``per_query`` candidates each,
    by ``generator`` (a Seq2SeqGenerator) or else by ``perturb`` over the sources' words; a
    candidate is kept once, and never when it is empty or a source or held-out text."""

    def __init__(self, sources: Sequence[tuple[int, str, str]], held_texts: set[str],
                 per_query: int, seed: int, generator=None, p_drop: float = 0.15,
                 p_replace: float = 0.1, p_swap: float = 0.1):
        self.vocabulary = sorted({w for _, _, t in sources for w in t.split()})
        self.seen = {normalise(t) for _, _, t in sources} | held_texts
        self.per_query, self.seed, self.generator = per_query, seed, generator
        self.p_drop, self.p_replace, self.p_swap = p_drop, p_replace, p_swap

    def queries(self, index: int, text: str) -> list[tuple[int, str]]:
        """(candidate number k, new query) kept for the source at record ``index``."""
        rng = numpy_rng(self.seed, index)
        if self.generator is not None:
            candidates = self.generator.generate(text, self.per_query, rng)
        else:
            candidates = [perturb(text, rng, self.vocabulary, self.p_drop, self.p_replace,
                                  self.p_swap) for _ in range(self.per_query)]
        kept = []
        for k, new in enumerate(candidates):
            key = normalise(new)
            if not key or key in self.seen:
                continue
            self.seen.add(key)
            kept.append((k, new))
        return kept


def harvest(method: str, files, corpus_files, packages, exclude,
            query_field: str, diag: Diagnostics) -> list[tuple[str, int, str]]:
    """(source id, number within the source, text) of unlabelled text: ``method`` "sentences"
    (the sentences of the documents of the queries in ``files``; needs ``corpus_files``) or
    "docstrings" (of the installed ``packages``, a list of names). Text of the ``exclude`` queries
    and of their documents is dropped, and so are those documents' sentences."""
    from .unlabelled import clean, docstring_sentences, document_sentences

    corpus = read_corpus(corpus_files, diagnostics=diag) if corpus_files else None
    held = read_queries(list(exclude), corpus, query_field) if exclude else []
    if method == "sentences":
        queries = read_queries(files, corpus, query_field, diagnostics=diag)
        held_ids = {q.id for q in held}
        items = document_sentences(corpus, [q for q in queries if q.id not in held_ids], held)
    else:
        items = docstring_sentences(list(packages))
    held_docs = [corpus.texts[d] for q in held for d in q.positives] if corpus else []
    counts: dict = {}
    out = []
    for source, text in clean(items, [q.text for q in held], held_docs):
        k = counts[source] = counts.get(source, -1) + 1
        out.append((source, k, text))
    return out


def masked_span(words: list[str], rng, mask: str) -> tuple[str, int, int]:
    """The query with one random span (1 to a third of the words) replaced by ``mask``."""
    n = len(words)
    length = int(rng.integers(1, max(2, n // 3 + 1)))
    start = int(rng.integers(0, max(1, n - length + 1)))
    return " ".join(words[:start] + [mask] + words[start + length:]), start, start + length


class Seq2SeqGenerator:
    def __init__(self, model_dir: str, device="cpu", max_new_tokens: int = 24,
                 temperature: float = 1.0, top_p: float = 0.95):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from papertools.core.models import _source, quiet_hf

        quiet_hf()
        source = _source(model_dir)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise PapertoolsError(f"query generator {model_dir!r}: cannot load a seq2seq model "
                                  f"({str(exc).splitlines()[0][:200]})") from None
        self.model.to(device).eval()
        self.device = device
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        vocab = self.tokenizer.get_vocab()
        self.sentinel = "<extra_id_0>" if "<extra_id_0>" in vocab else None
        self.mask = self.sentinel or getattr(self.tokenizer, "mask_token", None)

    def generate(self, text: str, n: int, rng) -> list[str]:
        import torch

        words = text.split()
        inputs, spans = [], []
        for _ in range(n):
            if self.mask and len(words) >= 2:
                masked, a, b = masked_span(words, rng, self.mask)
            else:
                masked, a, b = text, 0, 0
            inputs.append(masked)
            spans.append((a, b))
        batch = self.tokenizer(inputs, return_tensors="pt", padding=True, truncation=True,
                               max_length=128)
        batch = {k: v.to(self.device) for k, v in batch.items()
                 if k in ("input_ids", "attention_mask")}
        torch.manual_seed(int(rng.integers(2 ** 31)))
        with torch.inference_mode():
            out = self.model.generate(**batch, do_sample=True, temperature=self.temperature,
                                      top_p=self.top_p, max_new_tokens=self.max_new_tokens,
                                      num_return_sequences=1)
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        results = []
        for generated, (a, b) in zip(texts, spans):
            generated = " ".join(generated.split())
            if self.sentinel and b > a:  # T5: the output is the infill of the masked span
                results.append(" ".join(words[:a] + generated.split() + words[b:]))
            else:
                results.append(generated)
        return results
