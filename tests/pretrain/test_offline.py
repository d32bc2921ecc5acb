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


# ---------------------------------------------------------------------------------------------
# Training


from safetensors.numpy import load_file  # noqa: E402

from papertools.cli.pretrain.offline import (EncoderConfig, ProgressConfig,  # noqa: E402
                                             train_encoder, train_progress)
from papertools.core.errors import PapertoolsError  # noqa: E402
from tests.pretrain.o_fixtures import bot_dataset  # noqa: E402


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return bot_dataset(tmp_path_factory.mktemp("o-offline") / "demos", episodes=24)


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


@pytest.mark.slow
def test_infonce_finds_the_positive_well_above_chance(demos, tmp_path):
    # gamma 0.5: near offsets, learnable in a few hundred steps on 24 demonstrations
    config = EncoderConfig(gamma=0.5, batch_size=32, steps=300, log_every=150,
                           valid_fraction=0.2)
    records = []
    summary = train_encoder(demos, tmp_path / "enc", config, log=records.append)
    chance = 1 / 32
    assert summary["chance"] == pytest.approx(chance, abs=1e-4)
    assert records[0]["accuracy"] < records[-1]["accuracy"]
    assert summary["accuracy"] > 4 * chance  # train pairs
    assert summary["valid_accuracy"] > 3 * chance  # held-out episodes
    import orjson

    meta = orjson.loads((tmp_path / "enc" / "policy" / "policy.json").read_bytes())
    assert meta["pretrained"]["objective"] == "infonce" and meta["pretrained"]["gamma"] == 0.5
    assert meta["kind"] == "babyai"
    from papertools.core.learn.policies import load_policy

    load_policy(tmp_path / "enc" / "policy")  # a whole policy folder


@pytest.mark.slow
def test_progress_model_ranks_held_out_gaps(demos, tmp_path):
    config = ProgressConfig(batch_size=32, steps=200, log_every=100, valid_fraction=0.2,
                            max_gap=32)
    summary = train_progress(demos, tmp_path / "prog", config, log=lambda r: None)
    assert summary["valid_spearman"] > 0.4
    from papertools.core.learn.progress import load_progress

    model = load_progress(tmp_path / "prog" / "progress")
    assert model.meta["max_gap"] == 32
    assert load_progress(tmp_path / "prog").meta == model.meta  # the run folder reads too


def _scrambled_copy(src, dst):
    """The dataset with every episode's actions, rewards, dones and labels replaced."""
    import shutil

    shutil.copytree(src, dst)
    rng = np.random.default_rng(7)
    for npz in (dst / "episodes").glob("*.npz"):
        with np.load(npz) as f:
            arrays = {k: f[k] for k in f.files}
        t = len(arrays["actions"])
        arrays["actions"] = rng.integers(0, 7, t).astype(np.int64)
        arrays["rewards"] = rng.normal(size=t).astype(np.float32)
        arrays["dones"] = rng.random(t) < 0.5
        if "label/subgoal" in arrays:
            arrays["label/subgoal"] = rng.integers(0, 5, t).astype(np.int32)
        with open(npz, "wb") as out:
            np.savez_compressed(out, **arrays)
    return dst


def test_no_action_or_reward_reaches_pretraining(demos, tmp_path):
    other = _scrambled_copy(demos, tmp_path / "scrambled")
    with np.load(next((other / "episodes").glob("*.npz"))) as a, \
            np.load(demos / "episodes" / next((other / "episodes").glob("*.npz")).name) as b:
        assert not np.array_equal(a["actions"], b["actions"])  # they do differ
    enc = EncoderConfig(batch_size=8, steps=4, log_every=2)
    prog = ProgressConfig(batch_size=8, steps=4, log_every=2)
    for name, data in (("a", demos), ("b", other)):
        train_encoder(data, tmp_path / f"enc-{name}", enc, log=lambda r: None)
        train_progress(data, tmp_path / f"prog-{name}", prog, log=lambda r: None)
    _same(_weights(tmp_path / "enc-a" / "policy"), _weights(tmp_path / "enc-b" / "policy"))
    _same(_weights(tmp_path / "prog-a" / "progress"), _weights(tmp_path / "prog-b" / "progress"))


@pytest.mark.parametrize("which", ["encoder", "progress"])
def test_resume_is_exact(demos, tmp_path, which):
    train, config = ((train_encoder, EncoderConfig(batch_size=8, steps=12, log_every=3,
                                                    save_every=3))
                     if which == "encoder" else
                     (train_progress, ProgressConfig(batch_size=8, steps=12, log_every=3,
                                                     save_every=3, reversed_fraction=0.3)))
    folder = "policy" if which == "encoder" else "progress"
    train(demos, tmp_path / "whole", config, log=lambda r: None)

    def stop_at_7(record):
        if record["step"] >= 7:
            raise KeyboardInterrupt

    config7 = type(config)(**{**config.__dict__, "log_every": 7})
    with pytest.raises(KeyboardInterrupt):
        train(demos, tmp_path / "broken", config7, log=stop_at_7)
    assert not (tmp_path / "broken" / folder).exists()
    records = []
    train(demos, tmp_path / "broken", config, resume=True, log=records.append)
    assert records[0]["step"] == 9  # went on from step 7's checkpoint
    _same(_weights(tmp_path / "whole" / folder), _weights(tmp_path / "broken" / folder))
    with pytest.raises(PapertoolsError, match="gamma|max_gap"):
        changed = {"gamma": 0.7} if which == "encoder" else {"max_gap": 3}
        train(demos, tmp_path / "broken", type(config)(**{**config.__dict__, **changed}),
              resume=True, log=lambda r: None)
