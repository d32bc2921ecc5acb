"""``pretrain demos``: observation-only demonstrations of the study's tasks, as trajectory
datasets (core/trajectories.py, bench collect's layout: ``obs/image`` and ``obs/direction``
per step, the mission in the episode record).

A demonstrator plays each task: the BabyAI bot (core.envs.babyai.Bot) on BabyAI levels; on
MiniGrid's MultiRoom levels, which have no instructions for the bot, :class:`PathSolver`, a
breadth-first search over the full grid (walls block, doors are opened on the way) to the
goal; on MiniHack's mazes :class:`MazeSolver`, which sees only what the agent has seen (the
map's characters) and explores towards the stairs down; on NetHack (NLE's Staircase task)
nhrecord's symbolic agent (core.nethack.agent). Only episodes the demonstrator solves are kept.

Observation keys: a task records exactly the keys its online env observes (``Task.keys``), so
the network ``make_policy`` builds from the dataset's spaces (offline) and from the env's
(online) is the same one and a pre-trained torso loads (core.learn.torso). The NetHack tasks'
envs are made with those keys (``env_options``); a demonstrator that reads more (the symbolic
agent: the inventory, ``misc``) plays an env that observes those too, and only the task's keys
are written.

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
    demonstrator: str  # "bot" (BabyAI's), "path" (PathSolver), "maze" (MazeSolver), "symbolic"
    frames: int
    threshold: float
    note: str = ""
    policy: str = "babyai"  # the online policy's kind (core.learn.policies), also pre-trained
    keys: tuple = ("image", "direction")  # the observation arrays recorded and observed online

    @property
    def env_options(self) -> dict:
        """make_env's options for the task's env: NetHack's envs observe only ``keys``."""
        return {"observation_keys": list(self.keys)} if self.policy == "nethack" else {}


# The study's tasks. Budgets and thresholds from one scratch-PPO probe each on this machine
# (8 envs x 128 steps, the BabyAI policy, one thread; benchmarks/README.md, pretrain):
# KeyCorridorS3R3 had no success in 280k frames (about 750 frames/s), MultiRoom-N2-S4 reached
# 0.6 at 60k and 0.8 at 70k frames (about 1,050 frames/s), MultiRoom-N4-S5 none in 200k
# (about 640 frames/s on a busier machine), KeyCorridorS3R1 and DoorKey-8x8 none in 200k and
# 250k; DoorKey-6x6 (400k frames, about 2,400 frames/s on a quiet machine) first succeeded at
# 36k, then rarely until the success of its log records rose through 0.5 around 380k.
# multiroom's threshold is high enough that a head start shows in frames; doorkey is the
# default's hard-exploration level (a key to find before the door opens) that scratch PPO
# learns late within its budget; keycorridor and multiroom4 are where it does not learn.
# mazewalk and staircase train NetHack's policy (glyphs, blstats, message; 8 x 128 steps):
# on MazeWalk-9x9 uniform random play already succeeds half the time (200 steps, 100
# episodes), and scratch PPO fell from that to 0.17 over 60k frames (about 165 frames/s) as
# its entropy collapsed, hence a threshold above random play. On Staircase scratch PPO's
# first 10k frames (about 160 frames/s) ended 9 episodes, 3 on the stairs, so its threshold
# too sits above near-random play; both budgets are guesses from these short probes.
NETHACK_KEYS = ("glyphs", "blstats", "message")  # what NetHackPolicy's glyphs mode reads
TASKS = {
    "doorkey": Task("minigrid/DoorKey-6x6", "path", 500_000, 0.5,
                    "pick up the key, unlock the door, reach the goal"),
    "keycorridor": Task("babyai/KeyCorridorS3R3", "bot", 400_000, 0.5,
                        "find the key in a side room, unlock the door, pick up the ball"),
    "multiroom": Task("minigrid/MultiRoom-N2-S4", "path", 150_000, 0.8,
                      "open the door between two small rooms and reach the goal"),
    "multiroom4": Task("minigrid/MultiRoom-N4-S5", "path", 500_000, 0.5,
                       "open the doors of a chain of four rooms to reach the goal"),
    "mazewalk": Task("minihack/MiniHack-MazeWalk-9x9-v0", "maze", 200_000, 0.8,
                     "find the stairs down in a small dark maze (MiniHack)", "nethack",
                     NETHACK_KEYS),
    "staircase": Task("nle/NetHackStaircase-v0", "symbolic", 500_000, 0.6,
                      "reach the stairs down of NetHack's first level (NLE)", "nethack",
                      NETHACK_KEYS),
}
DEFAULT_TASKS = ("doorkey", "multiroom")  # the default study's (the others: by choice)


