"""TextWorld: treasure hunter, the cooking game and coin collector, generated offline.

``Native`` is the gymnasium env: it observes ``{"text": Text}`` (the game's feedback, what the
text view shows, at most ``MAX_TEXT`` characters of ``CHARSET``); action ``i`` is the ``i``-th of
the current state's admissible commands (``action_words``, which change every step; indices past
the list wrap around), out of ``Discrete(max_commands)``; ``step_command`` plays any command. The
reward is the score's change; winning ends the episode (terminated), ``max_steps`` truncates.
The seed picks the game of the pool (below); a game itself has no randomness.

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
from .native import NativeEnv

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
MAX_TEXT = 65536
CHARSET = "\t\n" + "".join(chr(c) for c in range(32, 0x180))  # ASCII and Latin-1, extended-A


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


class Native(NativeEnv):
    """One task's pool of games as a gymnasium env (see the module docstring); ``env`` is the
    textworld env being played, ``state`` its last game state."""

    def __init__(self, task: str = "treasure_hunter", seed: int | None = None,
                 max_steps: int | None = None, games: int = 10, cache: str | None = None,
                 game: int | None = None, max_commands: int = 64):
        from gymnasium import spaces

        if task not in TASKS:
            raise ValueError(f"unknown textworld task {task!r}")
        super().__init__(seed)
        self.task = task
        self.max_steps = int(max_steps or 80)
        self.games = max(1, int(games))
        self.cache = Path(cache) if cache else None
        self.game = game  # which game of the pool; None: seed % games
        self.action_space = spaces.Discrete(int(max_commands))
        self.observation_space = spaces.Dict(
            {"text": spaces.Text(MAX_TEXT, min_length=0, charset=CHARSET)})
        self.env = None
        self.state = None
        self.objective = ""
        self.game_index = 0
        self.score = 0
        self.steps = 0

    dynamic_actions = True  # action_words change with the state; Discrete(max_commands) wraps

    @property
    def action_words(self) -> list[str]:
        """The admissible commands of the current state (action ``i`` plays the ``i``-th)."""
        if self.state is None:
            return ["look", "inventory"]
        return list(self.state["admissible_commands"] or ["look"])

    def _clean(self, feedback: str) -> dict:
        text = _STATUS.sub("", feedback or "")
        if self.objective and self.objective in text:
            text = text.split(self.objective)[-1]
        return {"text": text.strip()[:MAX_TEXT]}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        import textworld

        seed = self.episode_seed(seed)
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
        self.steps = 0
        return self._clean(self.state.feedback), {"seed": seed, "game": self.game_index}

    def step(self, action):
        words = self.action_words
        return self.step_command(words[int(action) % len(words)])

    def step_command(self, command: str):
        """Play any command (the parser answers): the gymnasium step tuple."""
        self.state, score, done = self.env.step(command)
        reward = score - self.score
        self.score = score
        self.steps += 1
        won = bool(self.state["won"])
        terminated = bool(done or won)
        truncated = self.steps >= self.max_steps and not terminated
        return self._clean(self.state.feedback), float(reward), terminated, truncated, {
            "score": score, "max_score": self.state["max_score"], "won": won}

    def close(self):
        if self.env is not None:
            self.env.close()
            self.env = None


class Env(BenchEnv):
    """The text view over a :class:`Native` (``native``): any command is an action."""


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
        self.native = Native(task, max_steps=self.max_steps, games=games, cache=cache, game=game)

    @property
    def actions(self) -> list[str]:
        return self.native.action_words

    @property
    def action_help(self):
        return {}

    # the game's state, read by the bot, the prompt and the stats
    state = property(lambda self: self.native.state)
    objective = property(lambda self: self.native.objective)
    score = property(lambda self: self.native.score)
    game_index = property(lambda self: self.native.game_index)
    games = property(lambda self: self.native.games)

    def _reset(self, seed):
        obs, _ = self.native.reset(seed=seed)
        return Observation(obs["text"])

    def _step(self, action):
        obs, reward, terminated, _, info = self.native.step_command(action)
        self.progression = progression(info["score"], info["max_score"], info["won"])
        return Observation(obs["text"]), reward, terminated, {}

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
        return {"game": self.game_index, "score": int(self.score),
                "max_score": int(state["max_score"] or 0) if self.state else 0,
                "won": bool(state["won"]) if self.state else False}

    def close(self):
        self.native.close()
