"""``pretrain demos``: observation-only demonstrations of the study's tasks, as trajectory
datasets (core/trajectories.py, bench collect's layout: ``obs/image`` and ``obs/direction``
per step, the mission in the episode record).

A demonstrator plays each task: the BabyAI bot (core.envs.babyai.Bot) on BabyAI levels, and on
MiniGrid's MultiRoom levels, which have no instructions for the bot, :class:`PathSolver`, a
breadth-first search over the full grid (walls block, doors are opened on the way) to the
goal. Only episodes the demonstrator solves are kept.

The pre-training loader reads observations only; the actions and rewards are in the files
(the format has them) unless ``observations_only``, which writes every action as -1 and every
reward as 0, so not even a reader of the raw files learns them.

Seeds: demonstration i plays the first attempt k = 0, 1, ... that the demonstrator solves, on
seed ``DEMO_BASE + derive_seed(seed, DEMO_KEY, i, k) mod DEMO_SPAN``: at least 2**24, while
PPO's vector environments start on seeds ``run seed + env index`` (small integers) and then
draw their levels from their own generators, so no online run replays a demonstration's
seeds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed

DEMO_KEY = 0x70726544  # "preD": the demonstrations' seeds
DEMO_BASE = 1 << 24  # demonstration seeds start here (online runs start at their own seed)
DEMO_SPAN = (1 << 31) - DEMO_BASE
MAX_TRIES = 50  # attempts per demonstration before giving up


@dataclass(frozen=True)
class Task:
    """One study task: the env (a core.envs name), who demonstrates it, the online frame budget
    of every arm, and the success rate (over the episodes a log record covers) that counts as
    reached."""

    env: str
    demonstrator: str  # "bot" (the BabyAI bot) or "path" (PathSolver)
    frames: int
    threshold: float
    note: str = ""


# The study's tasks. Budgets and thresholds from one scratch-PPO probe each on this machine
# (8 envs x 128 steps, the BabyAI policy, one thread; benchmarks/README.md, pretrain):
# KeyCorridorS3R3 had no success in 280k frames (about 750 frames/s), MultiRoom-N2-S4 reached
# 0.6 at 60k and 0.8 at 70k frames (about 1,050 frames/s), MultiRoom-N4-S5 none in 200k
# (about 640 frames/s on a busier machine). multiroom's threshold is high enough that a
# head start shows in frames; keycorridor and multiroom4 are where scratch PPO struggles.
TASKS = {
    "keycorridor": Task("babyai/KeyCorridorS3R3", "bot", 400_000, 0.5,
                        "find the key in a side room, unlock the door, pick up the ball"),
    "multiroom": Task("minigrid/MultiRoom-N2-S4", "path", 150_000, 0.8,
                      "open the door between two small rooms and reach the goal"),
    "multiroom4": Task("minigrid/MultiRoom-N4-S5", "path", 500_000, 0.5,
                       "open the doors of a chain of four rooms to reach the goal"),
}
DEFAULT_TASKS = ("keycorridor", "multiroom")  # the default study's (multiroom4: by choice)


def task_of(name: str) -> Task:
    if name not in TASKS:
        raise PapertoolsError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return TASKS[name]


# ---------------------------------------------------------------------------------------------
# Demonstrators

LEFT, RIGHT, FORWARD, TOGGLE = 0, 1, 2, 5  # minigrid's action indices
STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # minigrid's direction d moves by STEPS[d]


class PathSolver:
    """Reaches a MiniGrid level's goal square: each step, a breadth-first search over the full
    grid from the agent to the goal (through empty cells and unlocked doors), then turn towards
    the path's next cell, open it if it is a closed door, or step forward."""

    def __init__(self, native):
        self.env = getattr(native, "env", native)
        self.env = getattr(self.env, "unwrapped", self.env)

    def _passable(self, cell) -> bool:
        return cell is None or cell.type in ("goal", "floor") or (
            cell.type == "door" and not cell.is_locked)

    def _path(self) -> list[tuple[int, int]]:
        grid, start = self.env.grid, tuple(int(v) for v in self.env.agent_pos)
        goal = next(((x, y) for x in range(grid.width) for y in range(grid.height)
                     if (c := grid.get(x, y)) is not None and c.type == "goal"), None)
        if goal is None:
            raise PapertoolsError("the path solver needs a level with a goal square")
        parent = {start: None}
        queue = [start]
        for here in queue:
            if here == goal:
                break
            for dx, dy in STEPS:
                nxt = (here[0] + dx, here[1] + dy)
                if (0 <= nxt[0] < grid.width and 0 <= nxt[1] < grid.height
                        and nxt not in parent and self._passable(grid.get(*nxt))):
                    parent[nxt] = here
                    queue.append(nxt)
        if goal not in parent:
            raise PapertoolsError("the path solver found no way to the goal")
        path = [goal]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])
        return path[::-1]

    def act(self) -> int:
        path = self._path()
        if len(path) < 2:
            return FORWARD
        (x, y), (nx, ny) = path[0], path[1]
        want = STEPS.index((nx - x, ny - y))
        turn = (want - int(self.env.agent_dir)) % 4
        if turn:
            return RIGHT if turn == 1 else LEFT
        cell = self.env.grid.get(nx, ny)
        if cell is not None and cell.type == "door" and not cell.is_open:
            return TOGGLE
        return FORWARD


