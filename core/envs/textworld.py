"""TextWorld: treasure hunter, the cooking game and coin collector, generated offline.

BALROG downloads a zip of games from Google Drive; here textworld's own generator (the
``tw-treasure_hunter``, ``tw-cooking`` and ``tw-coin_collector`` challenges, what ``tw-make``
runs) builds each game at first use and compiles it with the Inform 7 compiler textworld ships,
into a cache folder (``$PAPERTOOLS_CACHE/bench/textworld``, default ``~/.cache/papertools``),
under a file lock so parallel workers build a game once. Each task has a pool of ``games``
games (default 10); an episode plays game ``game % games`` (bench run passes the
episode's number, as BALROG cycles through its games; else ``seed % games``), whose generator seed is fixed, so
every machine builds the same games. Settings (ours; BALROG's zip does not say): treasure
hunter level 15 (of 30), cooking --recipe 3 --take 2 --go 6 --open --cook --cut, coin
collector level 15. Scores are therefore comparable in kind, not game for game, with BALROG's.

Any command is a valid action (the parser answers), as in BALROG; ``actions`` lists the
admissible commands of the current state (what the random agent samples from). Invalid model
outputs (empty) become "help". Progression: max(score / max_score, 1.0 if won else 0.0).
The reference agent (``bot``) follows textworld's policy commands (the generator's plan).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
from pathlib import Path

from .base import BenchEnv, Observation

TASKS = {
    # task: (challenge, generator arguments, BALROG's step budget in its prompt)
    "treasure_hunter": ("tw-treasure_hunter", ["--level", "15"]),
    "the_cooking_game": ("tw-cooking", ["--recipe", "3", "--take", "2", "--go", "6", "--open",
                                        "--cook", "--cut"]),
    "coin_collector": ("tw-coin_collector", ["--level", "15"]),
}
GOALS = {
    "treasure_hunter": "You are in a randomly generated maze and must find a specific object, "
                       "exploring rooms, opening doors and containers, and unlocking them with "
                       "the matching key.",
    "the_cooking_game": "Find the recipe (examine the cookbook), find and prepare the "
                        "ingredients as it says (slice, dice or chop with a knife; grill with "
                        "the BBQ, fry with the stove, roast with the oven), then 'prepare meal' "
                        "in the kitchen and 'eat meal'.",
    "coin_collector": "You are in a randomly generated maze and must find the coin: go through "
                      "the exits and 'take coin' when you see it.",
}
COMMANDS = ("look: describe the current room\ngoal: print the goal of this game\n"
            "inventory: print your inventory\ngo <dir>: move north, east, south or west, where "
            "there is an exit or a door\nexamine ...: examine something closely\neat ...: eat "
            "edible food\nopen ...: open a door or a container\nclose ...: close it\ndrop ...: "
            "drop an object\ntake ...: take an object that is visible\nput ... on ...: place an "
            "object on a supporter\ntake ... from ...: take an object from a container or a "
            "supporter\ninsert ... into ...: place an object into a container\nlock ... with "
            "...: lock a door or container with a key\nunlock ... with ...: unlock a door or "
            "container with a key\ncook ... with ...: cook food with a heat source\nslice / "
            "chop / dice ... with ...: cut food with something sharp\nprepare meal: combine "
            "ingredients into a meal (in the kitchen)")
_STATUS = re.compile(r"\n?>[^\n]*$")


def progression(score: float, max_score: float, won: bool) -> float:
    """BALROG's TextWorld progression: max(score / max_score, 1.0 if won else 0.0)."""
    return max(score / (max_score or 1), 1.0 if won else 0.0)


def cache_dir() -> Path:
    from papertools.core.cache import cache_dir as root

    return root("bench", "textworld")


