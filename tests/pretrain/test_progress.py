"""core/learn/progress.py: symlog, the progress model's folder, and the shaping bonus over a
real vector env's observation stream."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from papertools.core.learn.progress import (ProgressModel, ProgressShaping, load_progress,
                                            save_progress, symlog)


def test_symlog():
    x = np.array([-100.0, -1.0, 0.0, 1.0, 3.0])
    want = np.array([-np.log(101), -np.log(2), 0.0, np.log(2), np.log(4)])
    assert np.allclose(symlog(x), want)
    assert torch.allclose(symlog(torch.tensor(x)), torch.tensor(want))


@pytest.fixture(scope="module")
def venv_and_model():
    from papertools.core.envs import make_vec_env

    env = make_vec_env("babyai/GoToLocal", 2, seed=3, max_steps=6)
    torch.manual_seed(0)
    model = ProgressModel(env.single_observation_space, env.single_action_space, hidden=32)
    yield env, model
    env.close()


def _frame(obs, e):
    return {k: (v[e] if isinstance(v, (list, tuple)) else np.asarray(v[e])) for k, v in obs.items()}


def _one(frame):
    return {k: (np.array([v], dtype=object) if isinstance(v, str) else v[None])
            for k, v in frame.items()}


def test_save_and_load_give_the_same_predictions(venv_and_model, tmp_path):
    env, model = venv_and_model
    obs, _ = env.reset(seed=3)
    a, b = _one(_frame(obs, 0)), _one(_frame(obs, 1))
    save_progress(tmp_path / "p", model, {"note": 1})
    again = load_progress(tmp_path / "p")
    assert again.meta["note"] == 1
    assert np.array_equal(model.predict(a, b), again.predict(a, b))
    assert model.predict(a, b).dtype == np.float32


def test_shaping_scores_the_frame_k_back_within_the_episode(venv_and_model):
    env, model = venv_and_model
    k, alpha = 3, 0.5
    shaping = ProgressShaping(model, alpha, k, 2)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=3)
    first = np.ones(2, bool)
    history = [[], []]  # each env's frames since its episode began
    copy, restarts = None, 0
    for t in range(24):
        bonus = shaping(obs, first)
        if copy is not None:  # the restored state goes on exactly like the original
            assert np.array_equal(copy(obs, first), bonus)
        for e in range(2):
            if first[e]:
                restarts += t > 0
                history[e] = []
            history[e].append(_frame(obs, e))
            if first[e]:
                assert bonus[e] == 0.0
                continue
            h = history[e]
            a = h[max(len(h) - 1 - k, 0)]  # s_max(t-k, start)
            want = alpha * model.predict(_one(a), _one(h[-1]))[0]
            assert bonus[e] == pytest.approx(want, abs=1e-5)
            if not np.array_equal(h[-2]["image"], a["image"]):  # not the step before
                near = alpha * model.predict(_one(h[-2]), _one(h[-1]))[0]
                assert bonus[e] != pytest.approx(near, abs=1e-7)
        if t == 9:
            copy = ProgressShaping(model, alpha, k, 2)
            copy.load_state_dict(pickle.loads(pickle.dumps(shaping.state_dict())))
        # gymnasium 1.x resets a finished env on the next step: the observation after a
        # terminal one begins an episode
        done = np.zeros(2, bool) if t == 0 else done
        actions = rng.integers(0, 3, 2)
        obs, _, terminated, truncated, _ = env.step(actions)
        first = done
        done = np.asarray(terminated) | np.asarray(truncated)
    assert restarts >= 2  # episodes began again inside the stream (max_steps=6)
