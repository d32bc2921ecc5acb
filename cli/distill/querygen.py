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
of processing. Generated texts equal to their source or to a held-out query are dropped.
"""

from __future__ import annotations

from typing import Sequence

from papertools.core.errors import PapertoolsError


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
