"""Retrieval metrics and the teacher-against-student comparison.

Every model is scored on the same held-out queries against the same candidate pool (the whole
corpus), by exact inner-product search over the embeddings (cosine for normalising encoders):

- MRR@10: the mean over queries of 1 / rank of the first positive when it is in the top 10, else 0;
- Recall@k: the mean over queries of |positives in the top k| / |positives|;
- retention: a student's figure divided by the teacher's on that same set and pool, with a
  95% interval from a paired bootstrap over the queries (``retention_interval``: resampling
  the queries, student and teacher together, 1,000 times with a fixed seed), because a few
  hundred queries move retention by several points;
- split queries: those a student with a pruned vocabulary tokenises differently from the
  teacher (a word it dropped is split into shorter pieces; ``vocabulary_split``), with
  retention on them and on the rest, since a pruned student loses most on such queries.

A student whose ``papertools.json`` says ``"document_encoder": "teacher"`` (an inherited document
tower) is scored against the teacher's document embeddings; any other encoder embeds the corpus
itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

# The paper's ablation as a third party transcribed it (reference/distill.md [third-party]):
# MSMARCO dev MRR@10 with a 37.2 teacher, and NQ dev Recall@5 with a 72.3 teacher.
STEPS = ("direct", "+score", "+inherit", "+query_emb", "+querygen")
STEP_TITLES = {"direct": "direct training", "+score": "+ score distillation",
               "+inherit": "+ inherit frozen teacher document embeddings",
               "+query_emb": "+ query embedding matching", "+querygen": "+ query generation"}
PAPER = {"msmarco_mrr10": {"teacher": 37.2, "direct": 18.6, "+score": 28.6, "+inherit": 30.3,
                           "+query_emb": 35.4, "+querygen": 34.8},
         "nq_recall5": {"teacher": 72.3, "direct": 24.8, "+score": 44.3, "+inherit": 56.1,
                        "+query_emb": 61.1, "+querygen": 64.3}}


def paper_retention(step: str) -> dict:
    """The paper's student/teacher ratios for an ablation step (None for other names)."""
    out = {}
    for key, table in PAPER.items():
        if step in table:
            out[key] = round(table[step] / table["teacher"], 4)
    return out


def search(query_vectors, doc_vectors, k: int, block: int = 1024):
    """Top-``k`` document rows per query by inner product (ties: lower row first)."""
    import numpy as np

    k = min(k, doc_vectors.shape[0])
    out = np.zeros((len(query_vectors), k), dtype=np.int64)
    for start in range(0, len(query_vectors), block):
        scores = query_vectors[start:start + block] @ doc_vectors.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        rows = np.arange(part.shape[0])[:, None]
        order = np.lexsort((part, -scores[rows, part]), axis=1)
        out[start:start + len(part)] = part[rows, order]
    return out


