"""Samples against the exact composed density of toy sets (see toysets.py for the exact algebra).

For one group of 2D samples and a target density on the grid:

- ``mean_log_density``: mean of log p(x), where p is the exact composed density smoothed with a
  Gaussian of std ``bandwidth`` (samples at level 0 carry noise of std sigma_0 ~ 0.025, and a
  density with hard edges would punish every sample near an edge equally) and mixed with 1e-4 of
  the uniform density on the grid, so a point far from the target counts as log(1e-4 / area),
  not -infinity. ``exact_mean_log_density`` is the same figure for exact samples.
- ``support_fraction``: the fraction of samples inside the target's 99% highest-density region
  (exact density; ties included), dilated by ``bandwidth``; exact samples score about 0.99+.
- ``energy_distance``: the energy distance (2E|X-Y| - E|X-X'| - E|Y-Y'|, unbiased within-set
  terms) between at most ``max_points`` samples and as many exact samples;
  ``energy_distance_floor`` is the same between two independent exact sample sets of the same
  size (what a perfect sampler would score).
"""

from __future__ import annotations

import numpy as np

from . import toysets as toy

OUTLIER = 1e-4


def energy_distance(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> float:
    def mean_dist(p, q, same):
        total, count = 0.0, 0
        for i in range(0, len(p), chunk):
            d = np.sqrt(((p[i:i + chunk, None, :] - q[None, :, :]) ** 2).sum(-1))
            total += d.sum()
            count += d.size
        return total / count

    return float(2 * mean_dist(a, b, False) - mean_dist(a, a, True) - mean_dist(b, b, True))


class Reference:
    """The exact composed density of a toy expression, ready to score samples."""

    def __init__(self, node, bind, bandwidth: float = 0.02, mix_temperature: float = 1.0,
                 seed: int = 0, max_points: int = 2000):
        self.grid = toy.exact_grid(node, bind, mix_temperature)
        h = self.grid.cell
        smooth = toy.gaussian_smooth(self.grid.p, bandwidth / h)
        area = (len(self.grid.xs) * h) ** 2
        self.smooth = (1 - OUTLIER) * smooth / (smooth.sum() * h * h) + OUTLIER / area
        self.floor = float(np.log(OUTLIER / area))
        self.support = toy.dilate(toy.high_density_region(self.grid.p, 0.99),
                                  int(round(bandwidth / h)))
        rng = np.random.default_rng(seed)
        self.max_points = max_points
        self.exact = self.grid.sample(max_points, rng)
        self.exact2 = self.grid.sample(max_points, rng)
        self.rng = rng

    def log_density(self, x: np.ndarray) -> np.ndarray:
        p = self.grid.lookup(x, self.smooth)
        return np.where(p > 0, np.log(np.maximum(p, 1e-300)), self.floor)

    def inside(self, x: np.ndarray) -> np.ndarray:
        return self.grid.lookup(x, self.support.astype(float)) > 0.5

    def score(self, x: np.ndarray) -> dict:
        sub = x
        if len(x) > self.max_points:
            sub = x[self.rng.choice(len(x), self.max_points, replace=False)]
        k = len(sub)  # the floor at the same size: the V-statistic's bias grows as 1/k
        return dict(n=int(len(x)), mean_log_density=float(self.log_density(x).mean()),
                    support_fraction=float(self.inside(x).mean()),
                    energy_distance=energy_distance(sub, self.exact[:k]),
                    energy_distance_floor=energy_distance(self.exact2[:k], self.exact[:k]))

    def exact_scores(self) -> dict:
        return dict(exact_mean_log_density=float(self.log_density(self.exact).mean()),
                    exact_support_fraction=float(self.inside(self.exact).mean()))


def plot(path: str, reference: Reference, groups: dict, title: str) -> None:
    """One panel for the exact density with exact samples, one per group of samples over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("exact", reference.exact)] + list(groups.items())
    cols = min(len(panels), 4)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows), squeeze=False)
    lim = toy.GRID_LIMIT
    shown = np.log(reference.smooth)
    for ax, (name, pts) in zip(axes.ravel(), panels):
        low = np.percentile(shown, 50)
        ax.imshow(shown, origin="lower", extent=(-lim, lim, -lim, lim), cmap="Greys",
                  vmin=low, vmax=shown.max() + 0.6 * (shown.max() - low))  # the mode: mid-grey
        pts = pts[:2000]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.6, linewidths=0,
                   color="tab:green" if name == "exact" else "tab:red")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
