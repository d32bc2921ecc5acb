"""The observation-only loader and the pair samplers (cli/pretrain/data.py)."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.cli.pretrain.data import ObservationDataset, geometric_pairs, progress_pairs
from papertools.core.errors import InputError
from tests.pretrain.o_fixtures import bot_dataset


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return bot_dataset(tmp_path_factory.mktemp("o-data") / "demos", episodes=8)


def _geometric_law(gamma, dmax):
    d = np.arange(1, dmax + 1)
    return (1 - gamma) * gamma ** (d - 1)


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_geometric_offsets_follow_the_law(gamma):
    rng = np.random.default_rng(0)
    lengths = np.full(4, 100_000)  # ends almost never reached: the law itself
    _, i, j = geometric_pairs(lengths, 200_000, gamma, rng)
    d = j - i
    assert d.min() >= 1
    dmax = 60
    empirical = np.bincount(np.minimum(d, dmax + 1), minlength=dmax + 2)[1:] / len(d)
    law = _geometric_law(gamma, dmax)
    law = np.append(law, 1 - law.sum())
    tv = 0.5 * np.abs(empirical - law).sum()
    assert tv < 0.01
    # a wrong law (another gamma, or D shifted by one) is far away
    wrong = np.append(_geometric_law(gamma - 0.1, dmax), 0)
    wrong[-1] = 1 - wrong.sum()
    assert 0.5 * np.abs(empirical - wrong).sum() > 0.03
    shifted = np.bincount(np.minimum(d + 1, dmax + 1), minlength=dmax + 2)[1:] / len(d)
    assert 0.5 * np.abs(shifted - law).sum() > 0.03


@pytest.mark.parametrize("at_end", ["resample", "truncate"])
def test_pairs_never_cross_an_episode_end(at_end):
    rng = np.random.default_rng(1)
    lengths = rng.integers(2, 6, size=500)  # many short episodes
    e, i, j = geometric_pairs(lengths, 50_000, 0.9, rng, at_end=at_end)
    assert (j > i).all() and (i >= 0).all() and (j <= lengths[e] - 1).all()
    e, i, j = progress_pairs(lengths, 50_000, rng, max_gap=8)
    assert (j > i).all() and (j <= lengths[e] - 1).all()


def test_truncate_and_resample_differ_at_the_end():
    rng = np.random.default_rng(2)
    lengths = np.array([6])  # frames 0..5
    e, i, j = geometric_pairs(lengths, 100_000, 0.9, rng, at_end="truncate")
    d = j - i
    # truncate: the last frame absorbs every offset that would pass it
    from_zero = d[i == 0]
    assert np.mean(from_zero == 5) == pytest.approx(0.9 ** 4, abs=0.01)
    e, i, j = geometric_pairs(lengths, 100_000, 0.9, rng, at_end="resample")
    from_zero = (j - i)[i == 0]
    law = _geometric_law(0.9, 5)
    law = law / law.sum()  # the geometric conditioned on D <= 5
    empirical = np.bincount(from_zero, minlength=6)[1:] / len(from_zero)
    assert np.abs(empirical - law).max() < 0.01


def test_progress_pairs_are_uniform_over_pairs():
    rng = np.random.default_rng(3)
    lengths = np.array([4, 11])  # pairs with gap <= 3: 6 in the first, 27 in the second
    e, i, j = progress_pairs(lengths, 66_000, rng, max_gap=3)
    assert np.mean(e == 0) == pytest.approx(6 / 33, abs=0.01)
    counts = np.bincount(i[e == 1] * 16 + j[e == 1])
    counts = counts[counts > 0]
    assert len(counts) == 27 and counts.min() > 0.85 * counts.max()


def test_loader_returns_observations_only(demos):
    data = ObservationDataset(demos)
    assert data.episodes == 8 and len(data.lengths) == 8
    assert set(data.keys) == {"image", "direction"}
    frames = data.frames(0, [0, 1, int(data.lengths[0]) - 1])
    assert set(frames) == {"image", "direction", "mission"}
    assert frames["image"].shape == (3, 7, 7, 3)
    public = [n for n in dir(data) if not n.startswith("_")]
    assert not [n for n in public if any(w in n for w in ("action", "reward", "label", "done"))
                and n != "action_space"]
    only_image = ObservationDataset(demos, keys=["image"])
    assert set(only_image.frames(0, [0])) == {"image"}
    train, valid = data.split(0.25, seed=0)
    assert train.episodes + valid.episodes == 8 and not set(train.ids) & set(valid.ids)
    assert {"image", "mission"} <= set(data.observation_space.spaces)
    assert data.action_space.n == 7


def test_a_bad_dataset_path_is_one_input_error(tmp_path):
    with pytest.raises(InputError, match="not a trajectory dataset"):
        ObservationDataset(tmp_path / "nowhere")
