"""Learning curves: hand-made run folders, IQM with bootstrap intervals, JSONL and PNG."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from papertools.core.learn.curves import (aggregate, arm_of, grid_scores, interval_estimates,
                                          load_curves, plot_curves, write_curves)


def make_run(path, frames, success, arm=None):
    path.mkdir(parents=True)
    (path / "settings.json").write_bytes(orjson.dumps({"seed": 0, **({"arm": arm} if arm else {})}))
    lines = [orjson.dumps({"frames": f, "success": s, "return": 10 * s, "fps": 100.0})
             for f, s in zip(frames, success)]
    lines.insert(1, orjson.dumps({"step": 1, "loss": 0.5}))  # no frames: not a curve point
    (path / "log.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def runs(tmp_path):
    """Arm "good" reaches 0.2, 0.4, 0.6, 0.8, 1.0 at the end (seeds 0-4), its midpoint logged at
    different frames; arm "flat" stays at 0.1."""
    dirs = []
    for s in range(5):
        final = 0.2 * (s + 1)
        frames = [0, 500 + 10 * s, 1000]
        dirs.append(make_run(tmp_path / f"good-s{s}", frames, [0.0, final / 2, final]))
    for s in range(3):
        dirs.append(make_run(tmp_path / f"run{s}", [0, 1000], [0.1, 0.1], arm="flat"))
    return dirs


def test_arms_and_curves(runs, tmp_path):
    assert arm_of(tmp_path / "good-s3") == "good" and arm_of(tmp_path / "run1") == "flat"
    assert arm_of(tmp_path / "ppo_seed12") == "ppo"
    curves = load_curves(runs)
    assert [c["arm"] for c in curves] == ["good"] * 5 + ["flat"] * 3
    assert curves[0]["frames"] == [0, 500, 1000]  # the record without frames is left out
    assert curves[0]["values"]["success"] == [(0, 0.0), (500, 0.1), (1000, 0.2)]
    named = load_curves({"x": runs[:2]})
    assert [c["arm"] for c in named] == ["x", "x"]

    grid, scores = grid_scores(curves, "success", points=3)
    assert grid.tolist() == [0.0, 500.0, 1000.0]  # up to the shortest run: no extrapolation
    assert scores["good"].shape == (5, 3) and scores["flat"].shape == (3, 3)
    assert scores["good"][:, -1] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0], abs=0.01)


def test_iqm_interval_and_gap(runs):
    records = aggregate(load_curves(runs), "success", points=5, reps=500, seed=1)
    good = [r for r in records if r["arm"] == "good" and "iqm" in r]
    assert len(good) == 5 and good[0]["seeds"] == 5
    end = good[-1]
    # the IQM of 0.2..1.0 (scipy's 25% trimmed mean: the middle three) is 0.6
    assert end["iqm"] == pytest.approx(0.6, abs=0.01)
    assert end["low"] < end["iqm"] < end["high"] and 0.2 <= end["low"] and end["high"] <= 1.0
    flat = [r for r in records if r["arm"] == "flat" and "iqm" in r]
    assert all(r["iqm"] == pytest.approx(0.1) and r["low"] == r["high"] for r in flat)
    gaps = {r["arm"]: r for r in records if r.get("final")}
    assert gaps["flat"]["optimality_gap"] == pytest.approx(0.9)
    assert gaps["good"]["optimality_gap"] == pytest.approx(0.4, abs=0.01)  # mean of 1 - x
    # the same seed gives the same intervals
    assert aggregate(load_curves(runs), "success", points=5, reps=500, seed=1) == records


def test_bootstrap_matches_the_percentile_interval():
    scores = {"a": np.arange(10, dtype=float)[:, None]}

    def mean(x):
        return np.array([x.mean()])

    est, ci = interval_estimates(scores, mean, reps=2000, seed=0)
    assert est["a"][0] == pytest.approx(4.5)
    # the mean of 10 values 0..9 resampled: standard error about 0.9, so about +-1.8
    assert 2.3 < ci["a"][0][0] < 3.2 and 5.8 < ci["a"][1][0] < 6.7


def test_jsonl_and_png(runs, tmp_path):
    records = aggregate(load_curves(runs), "return", points=4, reps=200)
    write_curves(records, tmp_path / "curves.jsonl")
    back = [orjson.loads(line) for line in (tmp_path / "curves.jsonl").read_bytes().splitlines()]
    assert back == records and {r["metric"] for r in back} == {"return"}
    plot_curves(records, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
