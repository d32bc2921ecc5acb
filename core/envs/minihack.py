"""MiniHack: the native env (``Native``, NLE's observation dict, as for NetHack) and BALROG's
task list as text (NetHack rendering, as for NLE).

``Native(task)`` is any MiniHack task with BALROG's settings below, seeded like NetHack through
``core.nethack.env`` (the same seed gives the same level), observing ``nle.NATIVE_KEYS``; its
``info["success"]`` says whether a step's reward reached 1.0 (BALROG's success).

BALROG's settings: 100 steps, step penalty -0.01, no autopickup, "--More--" answered
automatically. Progression: 1.0 once a step's reward is >= 1.0 or the task reports success
(BALROG's BaseProgress). Boxoban-Hard and Boxoban-Medium need the boxoban level files that
BALROG's post-install downloads from GitHub; nothing installs them offline, so papertools
generates its own (``boxoban.py``, reverse play, solvable by construction) at first use, and
marks the two tasks as not comparable with BALROG's (``NOT_COMPARABLE``). Invalid outputs become
"north" (BALROG). Reference agent: a Boxoban level's own solution; nhrecord's symbolic agent on
the other tasks.
"""

from __future__ import annotations

import random

from . import nle as nle_env

BOXOBAN = ("MiniHack-Boxoban-Hard-v0", "MiniHack-Boxoban-Medium-v0")
NOT_COMPARABLE = BOXOBAN  # generated levels, not DeepMind's

GOALS = {
    "corridor": "Your goal is to explore the level and reach the stairs down.",
    "quest": "Your goal is to explore the level, fight monsters, and navigate rooms and mazes "
             "to reach the stairs down.",
    "mazewalk": "Your goal is to find your way through the maze to the stairs down.",
    "boxoban": "You are playing Boxoban, a box-pushing game like Sokoban. Your goal is to push "
               "the boulders onto the fountains. You push a boulder by walking into it, when "
               "nothing is behind it.",
}


class Native(nle_env.Native):
    """One MiniHack task as a gymnasium env (see the module docstring)."""

    def __init__(self, task: str = "MiniHack-MazeWalk-9x9-v0", seed: int | None = None,
                 max_steps: int | None = None, observation_keys=nle_env.NATIVE_KEYS,
                 skip_more: bool = False, **make_kwargs):
        self.level_index = 0
        super().__init__(task, seed, max_steps, observation_keys, skip_more, **make_kwargs)

    def _build(self, make_kwargs: dict):
        import importlib
        import warnings

        import gymnasium as gym

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("minihack")  # registers the MiniHack environments
            if self.task in BOXOBAN:
                from .boxoban import levels_dir

                boxohack = importlib.import_module("minihack.envs.boxohack")
                boxohack.LEVELS_PATH = str(levels_dir())
        kwargs = dict(observation_keys=self.observation_keys, penalty_step=-0.01,
                      penalty_time=0.0, penalty_mode="constant", autopickup=False, **make_kwargs)
        if self.task in BOXOBAN:  # no gym wrappers: BoxoHack's reset takes no seed
            module, name = gym.spec(self.task).entry_point.split(":")
            return getattr(importlib.import_module(module), name)(**kwargs)
        return gym.make(self.task, **kwargs)

    def _game_reset(self, seed: int):
        if self.task not in BOXOBAN:
            return super()._game_reset(seed)
        from papertools.core.nethack.env import seed_game

        # BoxoHack draws its level with Python's global random and its reset takes no seed
        random.seed(seed)
        self.level_index = random.Random(seed).randrange(len(self.env.unwrapped._levels))
        inner = self.env.unwrapped
        seed_game(inner, seed, seed ^ 0x5EED)
        if not hasattr(inner, "_goal_pos_set"):  # minihack 1.0.2 reads it before setting it
            inner._goal_pos_set = {(-1, -1)}
        obs, _ = inner.reset()
        return obs

    def step(self, action):
        obs, rewards, terminated, truncated, info = self._step(action)
        info = dict(info, success=any(reward >= 1.0 for reward in rewards))
        return self._copy(obs), float(sum(rewards)), bool(terminated), bool(truncated), info


class Env(nle_env.Env):
    """The text view over a :class:`Native` (``native``)."""

    name = "minihack"
    default_action = "north"
    max_steps = 100

    text_keys = tuple(k for k in nle_env.OBS_KEYS if k != "misc")  # MiniHack has no "misc"

    def __init__(self, task: str = "MiniHack-MazeWalk-9x9-v0", seed: int = 0,
                 max_steps: int | None = None, skip_more: bool = True):
        super().__init__(task=task, seed=seed, max_steps=max_steps, skip_more=skip_more)

    def _native(self, **make_kwargs):
        return Native(self.task, max_steps=self.max_steps + 1,
                      observation_keys=nle_env.with_keys(nle_env.NATIVE_KEYS, self.text_keys),
                      skip_more=self.skip_more, **make_kwargs)

    @property
    def level_index(self) -> int:
        """Boxoban: the level of the pool being played."""
        return self.native.level_index

    def bot(self):
        """Boxoban: the generated level's own solution; other tasks: nhrecord's symbolic agent
        (keys outside the task's action set become the default action)."""
        if self.task in BOXOBAN:
            from .boxoban import solution

            plan = solution("hard" if "Hard" in self.task else "medium", self.level_index)

            class _Plan:
                def act(self_inner) -> str:
                    return plan.pop(0) if plan else "north"

            return _Plan()
        inner = super().bot()
        env = self

        class _Mapped:
            def act(self_inner) -> str:
                word = inner.act()
                return word if env.check_action(word) else env.default_action

        return _Mapped()

    def _track(self, obs, message: str = "") -> None:
        pass  # success is read from the reward

    def _step(self, action):
        obs, reward, terminated, truncated, info = self.native.step(self._index(action))
        if info["success"]:
            self.progression = 1.0
        self.last_obs = obs
        return self._observation(obs), reward, terminated or truncated, {}

    @property
    def goal(self) -> str:
        """The task's goal sentence (a prompt template's ``{goal}``)."""
        lowered = self.task.lower()
        return next((text for key, text in GOALS.items() if key in lowered),
                    "Your goal is to get as far as possible in the game.")

    def instruction(self) -> str:
        goal = self.goal
        return (
            "You are an agent playing MiniHack. These are the actions you can take, each "
            f"followed by what it does:\n\n{self.action_list_text()}.\n\n"
            "Tip: repeating an action that changes nothing is pointless.\n\n"
            f"{goal}\n\nPLAY!")

    def stats(self):
        return {}