def task_of(name: str) -> Task:
    if name not in TASKS:
        raise PapertoolsError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return TASKS[name]


# ---------------------------------------------------------------------------------------------
# Demonstrators

LEFT, RIGHT, FORWARD, PICKUP, TOGGLE = 0, 1, 2, 3, 5  # minigrid's action indices
STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # minigrid's direction d moves by STEPS[d]


class PathSolver:
    """Reaches a MiniGrid level's goal square: each step, a breadth-first search over the full
    grid from the agent to the goal (through empty cells and unlocked doors), then turn towards
    the path's next cell, open it if it is a closed door, or step forward. Where only a locked
    door leads on (DoorKey), it first walks to the key and picks it up; carrying it, the
    locked door counts as passable and is opened like any other."""

    def __init__(self, native):
        self.env = getattr(native, "env", native)
        self.env = getattr(self.env, "unwrapped", self.env)

    def _find(self, kind: str):
        grid = self.env.grid
        return next(((x, y) for x in range(grid.width) for y in range(grid.height)
                     if (c := grid.get(x, y)) is not None and c.type == kind), None)

    def _passable(self, cell, with_key: bool) -> bool:
        return cell is None or cell.type in ("goal", "floor") or (
            cell.type == "door" and (with_key or not cell.is_locked))

    def _path(self, target, with_key: bool):
        """The cells from the agent to ``target`` (itself included, whatever it holds), or
        None when no passable way leads there."""
        grid, start = self.env.grid, tuple(int(v) for v in self.env.agent_pos)
        parent = {start: None}
        queue = [start]
        for here in queue:
            if here == target:
                path = [target]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1]
            for dx, dy in STEPS:
                nxt = (here[0] + dx, here[1] + dy)
                if (0 <= nxt[0] < grid.width and 0 <= nxt[1] < grid.height
                        and nxt not in parent
                        and (nxt == target or self._passable(grid.get(*nxt), with_key))):
                    parent[nxt] = here
                    queue.append(nxt)
        return None

    def act(self) -> int:
        goal = self._find("goal")
        if goal is None:
            raise PapertoolsError("the path solver needs a level with a goal square")
        carrying = getattr(self.env, "carrying", None)
        with_key = carrying is not None and carrying.type == "key"
        path = self._path(goal, with_key)
        if path is None and not with_key and (key := self._find("key")) is not None:
            path = self._path(key, False)
        if path is None:
            raise PapertoolsError("the path solver found no way to the goal")
        if len(path) < 2:
            return FORWARD
        (x, y), (nx, ny) = path[0], path[1]
        want = STEPS.index((nx - x, ny - y))
        turn = (want - int(self.env.agent_dir)) % 4
        if turn:
            return RIGHT if turn == 1 else LEFT
        cell = self.env.grid.get(nx, ny)
        if cell is not None and cell.type == "key":
            return PICKUP
        if cell is not None and cell.type == "door" and not cell.is_open:
            return TOGGLE
        return FORWARD


MAZE_MOVES = {"north": (-1, 0), "east": (0, 1), "south": (1, 0), "west": (0, -1),
              "northeast": (-1, 1), "southeast": (1, 1), "southwest": (1, -1),
              "northwest": (-1, -1)}  # NetHack's compass words -> (row, column) steps
