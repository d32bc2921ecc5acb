"""Learning curves over seeds: success (or return) against environment frames, aggregated with
rliable (the interquartile mean with 95% stratified-bootstrap confidence intervals over seeds at
each point of a common frame grid, the optimality gap at the end), written as JSONL records and
drawn as a PNG.

    curves = load_curves(["runs/ppo-s0", "runs/ppo-s1", "runs/sb3-s0", "runs/sb3-s1"])
    records = aggregate(curves, "success")
    write_curves(records, "curves.jsonl")
    plot_curves(records, "curves.png")

A run folder's log.jsonl records with ``frames`` and the metric make its curve; its arm is
``settings.json``'s ``arm`` when there is one, else the folder's name without a trailing seed
(``ppo-s3``, ``ppo_seed3``, ``ppo-3`` -> ``ppo``); ``load_curves({"arm": [dirs]})`` names them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson

from papertools.core.errors import PapertoolsError

SEED_SUFFIX = re.compile(r"[-_.]?(?:s|seed)?[-_]?\d+$")


def arm_of(run_dir) -> str:
    """The arm a run belongs to: settings.json's ``arm``, else the folder name less its seed
    (``ppo-seed-3`` -> ``ppo``; ``DIR/seed-3`` -> ``DIR``'s name)."""
    path = Path(run_dir)
    settings = path / "settings.json"
    if settings.exists():
        arm = orjson.loads(settings.read_bytes()).get("arm")
        if arm:
            return str(arm)
    name = SEED_SUFFIX.sub("", path.name)
    if not name:  # a folder named only by its seed (bench ppo's DIR/seed-N): the parent's name
        return path.resolve().parent.name
    return name


def load_curves(run_dirs) -> list[dict]:
    """One curve per run: ``{"run", "arm", "frames": [...], "values": {metric: [...]}}``, from
    the log records that have ``frames`` (in frame order; a metric missing from a record is
    left out at that point). ``run_dirs``: folders, or a dict arm -> folders."""
    if isinstance(run_dirs, dict):
        pairs = [(arm, d) for arm, dirs in run_dirs.items() for d in dirs]
    else:
        pairs = [(arm_of(d), d) for d in run_dirs]
    curves = []
    for arm, run_dir in pairs:
        log = Path(run_dir) / "log.jsonl"
        if not log.exists():
            raise PapertoolsError(f"{run_dir} is not a run folder (no log.jsonl)")
        points = [r for r in map(orjson.loads, log.read_bytes().splitlines())
                  if isinstance(r.get("frames"), (int, float))]
        points.sort(key=lambda r: r["frames"])
        metrics = sorted({k for r in points for k, v in r.items()
                          if k != "frames" and isinstance(v, (int, float))
                          and not isinstance(v, bool)})
        values = {m: [(r["frames"], float(r[m])) for r in points
                      if isinstance(r.get(m), (int, float)) and not isinstance(r[m], bool)]
                  for m in metrics}
        curves.append({"run": str(run_dir), "arm": arm,
                       "frames": [r["frames"] for r in points], "values": values})
    return curves


def grid_scores(curves: list[dict], metric: str, points: int = 50, grid=None):
    """(grid [P], {arm: scores [seeds, P]}): each run's metric interpolated linearly onto a
    common frame grid (``points`` frames from the smallest first to the smallest last frame
    over all runs, so that no run is extrapolated)."""
    series = []
    for c in curves:
        pairs = c["values"].get(metric, [])
        if not pairs:
            raise PapertoolsError(f"{c['run']}: no {metric!r} in its log records")
        series.append((c["arm"], np.array([p[0] for p in pairs], float),
                       np.array([p[1] for p in pairs], float)))
    if grid is None:
        low = max(x[0] for _, x, _ in series)
        high = min(x[-1] for _, x, _ in series)
        grid = np.linspace(low, max(low, high), points)
    grid = np.asarray(grid, float)
    scores: dict[str, list] = {}
    for arm, x, y in series:
        scores.setdefault(arm, []).append(np.interp(grid, x, y))
    return grid, {arm: np.stack(rows) for arm, rows in scores.items()}


def aggregate(curves: list[dict], metric: str = "success", *, points: int = 50, reps: int = 2000,
              seed: int = 0, gap_target: float = 1.0) -> list[dict]:
    """Records, per arm and grid point: ``{"arm", "metric", "frames", "iqm", "low", "high",
    "seeds"}`` (the IQM over seeds and its 95% stratified-bootstrap interval, ``reps``
    resamples), and per arm one ``{"arm", "metric", "frames", "optimality_gap", "low", "high",
    "seeds", "final": true}`` at the last grid point (the mean shortfall below ``gap_target``:
    1 for success)."""
    from rliable import metrics

    grid, scores = grid_scores(curves, metric, points)

    def iqm(x):  # x [seeds, tasks=1, P] -> [P]
        return np.array([metrics.aggregate_iqm(x[..., p]) for p in range(x.shape[-1])])

    def gap(x):  # x [seeds, tasks=1]
        return np.array([metrics.aggregate_optimality_gap(x, gap_target)])

    curve_est, curve_ci = interval_estimates({a: s[:, None, :] for a, s in scores.items()}, iqm,
                                             reps, seed)
    end_est, end_ci = interval_estimates({a: s[:, -1:] for a, s in scores.items()}, gap, reps,
                                         seed)
    records = []
    for arm, s in scores.items():
        for p, frames in enumerate(grid):
            records.append({"arm": arm, "metric": metric, "frames": _num(frames),
                            "iqm": _num(curve_est[arm][p]), "low": _num(curve_ci[arm][0][p]),
                            "high": _num(curve_ci[arm][1][p]), "seeds": int(s.shape[0])})
        records.append({"arm": arm, "metric": metric, "frames": _num(grid[-1]),
                        "optimality_gap": _num(end_est[arm][0]),
                        "low": _num(end_ci[arm][0][0]), "high": _num(end_ci[arm][1][0]),
                        "seeds": int(s.shape[0]), "final": True})
    return records


def interval_estimates(scores: dict, func, reps: int, seed: int):
    """({arm: point estimate}, {arm: [2, ...] 95% percentile interval}): the stratified
    bootstrap of rliable's ``get_interval_estimates`` (runs resampled with replacement within
    each task), computed here with a seeded generator. rliable's own call is not used: under
    the ``arch`` it needs (7.x), two calls with the same ``random_state`` gave different
    intervals for a curve's [runs, tasks, points] scores, and curves must be reproducible."""
    rng = np.random.default_rng(seed)
    estimates, intervals = {}, {}
    for arm, x in scores.items():
        estimates[arm] = func(x)
        n = x.shape[0]
        draws = []
        for _ in range(reps):
            if x.ndim == 1:
                draws.append(func(x[rng.integers(0, n, n)]))
                continue
            # resample the runs of every task independently (stratified by task)
            picks = rng.integers(0, n, (n, x.shape[1]))
            draws.append(func(np.take_along_axis(
                x, picks.reshape(n, x.shape[1], *([1] * (x.ndim - 2))), 0)))
        intervals[arm] = np.percentile(np.stack(draws), [2.5, 97.5], axis=0)
    return estimates, intervals


def write_curves(records: list[dict], jsonl_path) -> None:
    """The records as JSON lines, written atomically."""
    from papertools.core.jsonl import atomic_path, dumps

    with atomic_path(jsonl_path) as tmp, open(tmp, "wb") as out:
        for r in records:
            out.write(dumps(r))


def plot_curves(records: list[dict], png_path, title: str | None = None) -> None:
    """One line per arm (the IQM) with its 95% interval as a band, frames on x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from papertools.core.jsonl import atomic_path

    rows = [r for r in records if "iqm" in r]
    if not rows:
        raise PapertoolsError("no curve records to plot")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm]
        x = [r["frames"] for r in mine]
        ax.plot(x, [r["iqm"] for r in mine], label=f"{arm} ({mine[0]['seeds']} seeds)")
        ax.fill_between(x, [r["low"] for r in mine], [r["high"] for r in mine], alpha=0.25)
    metric = rows[0]["metric"]
    ax.set_xlabel("environment frames")
    ax.set_ylabel(f"{metric} (IQM, 95% CI)")
    ax.set_title(title or f"{metric} against frames")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _num(x) -> float:
    return round(float(x), 6)


__all__ = ["aggregate", "arm_of", "grid_scores", "interval_estimates", "load_curves",
           "plot_curves", "write_curves"]
