"""The torso (core.learn.torso): which tensors it names, copying it from a policy folder, and
keeping it fixed through a real PPO run."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

from papertools.core.errors import PapertoolsError  # noqa: E402
from papertools.core.learn.policies import load_policy, make_policy, save_policy  # noqa: E402
from papertools.core.learn.ppo import PPOConfig, train_ppo  # noqa: E402
from papertools.core.learn.torso import HEADS, freeze_torso, load_torso, torso_names  # noqa: E402


def _spaces():
    from papertools.core.envs import make_env

    env = make_env("minigrid/DoorKey-5x5")
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _policy(seed: int, **kw):
    torch.manual_seed(seed)
    obs, act = _spaces()
    return make_policy(obs, act, "babyai", **kw)


def test_torso_names_are_everything_but_the_heads():
    policy = _policy(0, recurrent=True)
    names = torso_names(policy)
    assert names and all(n.split(".")[0] not in HEADS for n in names)
    heads = [k for k in policy.state_dict() if k not in names]
    assert {k.split(".")[0] for k in heads} == set(HEADS)


def test_load_torso_copies_exactly_the_torso(tmp_path):
    source, target = _policy(1), _policy(2)
    save_policy(tmp_path / "enc", source)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    copied = load_torso(target, tmp_path / "enc")
    assert copied == torso_names(target)
    src = source.state_dict()
    for k, v in target.state_dict().items():
        if k in copied:
            assert torch.equal(v, src[k]), k
        else:  # heads untouched
            assert torch.equal(v, before[k]), k
            assert k.endswith("bias") or not torch.equal(v, src[k]), k


def test_load_torso_refuses_other_kwargs_and_other_kind(tmp_path):
    save_policy(tmp_path / "enc", _policy(1, channels=8))
    with pytest.raises(PapertoolsError, match="channels 8 .*here None"):
        load_torso(_policy(2), tmp_path / "enc")
    with pytest.raises(PapertoolsError, match="not a policy folder"):
        load_torso(_policy(2), tmp_path)
    other = _policy(1)
    other.kind = "nethack"
    with pytest.raises(PapertoolsError, match="'babyai' policy's torso cannot initialise"):
        load_torso(other, save_policy(tmp_path / "b", _policy(1)))


@pytest.mark.slow
def test_frozen_torso_is_bit_identical_through_ppo(tmp_path):
    """A short real PPO run on DoorKey-5x5 from a saved torso: frozen, the torso's weights end
    bit-identical to the folder's and the heads moved; fine-tuned, the torso moves too."""
    save_policy(tmp_path / "enc", _policy(5))
    start = load_policy(tmp_path / "enc")[0].state_dict()
    base = dict(env="minigrid/DoorKey-5x5", total_frames=256, n_envs=2, n_steps=64, epochs=2,
                minibatches=2, policy="babyai", init_from=str(tmp_path / "enc"))
    train_ppo(PPOConfig(**base, freeze_torso=True), tmp_path / "frozen", echo=lambda r: None)
    train_ppo(PPOConfig(**base), tmp_path / "tuned", echo=lambda r: None)
    frozen = load_policy(tmp_path / "frozen" / "policy")[0]
    tuned = load_policy(tmp_path / "tuned" / "policy")[0].state_dict()
    names = torso_names(frozen)
    for k, v in frozen.state_dict().items():
        if k in names:
            assert torch.equal(v, start[k]), k
    moved = [k for k, v in frozen.state_dict().items() if not torch.equal(v, start[k])]
    assert moved and all(k.split(".")[0] in HEADS for k in moved)
    assert any(not torch.equal(tuned[k], start[k]) for k in names)
    assert freeze_torso(frozen) == [n for n, _ in frozen.named_parameters()
                                    if n.split(".")[0] not in HEADS]
