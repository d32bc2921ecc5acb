"""pretrain's MiniHack and NetHack tasks: the maze solver solves MazeWalk, the demonstrations
hold exactly the observation keys the online env gives, and an encoder pre-trained on them
loads into the policy ``pretrain rl`` builds (same kind, same arguments, same torso)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minihack")

from papertools.cli.pretrain.demos import (  # noqa: E402
    DEMO_BASE, TASKS, MazeSolver, play_options, record_demos, task_of)
from papertools.core.trajectories import TrajectoryDataset  # noqa: E402


def test_maze_solver_solves_mazewalk_from_what_it_sees():
    from papertools.core.envs import make_env

    task = task_of("mazewalk")
    env = make_env(task.env, **play_options(task))
    solved, lengths = 0, []
    for seed in range(DEMO_BASE, DEMO_BASE + 12):
        obs, _ = env.reset(seed=seed)
        solver = MazeSolver(env)
        for step in range(env.max_steps):
            obs, _, term, trunc, info = env.step(solver.act(obs))
            if term or trunc:
                break
        solved += bool(info["success"])
        lengths.append(step + 1)
    env.close()
    assert solved == 12
    assert max(lengths) > 10  # some mazes needed exploring, not only a visible stairs


def _online_policy(task_name: str, **policy_kwargs):
    """The policy ``pretrain rl`` builds for the task (its PPO config's env, options, kind)."""
    from papertools.cli.pretrain.online import OnlineConfig, ppo_config
    from papertools.core.envs import make_env
    from papertools.core.learn.policies import make_policy

    ppo = ppo_config(task_name, "scratch", 0, {"run": "unused"},
                     OnlineConfig(policy_kwargs=policy_kwargs))
    env = make_env(ppo.env, **ppo.env_options)
    try:
        return make_policy(env.observation_space, env.action_space, ppo.policy,
                           **ppo.policy_kwargs), env.observation_space
    finally:
        env.close()


@pytest.mark.parametrize("task_name,episodes", [("mazewalk", 6), ("staircase", 1)])
def test_demos_pretrain_a_torso_the_online_policy_loads(tmp_path, task_name, episodes):
    import torch

    from safetensors.torch import load_file

    from papertools.cli.pretrain.offline import EncoderConfig, train_encoder
    from papertools.core.learn.policies import WEIGHTS
    from papertools.core.learn.torso import load_torso, torso_names

    task = TASKS[task_name]
    record_demos(task_name, episodes, tmp_path / "demos", observations_only=True)
    data = TrajectoryDataset(tmp_path / "demos")
    assert sorted(data.meta["observation"]) == sorted(task.keys)
    for i in data.ids:
        arrays = data.load(i)
        assert sorted(k[4:] for k in arrays if k.startswith("obs/")) == sorted(task.keys)
        assert (arrays["actions"] == -1).all()

    train_encoder(tmp_path / "demos", tmp_path / "enc",
                  EncoderConfig(steps=2, batch_size=8, valid_fraction=0.0, log_every=1),
                  log=lambda r: None)
    policy, space = _online_policy(task_name)
    assert policy.kind == "nethack" and sorted(space.spaces) == sorted(task.keys)
    saved = load_file(str(tmp_path / "enc" / "policy" / WEIGHTS))
    names = load_torso(policy, tmp_path / "enc" / "policy")
    assert names == torso_names(policy) and any(n.startswith("message") for n in names)
    own = policy.state_dict()
    assert all(torch.equal(own[n], saved[n]) for n in names)


def test_ppo_trains_the_nethack_policy_on_mazewalk(tmp_path):
    """A recurrent NetHack policy (an LSTMCell state [N, H]) through PPO's minibatches."""
    from papertools.cli.pretrain.online import OnlineConfig, run_arm

    config = OnlineConfig(frames=128, n_envs=2, n_steps=32, policy_kwargs={"hidden": 32})
    summary = run_arm("mazewalk", "scratch", 0, {"run": str(tmp_path / "run")}, config)
    assert summary["frames"] > 0 and np.isfinite(summary["return"] or 0.0)
