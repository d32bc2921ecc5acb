"""The toy sets and the exact algebra of their densities."""

import numpy as np
import pytest

from papertools.cli.compose_sample import toysets
from papertools.cli.compose_sample.evaluate import Reference, energy_distance
from papertools.cli.compose_sample.expr import parse

bind = toysets.TOYS.__getitem__


def grid(expr):
    return toysets.exact_grid(parse(expr), bind)


def mass(g, where):
    gx, gy = np.meshgrid(g.xs, g.ys)
    return float((g.p * where(gx, gy)).sum() * g.cell ** 2)


def test_single_sets_normalise():
    for name in ("ring", "bar", "box"):
        assert mass(grid(name), lambda x, y: 1.0) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    bar = toysets.sample_toy("bar", 1000, rng)
    assert np.abs(bar[:, 0]).max() <= 0.2 and np.abs(bar[:, 1]).max() <= 1.0
    ring = toysets.sample_toy("ring", 4000, rng)
    assert np.linalg.norm(ring, axis=1).mean() == pytest.approx(0.5, abs=0.01)


def test_product_is_the_ring_inside_the_bar():
    g = grid("ring + bar")
    assert mass(g, lambda x, y: np.abs(x) <= 0.2) == pytest.approx(1.0)
    assert mass(g, lambda x, y: (np.abs(y) > 0.4) & (np.abs(x) < 0.1)) > 0.98  # the 2 modes at +-y


def test_negation_is_the_frame_between_the_boxes():
    g = grid("1.3*box - 0.3*small_box")
    assert mass(g, lambda x, y: (np.abs(x) < 0.29) & (np.abs(y) < 0.29)) < 1e-9
    frame = 1.4 ** 2 - 0.6 ** 2
    inside = (np.abs(g.xs) < 0.69)
    assert g.p[np.ix_(inside, inside)].max() == pytest.approx(1 / frame, rel=0.02)


def test_mixture_weights_and_temperature():
    g = grid("0.25:left_bar | 0.75:right_bar")
    assert mass(g, lambda x, y: x < 0) == pytest.approx(0.25, abs=0.01)
    g = grid("0:left_bar | 1:right_bar")
    assert mass(g, lambda x, y: x < 0) == 0.0


def test_tempering_a_gaussian_changes_its_variance():
    g = grid("0.5*ring")  # each mode's std times sqrt(2)
    pts = g.sample(20000, np.random.default_rng(1))
    angle = np.arctan2(pts[:, 1], pts[:, 0])
    mode = np.round(angle / (np.pi / 4)) * np.pi / 4
    centre = 0.5 * np.stack([np.cos(mode), np.sin(mode)], 1)
    assert (pts - centre).std() == pytest.approx(0.03 * np.sqrt(2), rel=0.05)


def test_energy_distance_hand_computed():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0]])
    # 2 E|a-b| - E|a-a'| - E|b-b'| with the zero diagonals counted (V-statistics)
    expected = 2 * (1 + np.sqrt(2)) / 2 - (0 + 1 + 1 + 0) / 4 - 0
    assert energy_distance(a, b) == pytest.approx(expected)


def test_reference_scores_exact_samples_well_and_others_badly():
    ref = Reference(parse("ring + bar"), bind, max_points=500)
    good = ref.score(ref.grid.sample(500, np.random.default_rng(5)))
    bad = ref.score(toysets.sample_toy("ring", 500, np.random.default_rng(5)))
    assert good["support_fraction"] > 0.97 and bad["support_fraction"] < 0.4
    assert good["mean_log_density"] > bad["mean_log_density"] + 5
    assert good["energy_distance"] < 0.03 < 0.06 < bad["energy_distance"]
