"""How much shorter diff history is than full history: per-episode figures, totals, table, plot.

An episode's full history is the sum of its observations; its diff history is the first
observation whole and the diff against the previous observation for every later step. Lengths
are counted in characters and in tokens of the given counter; the ratio is full / diff tokens.
"""

from __future__ import annotations

from typing import Callable, Iterable

from papertools.core.history import Encoder

from .steps import Step

FIELDS = ("steps", "chars_full", "chars_diff", "tokens_full", "tokens_diff")


def measure(episodes: Iterable[list[Step]], count: Callable[[str], int],
            paper: bool = False) -> tuple[list[dict], list[tuple]]:
    """(rows, curves): one row per episode ("episode", FIELDS, "ratio") and, per episode, the
    cumulative full and diff token counts after each step (numpy arrays, for the plot)."""
    import numpy as np

    encoder = Encoder(paper)
    rows, curves = [], []
    for steps in episodes:
        full_tok, diff_tok, full_chr, diff_chr = [], [], 0, 0
        for s in steps:
            diff, _ = encoder.encode(s.episode, s.obs)
            full_tok.append(count(s.obs))
            diff_tok.append(count(diff))
            full_chr += len(s.obs)
            diff_chr += len(diff)
        encoder.end(steps[0].episode)
        ft, dt = sum(full_tok), sum(diff_tok)
        rows.append({"episode": steps[0].episode, "steps": len(steps), "chars_full": full_chr,
                     "chars_diff": diff_chr, "tokens_full": ft, "tokens_diff": dt,
                     "ratio": round(ft / dt, 4) if dt else None})
        curves.append((np.cumsum(full_tok), np.cumsum(diff_tok)))
    return rows, curves


def summarize(rows: list[dict], tokenizer: str) -> dict:
    """The summary record over the episodes' rows: totals, ratios, the median episode's ratio
    and what the tokens were counted with. No rows (an empty input) give zero totals and no
    ratios (None)."""
    totals = {k: sum(r[k] for r in rows) for k in FIELDS}
    return {"id": "summary", "episodes": len(rows), **totals,
            "ratio": _ratio(totals["tokens_full"], totals["tokens_diff"]),
            "chars_ratio": _ratio(totals["chars_full"], totals["chars_diff"]),
            "median_episode_ratio": _median([r["ratio"] for r in rows
                                             if r["ratio"] is not None]),
            "tokenizer": tokenizer}


def _ratio(full: int, diff: int) -> float | None:
    """full / diff rounded, or None when nothing was counted (an empty input)."""
    if not full and not diff:
        return None
    return round(full / max(1, diff), 4)


def _median(values: list) -> float | None:
    import numpy as np

    return float(np.median(values)) if values else None


def format_table(rows: list[dict], summary: dict) -> str:
    """The rows and the summary as aligned text for a terminal (ends with a newline)."""
    what = summary["tokenizer"]
    head = f"{'episode':<24} {'steps':>6} {'tokens full':>12} {'tokens diff':>12} {'ratio':>7}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['episode'][:24]:<24} {r['steps']:>6} {r['tokens_full']:>12,} "
                     f"{r['tokens_diff']:>12,} {r['ratio'] or float('nan'):>7.2f}")
    lines.append(f"{'all':<24} {summary['steps']:>6} {summary['tokens_full']:>12,} "
                 f"{summary['tokens_diff']:>12,} {summary['ratio'] or float('nan'):>7.2f}")
    lines.append(f"tokens counted by {what}; characters: {summary['chars_full']:,} full, "
                 f"{summary['chars_diff']:,} diff, ratio {summary['chars_ratio'] or float('nan'):.2f}")
    return "\n".join(lines) + "\n"


def plot(curves: list[tuple], path: str, what: str) -> None:
    """The ratio full / diff against history length: each episode in grey, their mean in blue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    longest = max(len(f) for f, _ in curves)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for full, diff in curves:
        ax.plot(np.arange(1, len(full) + 1), full / np.maximum(diff, 1), color="0.75", lw=0.8)
    mean = [np.mean([f[h] / max(d[h], 1) for f, d in curves if len(f) > h])
            for h in range(longest)]
    ax.plot(np.arange(1, longest + 1), mean, color="C0", lw=2, label="mean over episodes")
    ax.set_xlabel("history length (steps)")
    ax.set_ylabel("full / diff history length (tokens)")
    ax.set_title(f"diff history compression ({what})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
