"""The two-level agent: where segments start, the policy folder round trip, bench playing it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from papertools.core.envs import make_env
from papertools.core.learn.hierarchy import HierarchicalPolicy, build_hierarchy, load_low
from papertools.core.learn.policies import load_policy, make_policy, save_policy

from ._fixtures import make_dataset, subgoal_vocab, train_low

SUBGOALS = ["go to the red ball", "go to the blue key", "explore"]
SMALL = {"channels": 8, "features": 32, "head_hidden": 32, "text_hidden": 32, "words": 16}


def tiny(max_segment=3, finished_bias=(10.0, -10.0), high_recurrent=False):
    torch.manual_seed(0)
    env = make_env("babyai/GoToLocal")
    policy = make_policy(env.observation_space, env.action_space, "hierarchy",
                         subgoals=SUBGOALS, low_kwargs=dict(SMALL, vocab=subgoal_vocab()),
                         high_kwargs=dict(SMALL, recurrent=high_recurrent, memory=16),
                         max_segment=max_segment)
    env.close()
    with torch.no_grad():  # the finished head's verdict fixed by its bias
        policy.finished_head.weight.zero_()
        policy.finished_head.bias.copy_(torch.tensor(finished_bias))
    return policy.eval()


def observations(n, seed=0):
    env = make_env("babyai/GoToLocal")
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in np.random.default_rng(seed).integers(0, 3, n - 1):
        obs, *_ = env.step(int(a))
        out.append(obs)
    env.close()
    return out


def batch(obs):
    return {"image": obs["image"][None], "direction": np.array([obs["direction"]]),
            "mission": [obs["mission"]]}


def play(policy, seq, firsts):
    """The steps-in-segment counter after each step (1 right after a segment start)."""
    state, counts, starts = policy.initial_state(1), [], []
    with torch.no_grad():
        for obs, first in zip(seq, firsts):
            starts.append(bool(policy.segment_starts(state, torch.tensor([first]))[0]))
            _, _, state = policy(batch(obs), state, torch.tensor([first]))
            counts.append(int(state[2][0]))
    return counts, starts


def test_segments_start_at_episode_start_and_timeout():
    seq = observations(8)
    counts, starts = play(tiny(max_segment=3), seq, [True] + [False] * 4 + [True] + [False] * 2)
    assert starts == [True, False, False, True, False, True, False, False]
    assert counts == [1, 2, 3, 1, 2, 1, 2, 3]


def test_segments_start_where_the_low_level_says_finished():
    seq = observations(5)
    counts, starts = play(tiny(max_segment=100, finished_bias=(-10.0, 10.0)), seq,
                          [True] + [False] * 4)
    assert starts == [True] * 5 and counts == [1] * 5
    counts, starts = play(tiny(max_segment=100), seq, [True] + [False] * 4)
    assert starts == [True, False, False, False, False]


def test_the_high_state_advances_only_at_segment_starts():
    policy = tiny(max_segment=2, high_recurrent=True)
    seq = observations(4)
    state = policy.initial_state(1)
    highs = []
    with torch.no_grad():
        for i, obs in enumerate(seq):
            _, _, state = policy(batch(obs), state, torch.tensor([i == 0]))
            highs.append(state[0][0].clone())
    assert torch.equal(highs[0], highs[1]) and not torch.equal(highs[1], highs[2])
    assert torch.equal(highs[2], highs[3])


def test_rows_switch_independently_in_a_batch():
    policy = tiny(max_segment=2)
    seq = observations(3)
    obs = {"image": np.stack([o["image"] for o in seq[:2]]),
           "direction": np.array([o["direction"] for o in seq[:2]]),
           "mission": [o["mission"] for o in seq[:2]]}
    state = policy.initial_state(2)
    with torch.no_grad():
        _, _, state = policy(obs, state, torch.tensor([True, True]))
        _, _, state = policy(obs, state, torch.tensor([False, True]))
    assert state[2].tolist() == [2, 1]


def test_save_and_load_give_the_same_actions(tmp_path):
    policy = tiny(max_segment=2, high_recurrent=True)
    save_policy(tmp_path / "policy", policy, {"env": "babyai/GoToLocal"})
    loaded, meta = load_policy(tmp_path / "policy")
    assert meta["kind"] == "hierarchy" and isinstance(loaded, HierarchicalPolicy)
    seq = observations(6)
    outs = []
    for p in (policy, loaded):
        state, logits = p.initial_state(1), []
        with torch.no_grad():
            for i, obs in enumerate(seq):
                out, _, state = p(batch(obs), state, torch.tensor([i == 0]))
                logits.append(out)
        outs.append(torch.cat(logits))
    assert torch.equal(outs[0], outs[1])


@pytest.mark.slow
def test_bench_runs_and_collects_with_a_hierarchy(tmp_path):
    data = make_dataset(tmp_path / "demos", "UnlockPickup", episodes=6)
    low, finished, _ = load_low(train_low(data, tmp_path / "low", epochs=1))
    policy = build_hierarchy(low, finished, SUBGOALS, high_kwargs=SMALL, max_segment=4)
    save_policy(tmp_path / "h", policy, {"env": "babyai/UnlockPickup"})
    base = [sys.executable, "-m", "papertools.cli.main", "bench"]
    run = subprocess.run(base + ["run", "--env", "babyai/UnlockPickup", "--agent", "policy",
                                 "--policy", str(tmp_path / "h"), "--episodes", "1",
                                 "--max-steps", "12", "--out-dir", str(tmp_path / "run"), "-q"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    episode = json.loads((tmp_path / "run" / "episodes.jsonl").read_text().splitlines()[0])
    assert episode["steps"] == 12
    col = subprocess.run(base + ["collect", "--env", "babyai/UnlockPickup", "--agent", "policy",
                                 "--policy", str(tmp_path / "h"), "--episodes", "1",
                                 "--max-steps", "12", "--out-dir", str(tmp_path / "col"), "-q"],
                         capture_output=True, text=True)
    assert col.returncode == 0, col.stderr
    assert (tmp_path / "col" / "episodes.jsonl").read_text().count("\n") == 1
