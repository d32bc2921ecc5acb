"""Counts and distributions of an edit-sequence stream, kept as exact histograms (flat memory)."""

from __future__ import annotations

from collections import Counter


class Histogram:
    """Exact counts of integer values; quantiles without keeping every value."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.n = 0
        self.total = 0

    def add(self, value: int) -> None:
        self.counts[value] += 1
        self.n += 1
        self.total += value

    def quantile(self, q: float):
        if not self.n:
            return None
        rank = max(1, -(-q * self.n // 1))  # ceil(q * n), at least 1: the nearest-rank method
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= rank:
                return value
        return max(self.counts)

    def summary(self) -> dict:
        if not self.n:
            return {"n": 0}
        return {"n": self.n, "mean": round(self.total / self.n, 3), "min": min(self.counts),
                "p50": self.quantile(0.5), "p90": self.quantile(0.9), "max": max(self.counts)}


class EditStats:
    """Accumulates per-sequence and per-edit figures from ``lintseq sample`` records."""

    def __init__(self):
        self.programs: set = set()
        self.rejected: set = set()
        self.sequences = 0
        self.edits_per_sequence = Histogram()
        self.lines_per_edit = Histogram()
        self.hunks_per_edit = Histogram()
        self.lines_per_program = Histogram()
        self.lint_calls_per_sequence = Histogram()
        self._lint_by_program: Counter = Counter()

    def add_sequence(self, source_id: str, edits: list[str], n_lines: int | None,
                     lint_calls: int | None) -> None:
        self.sequences += 1
        if source_id not in self.programs:
            self.programs.add(source_id)
            if n_lines is not None:
                self.lines_per_program.add(n_lines)
        self.edits_per_sequence.add(len(edits))
        for edit in edits:
            lines = edit.split("\n")
            self.hunks_per_edit.add(sum(1 for line in lines if line.startswith("@@")))
            self.lines_per_edit.add(sum(1 for line in lines if line[:1] in "+-" and line))
        if lint_calls is not None:
            self.lint_calls_per_sequence.add(lint_calls)
            self._lint_by_program[source_id] += lint_calls

    def add_reject(self, source_id: str) -> None:
        self.rejected.add(source_id)

    def result(self) -> dict:
        per_program = Histogram()
        for calls in self._lint_by_program.values():
            per_program.add(calls)
        return {
            "programs": len(self.programs), "sequences": self.sequences,
            "rejects": len(self.rejected),
            "edits_per_sequence": self.edits_per_sequence.summary(),
            "lines_per_edit": self.lines_per_edit.summary(),
            "hunks_per_edit": self.hunks_per_edit.summary(),
            "lines_per_program": self.lines_per_program.summary(),
            "lint_calls_per_sequence": self.lint_calls_per_sequence.summary(),
            "lint_calls_per_program": per_program.summary(),
        }


def format_table(result: dict) -> str:
    """A small aligned table for people."""
    rows = [f"programs   {result['programs']}", f"sequences  {result['sequences']}",
            f"rejects    {result['rejects']}", "",
            f"{'':26}{'mean':>9}{'min':>7}{'p50':>7}{'p90':>7}{'max':>7}"]
    for key in ("edits_per_sequence", "lines_per_edit", "hunks_per_edit", "lines_per_program",
                "lint_calls_per_sequence", "lint_calls_per_program"):
        s = result[key]
        if not s.get("n"):
            continue
        rows.append(f"{key.replace('_', ' '):26}{s['mean']:>9.2f}{s['min']:>7}{s['p50']:>7}"
                    f"{s['p90']:>7}{s['max']:>7}")
    return "\n".join(rows)


def plot(stats: EditStats, path: str) -> None:
    """Histograms of edits per sequence and lines per edit, as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, hist, title in ((axes[0], stats.edits_per_sequence, "edits per sequence"),
                            (axes[1], stats.lines_per_edit, "lines inserted per edit")):
        values = sorted(hist.counts)
        ax.bar(values, [hist.counts[v] for v in values], width=0.8, color="#3b6ea8")
        ax.set_title(title)
        ax.set_ylabel("count")
    fig.suptitle(f"LintSeq: {len(stats.programs)} programs, {stats.sequences} sequences")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