def _demonstrator(kind: str, env):
    if kind == "bot":
        from papertools.core.envs.babyai import Bot

        return Bot(env)
    if kind == "path":
        return PathSolver(env)
    raise PapertoolsError(f"unknown demonstrator {kind!r} (known: bot, path)")


@dataclass(frozen=True)
class DemoJob:
    task: str
    index: int
    seed: int = 0
    observations_only: bool = False


def demo_seed(seed: int, index: int, attempt: int) -> int:
    return DEMO_BASE + derive_seed(seed, DEMO_KEY, index, attempt) % DEMO_SPAN


def play(job: DemoJob) -> tuple[dict, dict]:
    """One solved demonstration: (its record, its arrays) for ``TrajectoryWriter.add``."""
    from papertools.core.envs import make_env
    from papertools.core.trajectories import episode_arrays

    task = task_of(job.task)
    env = make_env(task.env)
    try:
        for attempt in range(MAX_TRIES):
            seed = demo_seed(job.seed, job.index, attempt)
            obs, _ = env.reset(seed=seed)
            agent = _demonstrator(task.demonstrator, env)
            seen, actions, rewards, terms, truncs = [obs], [], [], [], []
            done = False
            while not done:
                action = agent.act()
                obs, reward, terminated, truncated, _ = env.step(action)
                seen.append(obs)
                actions.append(action)
                rewards.append(reward)
                terms.append(terminated)
                truncs.append(truncated)
                done = terminated or truncated
            if not (terms[-1] and rewards[-1] > 0):
                continue
            mission = seen[0]["mission"]
            arrays = episode_arrays([{k: v for k, v in o.items() if k != "mission"}
                                     for o in seen], actions, rewards, terms, truncs)
            record = {"id": f"{job.task}/{job.index}", "env": task.env, "seed": seed,
                      "attempt": attempt, "success": True, "mission": mission}
            if job.observations_only:
                arrays["actions"] = np.full(len(actions), -1, np.int64)
                arrays["rewards"] = np.zeros(len(actions), np.float32)
                record.update(success=None, **{"return": None})
            return record, arrays
    finally:
        env.close()
    raise PapertoolsError(f"{job.task}/{job.index}: the {task.demonstrator} demonstrator solved "
                          f"none of {MAX_TRIES} attempts")


def dataset_meta(task_name: str, seed: int, observations_only: bool) -> dict:
    from papertools.core.envs import make_env

    task = task_of(task_name)
    env = make_env(task.env)
    try:
        image = env.observation_space["image"]
        words = list(env.action_words)
    finally:
        env.close()
    return {"env": task.env,
            "observation": {"image": {"dtype": np.dtype(image.dtype).name,
                                      "shape": list(image.shape)},
                            "direction": {"dtype": "int64", "shape": []}},
            "action_words": words, "source": f"pretrain demos ({task.demonstrator})",
            "pretrain": {"task": task_name, "demonstrator": task.demonstrator, "seed": seed,
                         "observations_only": observations_only}}


def record_demos(task: str, episodes: int, out_dir, seed: int = 0, resume: bool = False, *,
                 observations_only: bool = False, workers: int = 1, engine: str = "auto",
                 on_episode=None) -> dict:
    """Record ``episodes`` solved demonstrations of ``task`` (a :data:`TASKS` name) into the
    trajectory dataset ``out_dir`` (continued with ``resume``: the episodes there are kept);
    returns {"task", "env", "episodes", "steps", "path"}. The dataset is the same for any
    ``workers``/``engine`` (each episode's seeds derive from (seed, index))."""
    from papertools.core.parallel import ordered_map
    from papertools.core.trajectories import TrajectoryWriter

    if episodes < 1:
        raise PapertoolsError(f"--episodes must be at least 1, not {episodes}")
    meta = dataset_meta(task, seed, observations_only)
    steps = 0
    with TrajectoryWriter(out_dir, meta, resume=resume) as writer:
        jobs = [DemoJob(task, i, seed, observations_only) for i in range(episodes)
                if f"{task}/{i}" not in writer.done_ids]
        for record, arrays in ordered_map(play, jobs, workers=workers, engine=engine):
            rec = writer.add(record, arrays)
            steps += rec["length"]
            if on_episode:
                on_episode(rec)
    return {"task": task, "env": meta["env"], "episodes": episodes, "new": len(jobs),
            "steps": steps, "path": str(Path(out_dir))}


__all__ = ["DEFAULT_TASKS", "DEMO_BASE", "PathSolver", "TASKS", "Task", "demo_seed", "record_demos", "task_of"]