def game_path(task: str, index: int, folder: Path | None = None) -> Path:
    """The compiled game for (task, index), generated and cached on first use."""
    import textworld
    from textworld.challenges import CHALLENGES
    from textworld.generator import compile_game

    folder = Path(folder or cache_dir()) / task
    target = folder / f"game_{index:03d}.z8"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        challenge, argv = TASKS[task]
        parser = argparse.ArgumentParser()
        CHALLENGES[challenge][2](parser)  # the challenge's own tw-make arguments and defaults
        settings = vars(parser.parse_args(argv))
        options = textworld.GameOptions()
        options.seeds = 7919 * (list(TASKS).index(task) + 1) + index
        tmp = folder / f".tmp_{os.getpid()}_{index:03d}"
        tmp.mkdir(exist_ok=True)
        options.path = str(tmp / target.name)
        options.file_ext = ".z8"
        options.force_recompile = True
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            game = CHALLENGES[challenge][1](settings, options=options)
            built = compile_game(game, options)
        for suffix in (".json", ".ni"):  # keep the game's metadata next to it
            side = Path(built).with_suffix(suffix)
            if side.exists():
                os.replace(side, target.with_suffix(suffix))
        os.replace(built, target)
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    return target


class Env(BenchEnv):
    name = "textworld"
    default_action = "help"
    max_steps = 80
    free_text_actions = True

    def __init__(self, task: str = "treasure_hunter", seed: int = 0, max_steps: int | None = None,
                 games: int = 10, cache: str | None = None, game: int | None = None):
        if task not in TASKS:
            raise ValueError(f"unknown textworld task {task!r}")
        super().__init__(seed, max_steps)
        self.task = task
        self.games = max(1, int(games))
        self.cache = Path(cache) if cache else None
        self.env = None
        self.state = None
        self.objective = ""
        self.game_index = 0
        self.game = game  # which game of the pool; None: seed % games

    @property
    def actions(self) -> list[str]:
        if self.state is None:
            return ["look", "inventory"]
        return list(self.state["admissible_commands"] or ["look"])

    @property
    def action_help(self):
        return {}

    def _clean(self, feedback: str) -> str:
        text = _STATUS.sub("", feedback or "")
        if self.objective and self.objective in text:
            text = text.split(self.objective)[-1]
        return text.strip()

    def _reset(self, seed):
        import textworld

        self.game_index = (self.game if self.game is not None else seed) % self.games
        path = game_path(self.task, self.game_index, self.cache)
        infos = textworld.EnvInfos(objective=True, description=True, score=True, max_score=True,
                                   won=True, lost=True, admissible_commands=True, inventory=True,
                                   policy_commands=True)
        if self.env is not None:
            self.env.close()
        self.env = textworld.start(str(path), request_infos=infos)
        self.state = self.env.reset()
        self.objective = self.state["objective"] or ""
        self.score = 0
        return Observation(self._clean(self.state.feedback))

    def _step(self, action):
        self.state, score, done = self.env.step(action)
        reward = score - self.score
        self.score = score
        won = bool(self.state["won"])
        self.progression = progression(score, self.state["max_score"], won)
        return Observation(self._clean(self.state.feedback)), reward, done or won, {}

    def instruction(self) -> str:
        return (
            "You are an agent playing TextWorld, a text-based adventure game. "
            f"{GOALS[self.task]}\n\nYour objective: {self.objective}\n\n"
            f"Here are the commands you can use:\n{COMMANDS}\n\n"
            f"You have {self.max_steps} steps to complete the task. Restarting is forbidden."
            "\n\nPLAY!")

    def bot(self):
        """The game's own plan (textworld's policy_commands: the shortest winning commands from
        the current state) as a reference agent."""
        env = self

        class _Walkthrough:
            def act(self_inner) -> str:
                plan = (env.state["policy_commands"] if env.state else None) or ["look"]
                return plan[0]

        return _Walkthrough()

    def stats(self):
        state = self.state or {}
        return {"game": self.game_index, "score": int(getattr(self, "score", 0)),
                "max_score": int(state["max_score"] or 0) if self.state else 0,
                "won": bool(state["won"]) if self.state else False}

    def close(self):
        if self.env is not None:
            self.env.close()
            self.env = None
