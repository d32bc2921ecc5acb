"""``ceindex eval``: Top-k-Recall@m against the exact CE top-k, per method and CE budget.

Top-k-Recall@m (the paper's metric): a method CE-scores m items (its budget B), re-ranks them by
exact CE score, and we count the fraction of the CE's true top-k over ALL items (brute force,
every item scored, cached) that its top-k contains. Averaged over the test queries; the
standard deviation over queries is reported beside it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.progress import progress

from .index import save_npz
from .methods import Method, SearchSettings, Searcher
from .search import rank_exact


def exact_topk(row: np.ndarray, k: int) -> np.ndarray:
    """The CE's exact top-k items over all items (ties: lower index first)."""
    return rank_exact(np.arange(row.size), row, k)[0]


def recall_at(result_top: np.ndarray, exact: np.ndarray, k: int) -> float:
    """|top-k of the method (re-ranked by exact CE) & exact top-k| / k."""
    return len(set(result_top[:k].tolist()) & set(exact[:k].tolist())) / float(k)


def exact_scores(ce, texts: list[str], cache_path: str | None, ce_spec: str, items_hash: str,
                 quiet: bool = True) -> None:
    """Score every test query against every item (brute force) into ``ce``'s cache.

    With ``cache_path`` (an .npz), the matrix is read from it when it was made for the same
    queries, items and CE, else computed and written there (atomically).
    """
    n = len(ce.items)
    key = hashlib.sha256("\0".join([ce_spec, items_hash, *texts]).encode()).hexdigest()[:16]
    if cache_path and Path(cache_path).exists():
        with np.load(cache_path) as data:
            if str(data["key"]) == key and data["scores"].shape == (len(texts), n):
                for text, row in zip(texts, data["scores"]):
                    ce.known(text, row)
                return
    everything = np.arange(n)
    for text in progress(texts, desc="ceindex: exact CE", unit="query", quiet=quiet):
        ce.scores(text, everything)
    if cache_path:
        save_npz(Path(cache_path), {"key": np.asarray(key),
                                    "scores": np.stack([ce.row(t) for t in texts])})


def evaluate(searcher: Searcher, texts: list[str], methods: list[Method], budgets: list[int],
             ks: list[int], settings: SearchSettings, quiet: bool = True) -> list[dict]:
    """One summary record per (method, budget); the exact scores must be in the cache."""
    index = searcher.index
    k_max = max(ks)
    exact = [exact_topk(searcher.ce.row(t), k_max) for t in texts]
    if any(np.isnan(searcher.ce.row(t)).any() for t in texts):
        raise PapertoolsError("internal: exact scores missing")
    out = []
    for method in methods:
        for budget in budgets:
            s = SearchSettings(**{**settings.__dict__, "budget": budget, "k": k_max})
            recalls = {k: [] for k in ks}
            calls, overhead = [], []
            for qi, text in enumerate(progress(texts, desc=f"ceindex: {method.label}@{budget}",
                                               unit="query", quiet=quiet)):
                before = searcher.ce.requested
                res = searcher.run(method, qi, text, s)
                spent = searcher.ce.requested - before
                if spent != res.ce_calls or np.unique(res.scored).size != res.scored.size:
                    raise PapertoolsError("internal: a method scored an item twice")
                calls.append(res.ce_calls)
                overhead.append(res.overhead_s)
                for k in ks:
                    recalls[k].append(recall_at(res.top, exact[qi], k))
            lam, icpt = searcher.axn_settings(method, s) if method.name == "axn" else (None, None)
            out.append({
                "id": f"{method.label}@{budget}", "method": method.label, "budget": budget,
                "lambda": lam, "intercept": icpt,
                "rounds": 1 if method.name == "rnr" else (2 if method.name == "anncur" else
                                                          settings.rounds),
                "queries": len(texts),
                "recall": {str(k): float(np.mean(recalls[k])) for k in ks},
                "recall_std": {str(k): float(np.std(recalls[k])) for k in ks},
                "ce_calls_per_query": float(np.mean(calls)),
                "index_ce_calls": index_cost(index.meta, method),
                "index_seconds": index_seconds(index.meta, method),
                "search_ms_per_query": 1000.0 * float(np.mean(overhead)),
            })
    return out


def index_cost(meta: dict, method: Method) -> int:
    """CE calls the method's index needed: G for axn with fitted embeddings, the entries of G
    the normalisation was fitted on for axn:de (the DE's own embeddings), plus for axn the
    pairs its choice of search settings scored on held-out training queries; the dense anchor
    matrix for CUR, nothing for rnr."""
    if method.name == "rnr":
        return 0
    calls = meta["ce_calls"]
    if method.name in ("anncur", "adacur"):
        return int(calls["cur"])
    if method.variant == "de":
        # the dev queries' rows of G (their round-1 items) count too
        tune_rows = len(meta.get("tune_query_ids", [])) * \
            min(int(meta["config"]["k_d"]), int(meta["n_items"]))
        return int(calls.get("normalize", calls["sparse"])) + int(calls.get("tune", 0)) + \
            (tune_rows if calls.get("tune") else 0)
    return int(calls["sparse"]) + int(calls.get("tune", 0))


def index_seconds(meta: dict, method: Method) -> float:
    """Wall time of what the method's index needed, from index.json: DE encoding (rnr), plus
    scoring G and fitting the variant (axn), or scoring the anchor rows (anncur, adacur)."""
    sec = meta["seconds"]
    if method.name == "rnr":
        return float(sec["de_encode_s"])
    if method.name in ("anncur", "adacur"):
        return float(sec["cur_ce_s"])
    fit = float(meta["variants"].get(method.variant, {}).get("seconds", 0.0))
    return float(sec["de_encode_s"] + sec["sparse_ce_s"] + fit + sec.get("tune_s", 0.0))


def format_table(rows: list[dict], ks: list[int]) -> str:
    head = f"{'method':<10} {'B':>5} " + " ".join(f"{f'Top-{k}-R@B':>11}" for k in ks) + \
        f" {'CE/query':>9} {'index CE':>10} {'index s':>8} {'ms/query':>9}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['method']:<10} {r['budget']:>5} " +
                     " ".join(f"{r['recall'][str(k)]:>11.3f}" for k in ks) +
                     f" {r['ce_calls_per_query']:>9.0f} {r['index_ce_calls']:>10d}"
                     f" {r['index_seconds']:>8.1f}"
                     f" {r['search_ms_per_query']:>9.2f}")
    return "\n".join(lines)


def plot_recall(rows: list[dict], ks: list[int], path: str, title: str | None = None) -> None:
    """Recall against CE budget, one line per method, one panel per k (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for ax, k in zip(axes[0], ks):
        for m in methods:
            pts = sorted((r["budget"], r["recall"][str(k)]) for r in rows if r["method"] == m)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=m)
        ax.set_xlabel("CE calls per query (B)")
        ax.set_ylabel(f"Top-{k}-Recall@B")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"k = {k}")
    axes[0][0].legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
