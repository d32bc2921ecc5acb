"""pretrain demos: the demonstrators solve the study's tasks, the datasets are core.trajectories
folders, resumable, seeded away from the online runs, and optionally without actions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minigrid")

from papertools.cli.pretrain.demos import (  # noqa: E402
    DEMO_BASE, TASKS, PathSolver, record_demos)
from papertools.core.errors import PapertoolsError  # noqa: E402
from papertools.core.trajectories import TrajectoryDataset  # noqa: E402


def test_path_solver_solves_multiroom():
    from papertools.core.envs import make_env

    env = make_env("minigrid/MultiRoom-N4-S5")
    solved = 0
    for seed in range(10):
        env.reset(seed=seed)
        solver = PathSolver(env)
        for _ in range(200):
            _, r, term, trunc, _ = env.step(solver.act())
            if term or trunc:
                break
        solved += term and r > 0
    env.close()
    assert solved == 10


def test_path_solver_fetches_the_key_for_a_locked_door():
    # the old solver planned through unlocked doors only and raised on every DoorKey level
    from papertools.core.envs import make_env

    env = make_env("minigrid/DoorKey-8x8")
    picked = solved = 0
    for seed in range(6):
        env.reset(seed=seed)
        solver = PathSolver(env)
        actions = []
        for _ in range(300):
            actions.append(solver.act())
            _, r, term, trunc, _ = env.step(actions[-1])
            if term or trunc:
                break
        picked += actions.count(3) == 1  # one pickup: the key, once
        solved += term and r > 0
    env.close()
    assert solved == picked == 6


@pytest.mark.parametrize("task", sorted(t for t in TASKS if TASKS[t].policy == "babyai"))
def test_record_demos_solved_resumable(tmp_path, task):  # NetHack's: test_nethack_tasks.py
    out = tmp_path / "demos"
    record_demos(task, 2, out, seed=3)
    summary = record_demos(task, 4, out, seed=3, resume=True)
    assert summary["new"] == 2
    data = TrajectoryDataset(out)
    assert data.ids == [f"{task}/{i}" for i in range(4)]
    for i in data.ids:
        rec = data.record(i)
        assert rec["success"] and rec["seed"] >= DEMO_BASE and rec["mission"]
        arrays = data.load(i)
        assert arrays["obs/image"].shape == (rec["length"] + 1, 7, 7, 3)
    # the same seed gives the same episodes
    again = record_demos(task, 2, tmp_path / "again", seed=3)
    assert again["steps"] == sum(data.record(i)["length"] for i in data.ids[:2])
    with pytest.raises(PapertoolsError):
        record_demos(task, 2, out, seed=4, resume=True)  # another seed: another dataset


def test_observations_only_drops_actions_and_rewards(tmp_path):
    record_demos("multiroom", 2, tmp_path / "d", observations_only=True)
    data = TrajectoryDataset(tmp_path / "d")
    assert data.meta["pretrain"]["observations_only"] is True
    for i in data.ids:
        arrays = data.load(i)
        assert (arrays["actions"] == -1).all() and not np.any(arrays["rewards"])
        assert data.record(i)["return"] is None
