"""benchmarks/bc_bench.py's bookkeeping: the demonstration, development and test episode seeds
are disjoint, an overlap is caught, and a prefix of a dataset reads as the first N episodes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bc_bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bc_bench

        yield bc_bench
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_full_run_seed_sets_are_disjoint(bc_bench):
    full = bc_bench.MODES["full"]
    for level in bc_bench.LEVELS:
        sets = {"demonstration": bc_bench.episode_seeds(level, bc_bench.DEMO_SEED,
                                                        max(full["demos"])),
                "development": bc_bench.episode_seeds(level, bc_bench.DEV_SEED,
                                                      full["dev_episodes"]),
                "test": bc_bench.episode_seeds(level, bc_bench.TEST_SEED,
                                               full["test_episodes"])}
        assert len(sets["test"]) == full["test_episodes"]  # no repeats within a set either
        bc_bench.check_disjoint(sets)


def test_overlap_is_caught(bc_bench):
    a = bc_bench.episode_seeds("GoToLocal", 1, 20)
    b = bc_bench.episode_seeds("GoToLocal", 1, 5)  # the same --seed: the first five again
    with pytest.raises(RuntimeError, match="share 5 seeds"):
        bc_bench.check_disjoint({"demonstration": a, "test": b})


def test_prefix_is_the_first_episodes(bc_bench, tmp_path):
    from papertools.cli.bench.collect import CollectConfig, collect
    from papertools.core.trajectories import TrajectoryDataset

    config = CollectConfig(env="babyai", task="GoToLocal", agent="bot", seed=bc_bench.DEMO_SEED)
    collect(config, 4, tmp_path / "demos")
    sub = TrajectoryDataset(bc_bench.prefix(tmp_path / "demos", 2, tmp_path / "two"))
    whole = TrajectoryDataset(tmp_path / "demos")
    assert sub.ids == whole.ids[:2]
    assert (sub.load(sub.ids[1])["actions"] == whole.load(whole.ids[1])["actions"]).all()
    assert bc_bench.played_seeds(tmp_path / "two") == bc_bench.episode_seeds(
        "GoToLocal", bc_bench.DEMO_SEED, 2)
    with pytest.raises(RuntimeError, match="holds 4 episodes"):
        bc_bench.prefix(tmp_path / "demos", 5, tmp_path / "five")
