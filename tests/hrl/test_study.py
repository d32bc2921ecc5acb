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
    with pytest.raises(PapertoolsError, match="played evaluation seeds"):
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


def test_held_out_pairs_split_the_evaluation_stream_by_mission():
    from papertools.cli.hrl.language import pairs_named
    from papertools.cli.hrl.study import eval_seeds
    from papertools.core.envs import make_env

    plain = StudyConfig(env="babyai/GoToLocal", eval_episodes=6, eval_seed=3)
    assert eval_seeds(plain) == (evaluation_seeds(3, 6), [])
    study = StudyConfig(env="babyai/GoToLocal", eval_episodes=6, eval_seed=3,
                        exclude_pairs=("red ball",))
    seen, held = eval_seeds(study)
    assert len(seen) == len(held) == 6 and not set(seen) & set(held)
    stream = evaluation_seeds(3, 400)
    last = max(stream.index(s) for s in seen + held)
    env = make_env("babyai/GoToLocal")
    try:
        named = {s: "red ball" in pairs_named(env.reset(seed=s)[0]["mission"])
                 for s in stream[:last + 1]}
    finally:
        env.close()
    # each side is the stream's first seeds of its kind, in the stream's order
    assert held == [s for s in stream[:last + 1] if named[s]][:6]
    assert seen == [s for s in stream[:last + 1] if not named[s]][:6]
    with pytest.raises(PapertoolsError, match="name purple door in their mission"):
        eval_seeds(StudyConfig(env="babyai/GoToLocal", eval_episodes=2,
                               exclude_pairs=("purple door",)))


def test_study_with_held_out_pairs_keeps_them_out_of_the_demonstrations(tmp_path):
    from tests.helpers import invoke

    out = tmp_path / "study"
    done = invoke(["hrl", "study", "--quick", "--arms", "flat-bc", "--seeds", "0",
                   "--eval-episodes", "3", "--exclude-pairs", "red ball", "--out-dir", str(out),
                   "-q"])
    assert done.exit_code == 0, done.stderr
    assert b"held-out pairs" in done.stdout
    episodes = [orjson.loads(x) for x in (out / "demos" / "episodes.jsonl").read_bytes()
                .splitlines() if x.strip()]
    assert episodes and all("red ball" not in e["mission"] for e in episodes)
    (row,) = [orjson.loads(x) for x in (out / "summary.jsonl").read_bytes().splitlines()]
    assert 0.0 <= row["heldout_iqm"] <= 1.0 and row["heldout_low"] <= row["heldout_high"]
    (result,) = [orjson.loads(x) for x in (out / "results.jsonl").read_bytes().splitlines()]
    assert result["heldout_episodes"] == 3 and result["episodes"] == 3
