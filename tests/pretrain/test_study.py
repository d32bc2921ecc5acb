"""pretrain study: units, resume, the table and the curves; the quick study end to end (with
the offline pre-training, Part O's library, when present)."""

from __future__ import annotations

import orjson
import pytest

pytest.importorskip("torch")
pytest.importorskip("minigrid")

from papertools.cli.pretrain.study import (  # noqa: E402
    StudyConfig, arm_plan, frames_to_threshold, run_study, table)
from papertools.core.errors import PapertoolsError  # noqa: E402


def test_arm_plan_adds_the_sweeps():
    study = StudyConfig(demos=200, demo_sizes=(50, 200, 1000), alpha=0.01, alphas=(0.01, 0.03))
    plan = arm_plan(study)
    assert plan["both"] == ("both", 200, 0.01)
    assert plan["both-n50"] == ("both", 50, 0.01) and plan["both-n1000"] == ("both", 1000, 0.01)
    assert "both-n200" not in plan and "progress-a0.01" not in plan
    assert plan["progress-a0.03"] == ("progress", 200, 0.03)
    assert plan["encoder-finetune-n50"] == ("encoder-finetune", 50, 0.01)
    assert "scratch-n50" not in plan  # scratch has no models to pre-train
    only = arm_plan(StudyConfig(arms=("scratch", "encoder-finetune"), demo_sizes=(50,)))
    assert set(only) == {"scratch", "encoder-finetune", "encoder-finetune-n50"}


def test_frames_to_threshold_weighs_records_by_their_episodes(tmp_path):
    # (frames, episodes that ended in the record, their success rate): a few lucky records of
    # one episode each must not carry the window; the rate is over >= 6 episodes here
    rows, count = [], 0
    for i, (n, s) in enumerate([(1, 1.0), (0, None), (1, 1.0), (4, 0.0), (1, 1.0), (1, 1.0),
                                (4, 0.5), (4, 0.75), (4, 1.0)]):
        count += n
        rows.append({"frames": 100 * (i + 1), "episodes": count, "success": s})
    (tmp_path / "log.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    # episode-weighted windows: 2/6 at 400, 500 and 600 (the lucky single episodes are
    # outweighed by the four failures of 400), 4/6 at 700, 7/8 at 900; an unweighted mean of
    # the last four records' rates would read 0.75 at 600
    assert frames_to_threshold(tmp_path, 0.5, window=6) == 700
    assert frames_to_threshold(tmp_path, 0.7, window=6) == 900
    assert frames_to_threshold(tmp_path, 0.99, window=6) is None
    assert frames_to_threshold(tmp_path, 0.0, window=100) is None  # never a full window


@pytest.mark.slow
def test_scratch_study_resumes_and_tabulates(tmp_path):
    study = StudyConfig(tasks=("multiroom",), arms=("scratch",), seeds=(0, 1), frames=512,
                        n_envs=2, n_steps=64, reps=50)
    out = run_study(study, tmp_path / "w")
    assert [r["arm"] for r in out["rows"]] == ["scratch"]
    row = out["rows"][0]
    assert row["seeds"] == 2 and 0 <= row["reached"] <= 2 and row["budget"] == 512
    assert (tmp_path / "w" / "multiroom" / "curves.png").stat().st_size > 0
    assert "scratch" in table(out["rows"])
    with pytest.raises(PapertoolsError, match="--resume"):
        run_study(study, tmp_path / "w")
    with pytest.raises(PapertoolsError, match="other settings"):
        run_study(StudyConfig(tasks=("multiroom",), arms=("scratch",), seeds=(0, 1),
                              frames=1024, n_envs=2, n_steps=64, reps=50), tmp_path / "w",
                  resume=True)
    again = run_study(study, tmp_path / "w", resume=True)  # finished units are read back
    assert again["results"] == out["results"]


@pytest.mark.slow
def test_quick_study_runs_every_arm(tmp_path):
    study = StudyConfig(demo_sizes=(50,), alphas=(0.03,)).quick()
    out = run_study(study, tmp_path / "w")
    arms = {r["arm"] for r in out["rows"]}
    assert arms == {"scratch", "encoder-frozen", "encoder-finetune", "progress", "both",
                    "encoder-frozen-n10", "encoder-finetune-n10", "progress-n10", "both-n10",
                    "progress-a0.03"}
    settings = orjson.loads((tmp_path / "w" / "multiroom" / "both" / "seed-0" /
                             "settings.json").read_bytes())
    assert settings["init_from"] and settings["progress"]["alpha"] == study.alpha


def test_cli_names_match_the_library():
    from papertools.cli import pretrain
    from papertools.cli.pretrain.demos import DEFAULT_TASKS, TASKS
    from papertools.cli.pretrain.online import ARMS

    assert pretrain._TASK_NAMES == tuple(TASKS) and pretrain._ARM_NAMES == tuple(ARMS)
    assert pretrain._DEFAULT_TASKS == DEFAULT_TASKS == StudyConfig().tasks


def test_cli_rl_refuses_a_missing_encoder_in_one_line(tmp_path):
    from tests.helpers import invoke

    run = invoke(["pretrain", "rl", "multiroom", "--arm", "encoder-frozen", "--out-dir",
                  str(tmp_path / "run")])
    assert run.exit_code == 1
    assert run.stderr.strip() == ("papertools pretrain: error: the encoder-frozen arm needs a "
                                  "pre-trained encoder (--encoder)")
    assert not (tmp_path / "run").exists()
