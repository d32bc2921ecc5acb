"""The NetHack and Crafter policy networks on real observations: shapes, sequences with episode
resets, gradients reaching every encoder."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def nethack():
    """(observation space, action space, three real observations) from one NLE game."""
    gymnasium = pytest.importorskip("gymnasium")
    pytest.importorskip("nle")
    env = gymnasium.make("NetHackScore-v0")
    try:
        obs, _ = env.reset(seed=0)
        frames = [obs]
        for action in (1, 3):  # a couple of moves
            obs, *_ = env.step(action)
            frames.append(obs)
        return env.observation_space, env.action_space, frames
    finally:
        env.close()


def stack(frames, b=2):
    """[B, T, ...] arrays: each row the frames in order."""
    return {k: np.stack([np.stack([f[k] for f in frames])] * b) for k in frames[0]}


@pytest.mark.parametrize("mode", ["glyphs", "tty"])
def test_nethack_policy(nethack, mode):
    from papertools.core.learn.nethack_net import NetHackPolicy

    torch.manual_seed(0)
    obs_space, act_space, frames = nethack
    if mode == "tty":  # what nhrecord's games keep: the screen only
        import gymnasium

        obs_space = gymnasium.spaces.Dict({k: obs_space[k] for k in
                                           ("tty_chars", "tty_colors", "tty_cursor")})
        frames = [{k: f[k] for k in obs_space.spaces} for f in frames]
    policy = NetHackPolicy(obs_space, act_space, hidden=32, embed_dim=8)
    assert policy.mode == mode and policy.features_dim == 32
    obs = stack(frames)
    first = torch.zeros(2, 3, dtype=torch.bool)
    first[:, 0] = True
    logits, value, state, features = policy.forward_sequence(obs, None, first,
                                                             return_features=True)
    assert logits.shape == (2, 3, act_space.n) and value.shape == (2, 3)
    assert features.shape == (2, 3, 32) and state[0].shape == (2, 32)

    # a reset inside the sequence: the step after it equals a fresh start from that frame
    first[:, 2] = True
    reset_logits, *_ = policy.forward_sequence(obs, None, first)
    alone, *_ = policy.forward_sequence({k: v[:, 2:] for k, v in obs.items()}, None,
                                        torch.ones(2, 1, dtype=torch.bool))
    assert torch.allclose(reset_logits[:, 2], alone[:, 0], atol=1e-5)
    assert not torch.allclose(logits[:, 2], reset_logits[:, 2])  # the memory mattered

    # one step at a time carries the state as the sequence does
    step_state, steps = None, []
    for t in range(3):
        step_logits, _, step_state = policy({k: v[:, t] for k, v in obs.items()}, step_state,
                                            first[:, 0] if t == 0 else first[:, t])
        steps.append(step_logits)
    assert torch.allclose(torch.stack(steps, 1), reset_logits, atol=1e-5)

    (logits.logsumexp(-1).sum() + value.sum()).backward()
    # an empty message is all padding (byte 0): zero inputs give its weights no gradient
    silent = mode == "glyphs" and not obs["message"].any()
    for name, p in policy.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0 or (silent and name.startswith("message_")), name
    actions, _ = policy.act({k: v[:, 0] for k, v in obs.items()})
    assert actions.shape == (2,) and int(actions.max()) < act_space.n


@pytest.mark.parametrize("recurrent", [False, True])
def test_crafter_policy(recurrent):
    crafter = pytest.importorskip("crafter")
    import gymnasium

    from papertools.core.learn.crafter_net import CrafterPolicy

    env = crafter.Env(seed=0)
    frames = [env.reset()]
    inventories = [np.zeros(16, np.int64)]
    for action in (1, 2, 5):
        image, _, _, info = env.step(action)
        frames.append(image)
        inventories.append(np.array(list(info["inventory"].values()), np.int64))
    obs_space = gymnasium.spaces.Dict({
        "image": gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8),
        "inventory": gymnasium.spaces.Box(0, 9, (16,), np.int64)})
    torch.manual_seed(0)
    policy = CrafterPolicy(obs_space, gymnasium.spaces.Discrete(17), hidden=32,
                                       recurrent=recurrent)
    obs = {"image": np.stack([np.stack(frames)] * 2),
           "inventory": np.stack([np.stack(inventories)] * 2)}  # [2, 4, ...]
    first = torch.zeros(2, 4, dtype=torch.bool)
    first[:, 0] = True
    logits, value, state, features = policy.forward_sequence(obs, policy.initial_state(2), first,
                                                             return_features=True)
    assert logits.shape == (2, 4, 17) and value.shape == (2, 4) and features.shape == (2, 4, 32)
    assert (state is None) == (not recurrent)
    (logits.logsumexp(-1).sum() + value.sum()).backward()
    for name, p in policy.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    actions, _ = policy.act({k: v[:, 0] for k, v in obs.items()}, deterministic=True)
    assert actions.shape == (2,)
