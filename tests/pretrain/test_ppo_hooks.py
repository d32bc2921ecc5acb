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
