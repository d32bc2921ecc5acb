"""PPOConfig's pre-training fields: off by default and then absent from settings.json (runs
recorded before them still resume); recorded and compared on resume when set."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

pytest.importorskip("torch")
pytest.importorskip("minigrid")

from papertools.core.errors import PapertoolsError  # noqa: E402
from papertools.core.learn.ppo import OPTIONAL, PPOConfig, _add_bonus, train_ppo  # noqa: E402

QUIET = dict(echo=lambda r: None)


def test_defaults_leave_settings_as_before(tmp_path):
    config = PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32)
    train_ppo(config, tmp_path / "run", **QUIET)
    settings = orjson.loads((tmp_path / "run" / "settings.json").read_bytes())
    assert not set(OPTIONAL) & set(settings)
    # a run recorded before the fields existed has exactly these settings: it resumes
    assert train_ppo(config, tmp_path / "run", resume=True, **QUIET)["updates"] == 1


def test_set_fields_are_recorded_and_compared(tmp_path):
    first = PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32)
    train_ppo(first, tmp_path / "a", **QUIET)
    config = PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32,
                       init_from=str(tmp_path / "a" / "policy"), freeze_torso=True)
    train_ppo(config, tmp_path / "b", **QUIET)
    settings = orjson.loads((tmp_path / "b" / "settings.json").read_bytes())
    assert settings["init_from"] == str(tmp_path / "a" / "policy")
    assert settings["freeze_torso"] is True and "progress" not in settings
    with pytest.raises(PapertoolsError, match="freeze_torso true \\(now absent\\)"):
        train_ppo(PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32,
                            init_from=config.init_from), tmp_path / "b", resume=True, **QUIET)


def test_bonus_goes_to_real_transitions_only():
    rewards = np.zeros((3, 4), np.float32)
    rewards[1] = [1.0, 0.0, 0.0, 0.0]
    _add_bonus(rewards, 1, np.array([0.5, 0.25, -1.0, 2.0]), np.array([True, True, False, True]))
    assert rewards[1].tolist() == [1.5, 0.25, 0.0, 2.0]
    assert not rewards[[0, 2]].any()


def test_progress_settings_are_checked():
    from papertools.core.learn.ppo import _shaping

    with pytest.raises(PapertoolsError, match="progress takes path, alpha and k"):
        _shaping(PPOConfig(progress={"alpha": 0.1}), 2)


@pytest.mark.slow
def test_progress_bonus_reaches_the_losses_not_the_logs_and_resumes(tmp_path):
    """With a progress model, update 1 plays the very episodes scratch plays (same seed, same
    start) and logs the same task return and success, while its losses differ (the bonus is in
    the rewards they see); a run stopped by Ctrl-C and resumed ends with the same weights."""
    import os
    import signal

    import torch

    from safetensors.torch import load_file

    from papertools.core.learn import progress

    from papertools.core.envs import make_env

    env = make_env("minigrid/MultiRoom-N2-S4")
    torch.manual_seed(0)
    model = progress.ProgressModel(env.observation_space, env.action_space, "babyai")
    env.close()
    progress.save_progress(tmp_path / "progress", model, {})
    base = dict(env="minigrid/MultiRoom-N2-S4", total_frames=4 * 2 * 32, n_envs=2, n_steps=32,
                epochs=2, minibatches=2, seed=1, policy="babyai", save_every=100)
    shaped = PPOConfig(**base, progress={"path": str(tmp_path / "progress"), "alpha": 0.5,
                                         "k": 3})
    train_ppo(PPOConfig(**base), tmp_path / "scratch", **QUIET)
    train_ppo(shaped, tmp_path / "whole", **QUIET)

    def first(run):
        return orjson.loads((tmp_path / run / "log.jsonl").read_bytes().splitlines()[0])
    a, b = first("scratch"), first("whole")
    assert {k: a[k] for k in ("frames", "episodes", "success", "return")} == \
        {k: b[k] for k in ("frames", "episodes", "success", "return")}
    assert a["value_loss"] != b["value_loss"]

    def interrupt(record):
        if record["update"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_ppo(shaped, tmp_path / "parts", echo=interrupt)
    train_ppo(shaped, tmp_path / "parts", resume=True, **QUIET)
    w1 = load_file(str(tmp_path / "whole" / "policy" / "model.safetensors"))
    w2 = load_file(str(tmp_path / "parts" / "policy" / "model.safetensors"))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
