"""The paper's 2D toy sets, their exact densities, and exact densities of compositions on a grid.

Toy sets (as in the public notebook ``simple_distributions.ipynb``):

    ring        8 Gaussians on a circle of radius 0.5, std 0.03 (the product demo's ring)
    ring_wide   the same ring with the notebook's default std 0.075
    half_ring1  modes 0-3 of the ring (upper half), std 0.03
    half_ring2  modes 4-7 of the ring (lower half), std 0.03
    bar         uniform on [-0.2, 0.2] x [-1, 1] (vertical bar, x scaled by 0.2)
    hbar        uniform on [-1, 1] x [-0.2, 0.2] (horizontal bar)
    left_bar    uniform on [-0.3, -0.1] x [-1, 1] (x scaled by 0.1, offset -0.2)
    right_bar   uniform on [0.1, 0.3] x [-1, 1] (x scaled by 0.1, offset +0.2)
    box         uniform on [-0.7, 0.7]^2
    small_box   uniform on [-0.3, 0.3]^2

The paper's demos: product ``ring + bar``, mixture ``left_bar | right_bar``, negation
``1.3*box - 0.3*small_box``.

Exact composed densities. Uniform sets have densities that are zero outside their support, so
``1.3*box - 0.3*small_box`` is infinite outside the small box. The algebra is done on pairs
(k, v) that stand for log p = v - k*L with L -> infinity (k = 0 inside a support, 1 outside):
the energy algebra acts on both parts, and the composed density keeps only the cells with the
least k. This is the limit of the composition of ever sharper smooth densities: the product of
the ring and the bar is the ring restricted to the bar, the negation of the small box within the
big box is uniform on the frame between them, a mixture is the weighted sum of the normalised
densities (at mixture temperature 1). The result is normalised on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expr import Linear, Mixture, Name, Node

RING_RADIUS = 0.5
GRID_LIMIT = 1.25  # the grid covers [-GRID_LIMIT, GRID_LIMIT]^2
GRID_CELLS = 500


@dataclass(frozen=True)
class Gaussians:
    """An equal-weight mixture of isotropic Gaussians."""

    means: np.ndarray  # (k, 2)
    std: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.integers(0, len(self.means), size=n)
        return self.means[which] + self.std * rng.standard_normal((n, 2))

    def log_density(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # (n, k)
        logs = -0.5 * d2 / self.std ** 2 - np.log(2 * np.pi * self.std ** 2)
        top = logs.max(1, keepdims=True)
        v = (top + np.log(np.exp(logs - top).mean(1, keepdims=True)))[:, 0]
        return np.zeros(len(x)), v


@dataclass(frozen=True)
class Box:
    """Uniform on [x0, x1] x [y0, y1]."""

    x0: float
    x1: float
    y0: float
    y1: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.random((n, 2))
        return np.stack([self.x0 + (self.x1 - self.x0) * u[:, 0],
                         self.y0 + (self.y1 - self.y0) * u[:, 1]], 1)

    def log_density(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = (x[:, 0] >= self.x0) & (x[:, 0] <= self.x1) & (x[:, 1] >= self.y0) & \
            (x[:, 1] <= self.y1)
        area = (self.x1 - self.x0) * (self.y1 - self.y0)
        return np.where(inside, 0.0, 1.0), np.full(len(x), -np.log(area))


def _ring(modes, std):
    angles = 2 * np.pi * np.arange(8) / 8
    means = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    return Gaussians(means[list(modes)], std)


TOYS = {
    "ring": _ring(range(8), 0.03),
    "ring_wide": _ring(range(8), 0.075),
    "half_ring1": _ring(range(4), 0.03),
    "half_ring2": _ring(range(4, 8), 0.03),
    "bar": Box(-0.2, 0.2, -1.0, 1.0),
    "hbar": Box(-1.0, 1.0, -0.2, 0.2),
    "left_bar": Box(-0.3, -0.1, -1.0, 1.0),
    "right_bar": Box(0.1, 0.3, -1.0, 1.0),
    "box": Box(-0.7, 0.7, -0.7, 0.7),
    "small_box": Box(-0.3, 0.3, -0.3, 0.3),
}

#: The paper's three 2D compositions (benchmark and demo).
COMPOSITIONS = {
    "product": "ring + bar",
    "mixture": "left_bar | right_bar",
    "negation": "1.3*box - 0.3*small_box",
}


def sample_toy(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return TOYS[name].sample(n, rng)


# ---------------------------------------------------------------------------------------------
# Exact composed densities on a grid


@dataclass
class GridDensity:
    """A density on a regular 2D grid: ``p[i, j]`` at (xs[j], ys[i]); sums to 1 times cell area."""

    xs: np.ndarray
    ys: np.ndarray
    p: np.ndarray  # (ny, nx), normalised: p.sum() * cell_area == 1

    @property
    def cell(self) -> float:
        return float(self.xs[1] - self.xs[0])

    def lookup(self, x: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
        """The density at points (nearest cell); 0 outside the grid."""
        p = self.p if p is None else p
        h, lo = self.cell, self.xs[0] - self.cell / 2
        j = np.floor((x[:, 0] - lo) / h).astype(np.int64)
        i = np.floor((x[:, 1] - lo) / h).astype(np.int64)
        ok = (i >= 0) & (i < len(self.ys)) & (j >= 0) & (j < len(self.xs))
        out = np.zeros(len(x))
        out[ok] = p[i[ok], j[ok]]
        return out

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        flat = self.p.ravel() / self.p.sum()
        idx = rng.choice(flat.size, size=n, p=flat)
        i, j = np.divmod(idx, len(self.xs))
        jitter = (rng.random((n, 2)) - 0.5) * self.cell
        return np.stack([self.xs[j], self.ys[i]], 1) + jitter


def grid_points(limit: float = GRID_LIMIT, cells: int = GRID_CELLS):
    h = 2 * limit / cells
    xs = -limit + h * (np.arange(cells) + 0.5)
    gx, gy = np.meshgrid(xs, xs)
    return xs, np.stack([gx.ravel(), gy.ravel()], 1)


def exact_log_density(node: Node, bind, x: np.ndarray, mix_temperature: float = 1.0):
    """(k, v) of the composed log density at points ``x`` (see the module docstring).

    ``bind(name)`` returns the toy set a name stands for."""
    if isinstance(node, Name):
        return bind(node.name).log_density(x)
    if isinstance(node, Linear):
        k = np.zeros(len(x))
        v = np.zeros(len(x))
        for coef, child in node.terms:
            ck, cv = exact_log_density(child, bind, x, mix_temperature)
            k, v = k + coef * ck, v + coef * cv
        return k, v
    if isinstance(node, Mixture):
        tau = mix_temperature
        parts = [(w, exact_log_density(child, bind, x, mix_temperature))
                 for w, child in zip(node.weights(), node.parts) if w > 0]
        k = np.min(np.stack([ck for _, (ck, _) in parts]), 0)
        logs = np.stack([np.where(np.isclose(ck, k), np.log(w) + tau * cv, -np.inf)
                         for w, (ck, cv) in parts])
        top = logs.max(0)
        v = (top + np.log(np.exp(logs - top).sum(0))) / tau
        return k, v
    raise TypeError(f"unknown node {node!r}")


def exact_grid(node: Node, bind, mix_temperature: float = 1.0, limit: float = GRID_LIMIT,
               cells: int = GRID_CELLS) -> GridDensity:
    """The composed density of toy sets, normalised on a ``cells`` x ``cells`` grid."""
    xs, pts = grid_points(limit, cells)
    k, v = exact_log_density(node, bind, pts, mix_temperature)
    keep = np.isclose(k, k.min(), atol=1e-9)
    v = np.where(keep, v, -np.inf)
    p = np.exp(v - v[keep].max()).reshape(cells, cells)
    h = xs[1] - xs[0]
    total = p.sum() * h * h
    if not np.isfinite(total) or total <= 0:
        raise ValueError("the composed density is zero everywhere on the grid")
    return GridDensity(xs, xs.copy(), p / total)


def gaussian_smooth(p: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Separable Gaussian blur (zero padding), mass-preserving inside the grid."""
    if sigma_cells <= 0:
        return p.copy()
    radius = int(np.ceil(4 * sigma_cells))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma_cells) ** 2)
    kernel /= kernel.sum()
    out = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, p)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, out)


def dilate(mask: np.ndarray, radius_cells: int) -> np.ndarray:
    """Binary dilation by a disc (by shifts; radius is small)."""
    if radius_cells <= 0:
        return mask.copy()
    out = mask.copy()
    n0, n1 = mask.shape
    for di in range(-radius_cells, radius_cells + 1):
        for dj in range(-radius_cells, radius_cells + 1):
            if di * di + dj * dj > radius_cells * radius_cells:
                continue
            src = mask[max(0, -di):n0 - max(0, di), max(0, -dj):n1 - max(0, dj)]
            out[max(0, di):n0 - max(0, -di), max(0, dj):n1 - max(0, -dj)] |= src
    return out


def high_density_region(p: np.ndarray, mass: float = 0.99) -> np.ndarray:
    """The smallest set of cells (highest density first, ties included) holding ``mass``."""
    flat = np.sort(p.ravel())[::-1]
    cum = np.cumsum(flat) / flat.sum()
    threshold = flat[min(int(np.searchsorted(cum, mass)), flat.size - 1)]
    return p >= threshold
