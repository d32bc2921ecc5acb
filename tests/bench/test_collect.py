"""bench collect: datasets that replay, labelled by the bot's subgoals, identical for any
worker count, resumed without repeating an episode."""

from __future__ import annotations

import filecmp

import numpy as np

from papertools.core.envs import make_env
from papertools.core.envs.babyai import SUBGOALS
from papertools.core.trajectories import TrajectoryDataset
from tests.helpers import invoke


def collect(out, *extra, env="babyai/GoToLocal", agent="bot", episodes=6):
    res = invoke(["bench", "collect", "--env", env, "--agent", agent, "--episodes",
                  str(episodes), "--out-dir", str(out), "-q", *extra])
    assert res.exit_code == 0, res.stderr
    return TrajectoryDataset(out)


def same_folder(a, b) -> bool:
    files = ["dataset.json", "episodes.jsonl"] + [
        f"episodes/{p.name}" for p in sorted((a / "episodes").iterdir())]
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    return not mismatch and not errors and len(match) == len(files)


def test_bot_demonstrations_replay_and_carry_subgoals(tmp_path):
    data = collect(tmp_path / "d")
    assert len(data) == 6 and data.meta["labels"]["subgoal"] == list(SUBGOALS)
    assert all(e["success"] for e in data.episodes)
    for record in data.episodes:
        arrays = data.load(record["id"])
        env = make_env("babyai/GoToLocal")
        obs, _ = env.reset(seed=record["seed"])
        assert obs["mission"] == record["mission"]
        for t, action in enumerate(arrays["actions"].tolist()):
            assert np.array_equal(obs["image"], arrays["obs/image"][t])
            obs, reward, terminated, truncated, _ = env.step(action)
            assert np.isclose(reward, arrays["rewards"][t])
        assert np.array_equal(obs["image"], arrays["obs/image"][-1]) and terminated
        subgoals = [SUBGOALS[i] for i in arrays["label/subgoal"].tolist()]
        assert subgoals[-1].startswith("go to the") and "none" not in subgoals


def test_workers_and_resume_give_the_same_dataset(tmp_path):
    collect(tmp_path / "one", episodes=5)
    collect(tmp_path / "two", "-w", "2", episodes=5)
    assert same_folder(tmp_path / "one", tmp_path / "two")
    collect(tmp_path / "cut", episodes=2)
    collect(tmp_path / "cut", "--resume", episodes=5)
    assert same_folder(tmp_path / "one", tmp_path / "cut")


def test_random_agent_on_minigrid_and_nethack(tmp_path):
    data = collect(tmp_path / "door", env="minigrid/DoorKey-5x5", agent="random", episodes=2)
    assert data.meta["action_words"][:3] == ["turn left", "turn right", "go forward"]
    assert "label/subgoal" not in data.load(data.ids[0])
    nh = collect(tmp_path / "nh", "--max-steps", "12", env="nle/NetHackScore-v0",
                 agent="random", episodes=1)
    arrays = nh.load(nh.ids[0])
    assert arrays["obs/glyphs"].shape == (13, 21, 79) and arrays["obs/blstats"].shape[0] == 13
    assert arrays["actions"].max() < len(nh.meta["action_words"])


def test_bad_usage_is_one_line(tmp_path):
    res = invoke(["bench", "collect", "--env", "babyai/GoToLocal", "--agent", "policy",
                  "--episodes", "1", "--out-dir", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--policy DIR" in res.stderr
    res = invoke(["bench", "collect", "--env", "crafter", "--agent", "bot", "--episodes", "1",
                  "--out-dir", str(tmp_path / "y")])
    assert res.exit_code == 1 and "bot" in res.stderr
