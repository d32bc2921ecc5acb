"""The high level's RL stage: the semi-MDP credit, and PPO moving the high level."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from papertools.core.envs import make_env
from papertools.core.learn.policies import load_policy, make_policy, save_policy
from papertools.cli.hrl.smdp import SMDPConfig, smdp_advantages, train_smdp

from ._fixtures import subgoal_vocab

SMALL = {"channels": 8, "features": 32, "head_hidden": 32, "text_hidden": 32, "words": 16}
SUBGOALS = ["go to the red ball", "go to the blue key", "explore", "open the door"]


def test_smdp_credit_by_hand():
    # two segments of one episode, then a third that starts a new episode and is cut off
    gamma, lam = 0.9, 0.5
    r1 = 0.0 + gamma * 1.0  # rewards 0, 1 over 2 steps
    r2 = 2.0  # reward 2 over 1 step (the episode terminates)
    r3 = 0.5  # reward 0.5 over 3 steps, still running
    rewards, discounts = [r1, r2, r3], [gamma ** 2, gamma, gamma ** 3]
    values, next_values = [1.0, 1.5, 0.2], [1.5, 9.0, 0.4]
    adv, ret = smdp_advantages(rewards, discounts, values, next_values,
                               terminated=[False, True, False], ended=[False, True, False],
                               lam=lam)
    d3 = r3 + gamma ** 3 * 0.4 - 0.2
    d2 = r2 - 1.5  # terminated: next value ignored
    d1 = r1 + gamma ** 2 * 1.5 - 1.0
    a2 = d2  # the episode ended: nothing from segment 3
    a1 = d1 + gamma ** 2 * lam * a2
    assert np.allclose(adv, [a1, a2, d3])
    assert np.allclose(ret, np.array([a1, a2, d3]) + values)


def test_smdp_truncation_bootstraps_but_does_not_run_on():
    adv, _ = smdp_advantages([1.0, 1.0], [0.5, 0.5], [0.0, 0.0], [4.0, 0.0],
                             terminated=[False, False], ended=[True, False], lam=1.0)
    assert np.allclose(adv, [1.0 + 0.5 * 4.0, 1.0])


def hierarchy_folder(path, max_segment=4):
    torch.manual_seed(0)
    env = make_env("babyai/GoToLocal")
    policy = make_policy(env.observation_space, env.action_space, "hierarchy",
                         subgoals=SUBGOALS, low_kwargs=dict(SMALL, vocab=subgoal_vocab()),
                         high_kwargs=SMALL, max_segment=max_segment)
    env.close()
    with torch.no_grad():  # the low level never says finished: segments of max_segment steps
        policy.finished_head.weight.zero_()
        policy.finished_head.bias.copy_(torch.tensor([5.0, -5.0]))
    save_policy(path, policy, {"env": "babyai/GoToLocal"})
    return path


def run(tmp_path, name, **kw):
    config = SMDPConfig(**{**dict(env="babyai/GoToLocal", frames=1600, n_envs=4, segments=4,
                                  epochs=4, minibatches=2, lr=3e-3, ent_coef=0.0), **kw})
    summary = train_smdp(config, hierarchy_folder(tmp_path / "h"), tmp_path / name,
                         log=lambda r: None)
    log = [json.loads(line) for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]
    return summary, log


@pytest.mark.slow
def test_the_kl_weight_holds_the_high_level_near_its_prior(tmp_path):
    free, free_log = run(tmp_path, "free", kl=0.0)
    held, held_log = run(tmp_path, "held", kl=5.0)
    assert free["frames"] >= 1600 and free_log[-1]["frames"] == free["frames"]
    assert all(r["segments"] > 0 for r in free_log)
    assert free_log[-1]["kl"] > 0.02, free_log[-1]
    assert held_log[-1]["kl"] < free_log[-1]["kl"] / 3, (held_log[-1], free_log[-1])
    policy, meta = load_policy(tmp_path / "free" / "policy")
    assert meta["kind"] == "hierarchy" and meta["trainer"] == "hrl rl"


@pytest.mark.slow
def test_rl_turns_a_bad_prior_towards_the_subgoal_that_pays(tmp_path):
    """A low level cloned on "go to the red ball" (the bot) and on "drop the object" (drops
    that never solve the level); the high level starts choosing the drop 4 times in 5. PPO over
    segments must move its choice to the red ball: a random or broken learner stays near 0.2."""
    import math

    from papertools.core.learn.hierarchy import build_hierarchy, load_low

    from ._fixtures import make_dataset, train_low

    data = make_dataset(tmp_path / "demos", "GoToRedBallGrey", episodes=100, drop_episodes=40)
    low, finished, _ = load_low(train_low(data, tmp_path / "low", epochs=6))
    policy = build_hierarchy(low, finished, ["go to the red ball", "drop the object"],
                             high_kwargs=SMALL, max_segment=8)
    with torch.no_grad():
        policy.high.actor[-1].weight.zero_()
        policy.high.actor[-1].bias.copy_(torch.tensor([math.log(0.2), math.log(0.8)]))
    save_policy(tmp_path / "h", policy, {"env": "babyai/GoToRedBallGrey"})
    config = SMDPConfig(env="babyai/GoToRedBallGrey", frames=8000, n_envs=8, segments=4,
                        epochs=4, minibatches=2, lr=3e-3, ent_coef=0.0)
    train_smdp(config, tmp_path / "h", tmp_path / "rl", log=lambda r: None)

    def p_red_ball(path):
        trained, _ = load_policy(path)
        env, probs = make_env("babyai/GoToRedBallGrey"), []
        for seed in range(1000, 1020):
            obs, _ = env.reset(seed=seed)
            with torch.no_grad():
                logits, _, _ = trained.choose({"image": torch.from_numpy(obs["image"][None]),
                                               "mission": [obs["mission"]]})
            probs.append(float(torch.softmax(logits, -1)[0, 0]))
        env.close()
        return float(np.mean(probs))

    assert p_red_ball(tmp_path / "h") == pytest.approx(0.2, abs=1e-4)
    after = p_red_ball(tmp_path / "rl" / "policy")
    assert after > 0.6


def test_an_interrupted_rl_run_resumes_exactly(tmp_path):
    """Stopped after its third update's checkpoint and resumed, a run ends with the weights
    of one never stopped."""
    from safetensors.torch import load_file

    folder = hierarchy_folder(tmp_path / "h")
    config = SMDPConfig(env="babyai/GoToLocal", frames=400, n_envs=2, segments=4, epochs=2,
                        minibatches=2, save_every=3)
    train_smdp(config, folder, tmp_path / "full", log=lambda r: None)
    seen = []

    def stop(record):
        seen.append(record)
        if record["update"] == 4:  # after the checkpoint of update 3
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_smdp(config, folder, tmp_path / "part", log=stop)
    train_smdp(config, folder, tmp_path / "part", resume=True, log=lambda r: None)
    a = load_file(str(tmp_path / "full" / "policy" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "policy" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    full = (tmp_path / "full" / "log.jsonl").read_text()
    part = (tmp_path / "part" / "log.jsonl").read_text()
    strip = lambda text: [{k: v for k, v in json.loads(line).items() if k != "fps"}  # noqa
                          for line in text.splitlines()]
    assert strip(full) == strip(part)