def mean_cosine(a, b) -> float:
    """Mean over rows of the cosine between two (n, d) arrays (how close a student's
    embeddings came to the teacher's)."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return round(float(((a * b).sum(1) / norms).mean()), 6)


def reciprocal_ranks(ranked, positives: Sequence[Sequence[int]]):
    """Per query: 1 / rank of the first positive in the top 10, else 0 (MRR@10's terms)."""
    import numpy as np

    out = np.zeros(len(positives))
    for i, (row, pos) in enumerate(zip(ranked, positives)):
        pos = set(pos)
        for rank, d in enumerate(row[:10], 1):
            if d in pos:
                out[i] = 1.0 / rank
                break
    return out


def vocabulary_split(student_tokenizer, teacher_tokenizer, texts: Sequence[str],
                     max_length: int = 64):
    """Per text: True when the student's tokenizer cuts it into other pieces than the
    teacher's (compared as token strings, so a renumbered pruned vocabulary agrees with
    its teacher wherever it kept every token the text needs)."""
    import numpy as np

    out = np.zeros(len(texts), dtype=bool)
    for start in range(0, len(texts), 512):
        chunk = list(texts[start:start + 512])
        a = student_tokenizer(chunk, truncation=True, max_length=max_length)["input_ids"]
        b = teacher_tokenizer(chunk, truncation=True, max_length=max_length)["input_ids"]
        for i, (x, y) in enumerate(zip(a, b)):
            out[start + i] = (student_tokenizer.convert_ids_to_tokens(x)
                              != teacher_tokenizer.convert_ids_to_tokens(y))
    return out


def split_retention(split, student_rr, teacher_rr) -> dict:
    """Retention on the split queries and on the rest (``vocabulary_split``); empty when the
    student splits none."""
    import numpy as np

    split = np.asarray(split, dtype=bool)
    s, t = np.asarray(student_rr, float), np.asarray(teacher_rr, float)
    if not split.any():
        return {}

    def ratio(mask):
        return round(float(s[mask].sum() / t[mask].sum()), 6) if t[mask].sum() else 0.0

    return {"split_queries": round(float(split.mean()), 6),
            "retention_split": ratio(split), "retention_unsplit": ratio(~split)}


def split_summary(row: dict) -> str | None:
    """One line on the split queries of a student row, or None."""
    if "split_queries" not in row:
        return None
    return (f"{row['id']}: {100 * row['split_queries']:.1f}% of the queries hold words its "
            f"vocabulary splits; retention {100 * row['retention_split']:.1f}% on them, "
            f"{100 * row['retention_unsplit']:.1f}% on the rest")


def retention_interval(student_rr, teacher_rr, samples: int = 1000, seed: int = 0,
                       level: float = 0.95) -> list[float]:
    """The ``level`` interval of sum(student) / sum(teacher) over queries resampled together."""
    import numpy as np

    s, t = np.asarray(student_rr, float), np.asarray(teacher_rr, float)
    if not len(s) or not t.sum():
        return [0.0, 0.0]
    idx = np.random.default_rng(seed).integers(0, len(s), size=(samples, len(s)))
    ratios = s[idx].sum(1) / np.maximum(t[idx].sum(1), 1e-12)
    lo, hi = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return [round(float(lo), 6), round(float(hi), 6)]


def metrics(ranked, positives: Sequence[Sequence[int]], ks: Sequence[int] = (1, 5, 10, 100)) -> dict:
    """MRR@10 and Recall@k for ranked rows (n, >= max k) and each query's positive rows."""
    n = len(positives)
    mrr, recall = 0.0, {k: 0.0 for k in ks}
    for row, pos in zip(ranked, positives):
        pos = set(pos)
        for rank, d in enumerate(row[:10], 1):
            if d in pos:
                mrr += 1.0 / rank
                break
        for k in ks:
            recall[k] += len(pos & set(row[:k].tolist())) / len(pos)
    out = {"mrr@10": mrr / n if n else 0.0}
    out.update({f"recall@{k}": v / n if n else 0.0 for k, v in recall.items()})
    return out


def document_encoder(path: str) -> str:
    """``teacher`` when the student at ``path`` inherited its document tower, else ``self``."""
    meta = Path(path) / "papertools.json"
    if meta.exists():
        return "teacher" if json.loads(meta.read_text()).get("document_encoder") == "teacher" \
            else "self"
    return "self"


def format_table(rows: list[dict], ks: Sequence[int]) -> str:
    """The comparison as text: one line per model, retention against the teacher, the paper's,
    and the mean cosine of the student's query embeddings to the teacher's (``cos``: students
    that answer in the teacher's space); under it, a line per student with split queries."""
    head = f"{'model':<14} {'params':>9} {'MRR@10':>7} " + " ".join(f"{'R@' + str(k):>6}" for k in ks) \
        + f" {'retain':>7} {'95% interval':>12} {'paper MSMARCO':>13} {'cos':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = r.get("paper_retention", {}).get("msmarco_mrr10")
        params = r.get("parameters", {}).get("total")
        size = f"{params / 1e6:.2f}M" if params else "-"
        retain = f"{100 * r['retention']:.1f}%" if "retention" in r else "-"
        paper_text = f"{100 * paper:.1f}%" if paper else "-"
        recalls = " ".join(f"{100 * r[f'recall@{k}']:6.1f}" for k in ks)
        cos = f"{r['teacher_cosine']:.3f}" if "teacher_cosine" in r else "-"
        ci = r.get("retention_interval")
        ci_text = f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}%" if ci else "-"
        lines.append(f"{r['id'][:14]:<14} {size:>9} {100 * r['mrr@10']:7.1f} {recalls} "
                     f"{retain:>7} {ci_text:>12} {paper_text:>13} {cos:>5}")
    lines += [line for line in map(split_summary, rows) if line]
    return "\n".join(lines)


def plot(rows: list[dict], path: str, metric: str = "mrr@10") -> None:
    """Bars: each model's ``metric`` as a fraction of the teacher's, the paper's beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = [r for r in rows if r.get("role") != "teacher"]
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(students) + 2), 3.6))
    xs = range(len(students))
    ours = [100 * r.get("retention", 0) for r in students]
    paper = [100 * r.get("paper_retention", {}).get("msmarco_mrr10", float("nan"))
             for r in students]
    ax.bar([x - 0.2 for x in xs], ours, width=0.4, label="this run (student / teacher)")
    ax.bar([x + 0.2 for x in xs], paper, width=0.4, label="paper, MSMARCO (transcribed)",
           color="lightgray")
    ax.axhline(100, color="black", lw=0.8)
    ax.axhline(95, color="gray", lw=0.8, ls="--")
    ax.set_xticks(list(xs), [r["id"] for r in students], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric.upper()} retained (%)")
    ax.set_title("EmbedDistill ablation: each step added in turn", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
