"""The environment registry: BALROG's six game families (and minigrid's levels), each a native
gymnasium env with a text view over it.

    from papertools.core.envs import make_env, make_text_env, make_vec_env, ENVS
    env = make_env("babyai/GoToLocal", seed=0)   # gymnasium.Env: native observation, Discrete
    obs, info = env.reset(); obs, reward, terminated, truncated, info = env.step(2)
    text = make_text_env("babyai/goto", seed=0)  # what LLM agents play (bench)
    obs = text.reset(); obs, reward, done, info = text.step(text.actions[0])
    envs = make_vec_env("minigrid/DoorKey-5x5", 8, seed=0)  # gymnasium's vector env

Importing this module imports no game; the factories import the one they build. Task names are
BALROG's (config.yaml); BabyAI also takes BALROG's long form ``BabyAI-MixedTrainLocal-v0/goto``
and minigrid's BabyAI levels (``babyai/GoToLocal``); ``minigrid/<Name>`` is ``MiniGrid-<Name>-v0``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from papertools.core.errors import PapertoolsError

from .base import BenchEnv, Observation, TextEnv, normalize


@dataclass(frozen=True)
class EnvSpec:
    name: str
    module: str  # papertools.core.envs.<module>: ``Native`` (gymnasium) and ``Env`` (text)
    tasks: tuple  # BALROG's task list (the default suite)
    episodes: int  # BALROG's default episodes per task
    summary: str
    extra_tasks: tuple = ()  # accepted but not in the default suite
    note: str = ""
    task_id: str = "{task}"  # the task name the module's classes take
    suite: bool = True  # part of BALROG's suite ("all")
    bot: bool = True  # the text view's ``bot()`` plays it (when the module has one)

    def module_task(self, task: str) -> str:
        return self.task_id.format(task=task)


BABAISAI_TASKS = (
    "env/make_win-distr_obj_rule", "env/goto_win-distr_obj_rule", "env/goto_win",
    "env/goto_win-distr_obj", "env/goto_win-distr_rule", "env/goto_win-distr_obj-irrelevant_rule",
    "env/make_win-distr_obj", "env/make_win-distr_rule", "env/make_win",
    "env/make_win-distr_obj-irrelevant_rule", "env/two_room-goto_win",
    "env/two_room-goto_win-distr_obj_rule", "env/two_room-goto_win-distr_rule",
    "env/two_room-goto_win-distr_obj", "env/two_room-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-goto_win-distr_win_rule", "env/two_room-break_stop-goto_win-distr_obj_rule",
    "env/two_room-break_stop-goto_win-distr_obj", "env/two_room-break_stop-goto_win-distr_rule",
    "env/two_room-break_stop-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-break_stop-goto_win", "env/two_room-maybe_break_stop-goto_win-distr_obj_rule",
    "env/two_room-maybe_break_stop-goto_win", "env/two_room-maybe_break_stop-goto_win-distr_obj",
    "env/two_room-maybe_break_stop-goto_win-distr_rule",
    "env/two_room-maybe_break_stop-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-make_win-distr_obj_rule", "env/two_room-make_win-distr_rule",
    "env/two_room-make_win", "env/two_room-make_win-distr_obj-irrelevant_rule",
    "env/two_room-make_win-distr_obj", "env/two_room-make_win-distr_win_rule",
    "env/two_room-break_stop-make_win-distr_obj_rule", "env/two_room-break_stop-make_win-distr_rule",
    "env/two_room-break_stop-make_win", "env/two_room-break_stop-make_win-distr_obj-irrelevant_rule",
    "env/two_room-break_stop-make_win-distr_obj", "env/two_room-make_you",
    "env/two_room-make_you-make_win", "env/two_room-make_wall_win",
)

# minigrid's BabyAI levels the BabyAI bot solves (gymnasium id BabyAI-<Level>-v0)
BABYAI_LEVELS = (
    "GoToRedBallGrey", "GoToRedBall", "GoToLocal", "GoToObj", "GoTo", "PickupLoc", "Pickup",
    "PutNextLocal", "Open", "UnlockLocal", "Unlock", "UnlockPickup", "KeyCorridorS3R1",
    "KeyCorridorS3R3", "SynthLoc", "Synth", "BossLevel",
)
# minigrid's own levels (gymnasium id MiniGrid-<Name>-v0)
MINIGRID_LEVELS = (
    "Empty-5x5", "Empty-Random-5x5", "Empty-8x8", "DoorKey-5x5", "DoorKey-6x6", "DoorKey-8x8",
    "KeyCorridorS3R1", "Unlock", "FourRooms", "LavaGapS5", "MultiRoom-N2-S4", "MultiRoom-N4-S5",
)

ENVS: dict[str, EnvSpec] = {
    "babyai": EnvSpec(
        "babyai", "babyai", ("goto", "pickup", "open", "putnext", "pick_up_seq_go_to"), 10,
        "BabyAI MixedTrainLocal task families with BabyAI-text descriptions (minigrid).",
        extra_tasks=BABYAI_LEVELS),
    "crafter": EnvSpec(
        "crafter", "crafter", ("default",), 10,
        "Crafter: text of the 9x7 view, status and inventory; progression = achievements/22."),
    "textworld": EnvSpec(
        "textworld", "textworld", ("treasure_hunter", "the_cooking_game", "coin_collector"), 10,
        "TextWorld games made offline by textworld's own generator (cached at first use).",
        note="games from textworld's generator with papertools' settings"),
    "babaisai": EnvSpec(
        "babaisai", "babaisai", BABAISAI_TASKS, 3,
        "Baba Is AI: rules as pushable word blocks (X IS Y), papertools' own implementation.",
        note="levels from papertools' generator, not baba-is-ai's"),
    "minihack": EnvSpec(
        "minihack", "minihack",
        ("MiniHack-Boxoban-Hard-v0", "MiniHack-Boxoban-Medium-v0", "MiniHack-MazeWalk-9x9-v0",
         "MiniHack-MazeWalk-15x15-v0", "MiniHack-Corridor-R3-v0",
         "MiniHack-CorridorBattle-Dark-v0", "MiniHack-Quest-Easy-v0", "MiniHack-Quest-Medium-v0"),
        5, "MiniHack: BALROG's 8 tasks; NetHack text rendering; Boxoban levels generated "
           "offline.",
        extra_tasks=("MiniHack-Room-5x5-v0", "MiniHack-Corridor-R2-v0"),
        note="the 2 Boxoban tasks play generated levels, not DeepMind's"),
    "nle": EnvSpec(
        "nle", "nle", ("NetHackChallenge-v0",), 5,
        "NetHack (NLE NetHackChallenge): shared text rendering plus the map; BALROG's "
        "milestone progression.",
        # NLE's own tasks (core.envs.nle.NLE_TASKS[1:], written out so that listing the
        # registry imports no game), each with NLE's reward function
        extra_tasks=("NetHackScore-v0", "NetHackStaircase-v0", "NetHackStaircasePet-v0",
                     "NetHackOracle-v0", "NetHackGold-v0", "NetHackEat-v0", "NetHackScout-v0")),
    "minigrid": EnvSpec(
        "minigrid", "babyai", MINIGRID_LEVELS, 10,
        "MiniGrid's own levels (MiniGrid-<Name>-v0) with BabyAI-text descriptions; no bot.",
        task_id="MiniGrid-{task}-v0", suite=False, bot=False),
    "lift": EnvSpec(
        "lift", "lift", ("any", "objects", "names", "colours", "categories", "preferences",
                         "ordinal"), 10,
        "Lift rooms (relabel): a BabyAI room of several objects; the first lift ends the "
        "episode, judged by the instruction's family.",
        suite=False),
}

ALIASES = {"babyai": {**{f"BabyAI-MixedTrainLocal-v0/{t}": t for t in ENVS["babyai"].tasks},
                      **{f"BabyAI-{level}-v0": level for level in BABYAI_LEVELS}},
           "minigrid": {f"MiniGrid-{level}-v0": level for level in MINIGRID_LEVELS},
           "babaisai": {t.removeprefix("env/"): t for t in BABAISAI_TASKS}}


def env_names() -> list[str]:
    return list(ENVS)


def resolve_task(name: str, task: str | None = None) -> tuple[str, str]:
    """(env, task) from ``"env"``, ``"env/task"`` or (env, task); errors name the choices."""
    if task is None and "/" in name:
        name, task = name.split("/", 1)
    spec = ENVS.get(name)
    if spec is None:
        raise PapertoolsError(f"unknown environment {name!r} (choose from {', '.join(ENVS)})")
    if task is None:
        task = spec.tasks[0]
    task = ALIASES.get(name, {}).get(task, task)
    if task not in spec.tasks and task not in spec.extra_tasks:
        shown = ", ".join(spec.tasks[:8]) + (", ..." if len(spec.tasks) > 8 else "")
        raise PapertoolsError(f"unknown {name} task {task!r} (choose from {shown}; "
                              f"'papertools bench envs' lists them all)")
    return name, task


def _module(name: str):
    return importlib.import_module(f"{__name__}.{ENVS[name].module}")


def make_env(name: str, seed: int | None = None, task: str | None = None, **options):
    """The family's native gymnasium env (``Native``): its own observation, Discrete actions
    (``action_words`` names them), seeded through ``reset(seed=)``; ``seed`` serves the first
    ``reset()`` that gives none."""
    name, task = resolve_task(name, task)
    native = getattr(_module(name), "Native", None)
    if native is None:
        raise PapertoolsError(f"{name} has no native environment yet (make_text_env plays it)")
    return native(task=ENVS[name].module_task(task), seed=seed, **options)


def make_text_env(name: str, seed: int = 0, task: str | None = None, **options) -> TextEnv:
    """The text view LLM agents play (bench); ``reset()`` starts the episode for ``seed``; its
    ``native_obs`` is the native observation behind the latest text."""
    name, task = resolve_task(name, task)
    env = _module(name).Env(task=ENVS[name].module_task(task), seed=seed, **options)
    return env.watch_native()


def make_vec_env(name: str, n: int, seed: int = 0, asynchronous: bool = False,
                 task: str | None = None, **options):
    """``n`` native envs as one gymnasium vector env; env i plays seed + i (its first reset, and
    every ``reset(seed=seed)``). ``asynchronous``: one process per env, forked where the platform
    can: a fork starts in milliseconds and needs no ``if __name__ == "__main__"`` guard in the
    calling script (spawn re-imports the script, so an unguarded one fails); the children only
    step games, never the parent's torch threads, so forking a parent that runs torch is safe.
    Observations come back through pipes: gymnasium reads a Text field (BabyAI's mission) out of
    shared memory once, at construction, so with shared memory every mission read back blank."""
    import functools
    import multiprocessing

    import gymnasium

    name, task = resolve_task(name, task)
    factories = [functools.partial(make_env, name, seed=seed + i, task=task, **options)
                 for i in range(int(n))]
    if asynchronous:
        context = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return gymnasium.vector.AsyncVectorEnv(factories, context=context, shared_memory=False)
    return gymnasium.vector.SyncVectorEnv(factories)


def parse_env_list(text: str) -> list[tuple[str, str]]:
    """``"babyai,nle"`` or ``"babyai/goto,crafter"`` or ``"all"`` -> [(env, task), ...]."""
    pairs: list[tuple[str, str]] = []
    parts: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "all":
            parts.extend(name for name, spec in ENVS.items() if spec.suite)
        elif "/" not in part and "-" in part and all(p in ENVS for p in part.split("-")):
            parts.extend(part.split("-"))  # BALROG's spelling: babyai-crafter-nle
        elif part:
            parts.append(part)
    for part in parts:
        if "/" in part:
            pairs.append(resolve_task(part))
        else:
            if part not in ENVS:
                resolve_task(part)  # raises with the choices
            pairs.extend((part, task) for task in ENVS[part].tasks)
    if not pairs:
        raise PapertoolsError("no environment given")
    return pairs


__all__ = ["BenchEnv", "ENVS", "EnvSpec", "Observation", "TextEnv", "env_names", "make_env",
           "make_text_env", "make_vec_env", "normalize", "parse_env_list", "resolve_task"]
