"""The low level: cloned from UnlockPickup demonstrations, it reaches "go to" subgoals far more
often than a random policy and its finished head stops it there; folder, resume, CLI."""

import orjson
import pytest
import torch

from papertools.cli.hrl import language
from papertools.cli.hrl.demos import bot_episode, record_demos, segments_of
from papertools.cli.hrl.low import LowConfig, achieved, evaluate_low, load_low, train_low
from papertools.core.envs import make_env
from papertools.core.learn.policies import load_policy
from tests.helpers import invoke


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    path = tmp_path_factory.mktemp("low") / "demos"
    record_demos("babyai/UnlockPickup", 40, path, seed=0)
    return path


@pytest.mark.slow
def test_low_level_learns_go_to_and_finished(demos, tmp_path):
    torch.set_num_threads(1)
    summary = train_low(demos, tmp_path / "run", LowConfig(epochs=60, lr=2e-3, seed=0))
    assert summary["finished"]
    policy, meta = load_policy(tmp_path / "run" / "policy")
    assert meta["kind"] == "babyai"
    assert set(language.words()) <= set(policy.vocab)
    state = torch.load(tmp_path / "run" / "policy" / "aux_heads.pt", weights_only=True)
    assert state["state_dict"]["label_finished.weight"].shape == (2, policy.features_dim)
    result = evaluate_low(tmp_path / "run" / "policy", "babyai/UnlockPickup", 60, seed=1)
    go_to = result["kinds"]["go to"]
    # a uniformly random policy: 0.24 of "go to" subgoals reached at any time in 64 steps,
    # 0.02 still there at the end (100 episodes, measured)
    assert go_to["episodes"] >= 10 and go_to["success"] >= 0.35, result
    assert result["kinds"]["pick up"]["success"] >= 0.8, result
    assert result["fired"] >= 0.8 and result["finished_precision"] >= 0.5, result


def test_train_resume_and_cli(demos, tmp_path):
    torch.set_num_threads(1)
    config = LowConfig(epochs=1, seed=0, recurrent=False)
    first = train_low(demos, tmp_path / "run", config)
    again = train_low(demos, tmp_path / "run", config, resume=True)
    assert again["steps"] == first["steps"]
    policy, head = load_low(tmp_path / "run" / "policy")
    assert head.out_features == 2 and head.in_features == policy.features_dim
    run = invoke(["hrl", "eval-low", "--policy", str(tmp_path / "run" / "policy"), "--env",
                  "babyai/UnlockPickup", "--episodes", "3", "--held-out", "--json", "-q"])
    assert run.exit_code == 0, run.stderr
    records = [orjson.loads(line) for line in run.stdout.splitlines()]
    assert records[-1]["kind"] == "all" and records[-1]["held_out"] is True
    assert sum(r["episodes"] for r in records[:-1]) == records[-1]["episodes"] == 3
    # workers do not change the figures
    one = evaluate_low(tmp_path / "run" / "policy", "babyai/UnlockPickup", 4, seed=2)
    two = evaluate_low(tmp_path / "run" / "policy", "babyai/UnlockPickup", 4, seed=2,
                       workers=2, engine="process")
    assert one == two


@pytest.mark.parametrize("level", ["UnlockPickup", "KeyCorridorS3R3"])
def test_achieved_holds_where_the_bot_ends_a_segment(level):
    for seed in range(3):
        ep = bot_episode(f"babyai/{level}", seed)
        ends = {s + n - 1: ep["subgoals"][s] for s, n in segments_of(ep["subgoals"])}
        env = make_env(f"babyai/{level}")
        env.reset(seed=seed)
        for t, action in enumerate(ep["actions"]):
            goal = ep["subgoals"][t]
            if t not in ends and goal != "explore" and not goal.startswith("go to"):
                assert not achieved(env, goal)  # before an open, a pick-up or a drop
            env.step(action)
            if t in ends:
                assert achieved(env, ends[t]) == (ends[t] != "explore"), (t, ends[t])
        env.close()