UNSEEN = (ord(" "), ord("|"), ord("-"))  # map characters that are not floor: unseen, walls


class MazeSolver:
    """Reaches a MiniHack maze's stairs down from what the agent has seen, re-planning each
    step: a breadth-first search over the squares seen as floor (any map character but blank
    and walls; the agent's position from blstats) to the stairs when they have been seen and a
    seen path leads there, else to the nearest seen square with an unexplored neighbour.

    MazeWalk's walls are solid rock, drawn blank like the unexplored, and its corridors join
    diagonally as well, so the search moves in the 8 compass directions; a neighbour still
    blank after the agent stood next to it is rock (NetHack shows adjacent squares even in the
    dark), and a move that leaves the agent in place (a diagonal squeeze NetHack refuses) is
    remembered as blocked and planned around."""

    needs_obs = True  # act(obs): it reads the observation, not the env's internals

    def __init__(self, native):
        words = list(native.action_words)
        missing = [w for w in MAZE_MOVES if w not in words]
        if missing:
            raise PapertoolsError(f"the maze solver needs the compass moves; the env lacks "
                                  f"{', '.join(missing)}")
        self.index = {w: words.index(w) for w in MAZE_MOVES}
        self.floor: set = set()
        self.rock: set = set()
        self.blocked: set = set()  # (from, to) moves that failed
        self.last = None  # the last move (from, to)

    def _first_step(self, here, done):
        """The first square of a shortest seen path from ``here`` to one where ``done``."""
        parent = {here: None}
        queue = [here]
        for cell in queue:
            if cell != here and done(cell):
                while parent[cell] != here:
                    cell = parent[cell]
                return cell
            for dr, dc in MAZE_MOVES.values():
                nxt = (cell[0] + dr, cell[1] + dc)
                if nxt in self.floor and nxt not in parent and (cell, nxt) not in self.blocked:
                    parent[nxt] = cell
                    queue.append(nxt)
        return None

    def act(self, obs) -> int:
        chars = obs["chars"]
        height, width = chars.shape
        here = (int(obs["blstats"][1]), int(obs["blstats"][0]))  # (row, column)
        if self.last is not None and self.last[0] == here:
            self.blocked.add(self.last)
        rows, cols = np.nonzero(~np.isin(chars, UNSEEN))
        self.floor.update(zip(rows.tolist(), cols.tolist()))
        self.floor.add(here)
        stairs = np.argwhere(chars == ord(">"))
        goal = tuple(int(v) for v in stairs[0]) if len(stairs) else None
        for dr, dc in MAZE_MOVES.values():
            if (nxt := (here[0] + dr, here[1] + dc)) not in self.floor:
                self.rock.add(nxt)

        def unexplored(cell) -> bool:
            return any(0 <= cell[0] + dr < height and 0 <= cell[1] + dc < width
                       and (cell[0] + dr, cell[1] + dc) not in self.floor
                       and (cell[0] + dr, cell[1] + dc) not in self.rock
                       for dr, dc in MAZE_MOVES.values())

        step = None
        if goal is not None and goal != here:
            step = self._first_step(here, lambda cell: cell == goal)
        if step is None:
            step = self._first_step(here, unexplored)
        if step is None:  # on the stairs, or nothing left to explore: MiniHack ends it
            self.last = None
            return self.index["north"]
        self.last = (here, step)
        move = (step[0] - here[0], step[1] - here[1])
        return self.index[next(w for w, d in MAZE_MOVES.items() if d == move)]


