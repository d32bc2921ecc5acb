"""The environment registry: BALROG's six game families as text environments.

    from papertools.core.envs import make_env, ENVS, parse_env_list
    env = make_env("babyai/goto", seed=0)     # or make_env("babyai", task="goto", seed=0)
    obs = env.reset(); obs, reward, done, info = env.step(env.actions[0])

Importing this module imports no game; ``make_env`` imports the one it builds. Task names are
BALROG's (config.yaml); BabyAI also takes BALROG's long form ``BabyAI-MixedTrainLocal-v0/goto``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from papertools.core.errors import PapertoolsError

from .base import BenchEnv, Observation, normalize


@dataclass(frozen=True)
class EnvSpec:
    name: str
    module: str  # papertools.core.envs.<module>, class ``Env``
    tasks: tuple  # BALROG's task list (the default suite)
    episodes: int  # BALROG's default episodes per task
    summary: str
    extra_tasks: tuple = ()  # accepted but not in the default suite
    note: str = ""


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

ENVS: dict[str, EnvSpec] = {
    "babyai": EnvSpec(
        "babyai", "babyai", ("goto", "pickup", "open", "putnext", "pick_up_seq_go_to"), 10,
        "BabyAI MixedTrainLocal task families with BabyAI-text descriptions (minigrid)."),
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
        "milestone progression."),
}

ALIASES = {"babyai": {f"BabyAI-MixedTrainLocal-v0/{t}": t for t in ENVS["babyai"].tasks},
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


def make_env(name: str, seed: int = 0, task: str | None = None, **kwargs) -> BenchEnv:
    """Build one environment; ``reset()`` then starts the episode for ``seed``."""
    name, task = resolve_task(name, task)
    module = importlib.import_module(f"{__name__}.{ENVS[name].module}")
    return module.Env(task=task, seed=seed, **kwargs)


def parse_env_list(text: str) -> list[tuple[str, str]]:
    """``"babyai,nle"`` or ``"babyai/goto,crafter"`` or ``"all"`` -> [(env, task), ...]."""
    pairs: list[tuple[str, str]] = []
    parts: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "all":
            parts.extend(ENVS)
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


__all__ = ["BenchEnv", "ENVS", "EnvSpec", "Observation", "env_names", "make_env", "normalize",
           "parse_env_list", "resolve_task"]
