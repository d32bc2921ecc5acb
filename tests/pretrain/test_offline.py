"""Offline pre-training (cli/pretrain/offline.py) and the policies' frame_features torso."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from papertools.core.learn.layers import lstm_unroll
from papertools.core.learn.policies import make_policy


def _spaces(name):
    from papertools.core.envs import make_env

    env = make_env(name)
    try:
        obs, _ = env.reset(seed=0)
        frames = [obs]
        for a in range(5):
            frames.append(env.step(a % env.action_space.n)[0])
        return env.observation_space, env.action_space, frames
    finally:
        env.close()


def _batch(frames, b=2):
    """[b, T, ...] from one list of observation dicts (rows shifted so they differ)."""
    out = {}
    for key, value in frames[0].items():
        if isinstance(value, str):
            out[key] = [[f[key] for f in frames] for _ in range(b)]
        else:
            rows = [np.stack([np.asarray(f[key]) for f in frames[r:] + frames[:r]])
                    for r in range(b)]
            out[key] = torch.as_tensor(np.stack(rows))
    return out


@pytest.mark.parametrize("name,kind,kwargs", [
    ("babyai/GoToLocal", "babyai", {}),
    ("babyai/GoToLocal", "babyai", {"recurrent": True}),
    ("crafter", "crafter", {"recurrent": True, "hidden": 32}),
    ("nle/NetHackScore-v0", "nethack", {"hidden": 32, "embed_dim": 8}),
])
def test_forward_sequence_is_the_core_over_frame_features(name, kind, kwargs):
    torch.manual_seed(0)
    space, actions, frames = _spaces(name)
    policy = make_policy(space, actions, kind, **kwargs)
    obs = _batch(frames)
    first = torch.zeros(2, len(frames), dtype=torch.bool)
    first[:, 0] = True
    first[1, 3] = True  # an episode start inside the window resets the core there
    logits, value, _, features = policy.forward_sequence(obs, None, first, return_features=True)
    x = policy.frame_features(obs)
    assert x.shape == (2, len(frames), policy.frame_dim)
    if kind == "babyai" and kwargs.get("recurrent"):
        x, _ = policy._run_core(x, None, first)
    elif kind != "babyai" and (kind == "nethack" or kwargs.get("recurrent")):
        x, _ = lstm_unroll(policy.core, x, policy.initial_state(2), first)
    torch.testing.assert_close(features, x, rtol=0, atol=0)
    torch.testing.assert_close(logits, policy.actor(x), rtol=0, atol=0)
    torch.testing.assert_close(value, policy.critic(x).squeeze(-1), rtol=0, atol=0)