class SymbolicPlayer:
    """nhrecord's symbolic agent (core.nethack.agent) on an env made with every NetHack
    action (:func:`play_options`): its keypresses become the env's action indices."""

    needs_obs = True

    def __init__(self, native, seed: int):
        from papertools.core.nethack.agent import SymbolicAgent
        from papertools.core.seed import numpy_rng

        self.agent = SymbolicAgent(numpy_rng(seed, 7))
        self.index: dict[int, int] = {}
        for i, action in enumerate(native.env.unwrapped.actions):
            self.index.setdefault(int(action), i)
        self.esc = native.action_words.index("esc")

    def act(self, obs) -> int:
        return self.index.get(int(self.agent.act(obs)), self.esc)


def _demonstrator(kind: str, env, seed: int = 0):
    if kind == "bot":
        from papertools.core.envs.babyai import Bot

        return Bot(env)
    if kind == "path":
        return PathSolver(env)
    if kind == "maze":
        return MazeSolver(env)
    if kind == "symbolic":
        return SymbolicPlayer(env, seed)
    raise PapertoolsError(f"unknown demonstrator {kind!r} (known: bot, path, maze, symbolic)")


def play_options(task: Task) -> dict:
    """make_env's options for the demonstrator's env: the task's, plus what the demonstrator
    reads beyond the task's keys (the maze solver: the map's characters; the symbolic agent:
    the inventory, ``misc``...) and, for the symbolic agent, every NetHack action (Staircase's
    own set, 23 moves and a few commands, lacks the keys it types). Only the task's keys are
    recorded, so the demonstrations stay what the online agent observes, and being
    observation-only, their actions need not be the online agent's."""
    options = dict(task.env_options)
    if task.demonstrator in ("maze", "symbolic"):
        from papertools.core.envs.nle import OBS_KEYS, with_keys

        reads = ("chars", "blstats") if task.demonstrator == "maze" else OBS_KEYS
        options["observation_keys"] = list(with_keys(task.keys, reads))
    if task.demonstrator == "symbolic":
        from nle import nethack

        options["actions"] = nethack.ACTIONS
    return options


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
    env = make_env(task.env, **play_options(task))
    try:
        for attempt in range(MAX_TRIES):
            seed = demo_seed(job.seed, job.index, attempt)
            obs, _ = env.reset(seed=seed)
            agent = _demonstrator(task.demonstrator, env, seed)
            with_obs = getattr(agent, "needs_obs", False)
            seen, actions, rewards, terms, truncs = [obs], [], [], [], []
            done, info = False, {}
            while not done:
                action = agent.act(obs) if with_obs else agent.act()
                obs, reward, terminated, truncated, info = env.step(action)
                seen.append(obs)
                actions.append(action)
                rewards.append(reward)
                terms.append(terminated)
                truncs.append(truncated)
                done = terminated or truncated
            # MiniHack says success itself; elsewhere a reward on the terminal step
            solved = info["success"] if "success" in info else terms[-1] and rewards[-1] > 0
            if not (terms[-1] and solved):
                continue
            arrays = episode_arrays([{k: o[k] for k in task.keys} for o in seen], actions,
                                    rewards, terms, truncs)
            record = {"id": f"{job.task}/{job.index}", "env": task.env, "seed": seed,
                      "attempt": attempt, "success": True}
            if "mission" in seen[0]:
                record["mission"] = seen[0]["mission"]
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
    from gymnasium import spaces

    from papertools.core.envs import make_env

    task = task_of(task_name)
    env = make_env(task.env, **play_options(task))  # the recorded actions' words
    try:
        observation = {}
        for key in task.keys:
            space = env.observation_space[key]
            observation[key] = ({"dtype": "int64", "shape": []} if isinstance(space, spaces.Discrete)
                                else {"dtype": np.dtype(space.dtype).name,
                                      "shape": list(space.shape)})
        words = list(env.action_words)
    finally:
        env.close()
    return {"env": task.env, "observation": observation, "action_words": words,
            "source": f"pretrain demos ({task.demonstrator})",
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


__all__ = ["DEFAULT_TASKS", "DEMO_BASE", "MazeSolver", "PathSolver", "SymbolicPlayer", "TASKS",
           "Task", "demo_seed", "play_options", "record_demos", "task_of"]
