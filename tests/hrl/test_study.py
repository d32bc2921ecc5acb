"""hrl study's planning and summary: arms pull in what they stand on, the evaluation seeds are
checked against the demonstrations', and the IQM is the interquartile mean."""

from __future__ import annotations

import orjson
import pytest

from papertools.cli.hrl.study import StudyConfig, check_seeds, plan, summarise
from papertools.core.errors import PapertoolsError
from papertools.core.learn.evaluate import evaluation_seeds


def test_plan_adds_what_an_arm_stands_on_in_earlier_stages():
    stages = plan(StudyConfig(arms=("rl-only",)))
    assert stages == [["latent"], ["latent-bc"], ["rl-only"]]
    stages = plan(StudyConfig(arms=("lang-rl", "flat-bc"), kl=(0.0, 0.1)))
    assert stages == [["low", "flat-bc"], ["lang-bc"], ["lang-rl-kl0", "lang-rl-kl0.1"]]


def test_check_seeds_refuses_evaluation_seeds_that_were_demonstrations(tmp_path):
    study = StudyConfig(eval_seed=3, eval_episodes=5)
    (tmp_path / "episodes.jsonl").write_bytes(
        b"".join(orjson.dumps({"seed": s}) + b"\n" for s in (1, 2, 3)))
    check_seeds(tmp_path, study)  # no overlap
    (tmp_path / "episodes.jsonl").write_bytes(
        orjson.dumps({"seed": evaluation_seeds(3, 5)[2]}) + b"\n")
    with pytest.raises(PapertoolsError, match="evaluation seeds were demonstrations"):
        check_seeds(tmp_path, study)


def test_summary_is_the_interquartile_mean_over_seeds():
    pytest.importorskip("rliable")
    results = [{"arm": "a", "seed": i, "success": v, "frames": 0}
               for i, v in enumerate([0.0, 0.5, 0.6, 0.7, 1.0, 0.9, 0.2, 0.4])]
    (row,) = summarise(results, reps=200)
    # 8 seeds: the middle half is 0.4, 0.5, 0.6, 0.7
    assert row["iqm"] == pytest.approx(0.55)
    assert row["low"] <= row["iqm"] <= row["high"] and row["seeds"] == 8
    assert row["mean"] == pytest.approx(0.5375)
