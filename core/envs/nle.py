"""NetHack (NLE): the native env of NLE's tasks (``Native``) and its text view (``Env``), with
BALROG's milestone progression.

``Native(task)`` is one of NLE's tasks (``NLE_TASKS``: NetHackChallenge-v0, BALROG's, and NLE's
Score, Staircase, StaircasePet, Oracle, Gold, Eat and Scout, each with its own reward function),
built by ``gym.make`` and seeded through ``core.nethack.env`` (``seed_game(game_seeds(seed))``
before every reset, the one seeded factory), so a seed replays the same game. It observes NLE's
dict with ``NATIVE_KEYS`` (glyphs, chars, colors, specials, blstats, message, tty_chars,
tty_colors, tty_cursor; copies, since NLE reuses its arrays); its actions are NLE's, named by
``action_words`` (the words of ``core.nethack.text``); ``max_steps`` is the task's own limit
(truncated). ``skip_more=True`` answers "--More--" prompts inside a step (rewards summed, the
pages' messages joined in ``message``); off by default, as in NLE.

Text (BALROG's "hybrid" observation, rendered by ``papertools.core.nethack.text``): the statistics,
glyphs, message and cursor blocks plus the 21 map rows as the long-term context, the inventory
block as short-term context (shown with the current observation only). Actions: every NLE
action, by its word in ``core.nethack`` ("north", "far east", "eat", "more", "esc"); invalid
outputs become "esc" (BALROG). "--More--" prompts are answered automatically (BALROG's
AutoMore), their messages joined. BALROG's limits: 100,000 steps, and 150 steps without a change
of the map, the statistics or the message end the episode ("no progress").

Progression (BALROG's progress.py): the largest value of the milestones reached so far, where
the milestones are dungeon levels (``Dlvl:N``, blstats depth), experience levels (``Xp:N``), the
planes and the ascension, and each value is BALROG's probability that a human game reaching it
wins (``nle_achievements.py``). It never decreases within an episode and resets with ``reset``.
The reference agent (``bot``) is nhrecord's symbolic agent (``papertools.core.nethack.agent``).
"""

from __future__ import annotations

import re

from .base import BenchEnv, Observation
from .native import NativeEnv
from .nle_achievements import ACHIEVEMENTS

NLE_TASKS = ("NetHackChallenge-v0", "NetHackScore-v0", "NetHackStaircase-v0",
             "NetHackStaircasePet-v0", "NetHackOracle-v0", "NetHackGold-v0", "NetHackEat-v0",
             "NetHackScout-v0")
NATIVE_KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "tty_chars",
               "tty_colors", "tty_cursor")

OBS_KEYS = ("glyphs", "blstats", "tty_chars", "tty_cursor", "inv_strs", "inv_letters", "chars",
            "message", "misc", "inv_oclasses")  # the last three: nhrecord's symbolic agent


def with_keys(*groups) -> tuple:
    """The observation keys of several groups, each once, in order."""
    return tuple(dict.fromkeys(key for group in groups for key in group))
HELP = {
    "north": "move north", "east": "move east", "south": "move south", "west": "move west",
    "northeast": "move northeast", "southeast": "move southeast",
    "southwest": "move southwest", "northwest": "move northwest",
    "far north": "move far north", "far east": "move far east", "far south": "move far south",
    "far west": "move far west", "far northeast": "move far northeast",
    "far southeast": "move far southeast", "far southwest": "move far southwest",
    "far northwest": "move far northwest", "up": "go up the stairs",
    "down": "go down the stairs", "wait": "rest one move while doing nothing",
    "more": "display more of the message", "esc": "exit a menu or a prompt",
    "apply": "apply (use) a tool", "close": "close an adjacent door",
    "open": "open an adjacent door", "eat": "eat something", "force": "force a lock",
    "kick": "kick an enemy or a locked door or chest", "loot": "loot a box on the floor",
    "pickup": "pick up things at the current location", "pray": "pray to the gods for help",
    "puton": "put on an accessory", "quaff": "quaff (drink) something",
    "search": "search for hidden doors and passages", "zap": "zap a wand",
    "wear": "wear a piece of armor", "wield": "wield a weapon", "throw": "throw something",
    "fire": "fire ammunition from the quiver", "read": "read a scroll or spellbook",
    "drop": "drop an item", "takeoff": "take off one piece of armor",
    "inventory": "show your inventory", "look": "look at what is here",
    "cast": "cast a spell", "engrave": "engrave writing on the floor",
}
_HOME = re.compile(r"Home (\d)")


def milestones(depth: int, level: int, bottom: str = "", message: str = "") -> list[str]:
    """The milestone keys an observation shows: ``Dlvl:depth``, ``Xp:level``, planes, ascension."""
    found = [f"Dlvl:{depth}", f"Xp:{level}"]
    home = _HOME.search(bottom)
    if home:
        found.append(f"Home {home.group(1)}")
    if "Astral Plane" in bottom:
        found.append("Astral Plane")
    if "You ascend" in message:
        found.append("You ascend t")
    return found


def milestone_value(keys) -> float:
    return max((ACHIEVEMENTS.get(k, 0.0) for k in keys), default=0.0)


def progression_from_blstats(blstats, previous: float = 0.0) -> float:
    """BALROG's progression after one more observation (monotone: max with ``previous``)."""
    from nle import nethack

    depth = int(blstats[nethack.NLE_BL_DEPTH])
    level = int(blstats[nethack.NLE_BL_XP])
    return max(previous, milestone_value(milestones(depth, level)))


class Native(NativeEnv):
    """One of NLE's tasks as a gymnasium env (see the module docstring). ``env`` is the NLE env
    being played; ``message`` the last step's message when ``skip_more`` is on."""

    def __init__(self, task: str = "NetHackChallenge-v0", seed: int | None = None,
                 max_steps: int | None = None, observation_keys=NATIVE_KEYS,
                 skip_more: bool = False, **make_kwargs):
        from gymnasium import spaces

        from papertools.core.nethack.text import action_word

        super().__init__(seed)
        self.task = task
        self.skip_more = bool(skip_more)
        self.observation_keys = tuple(observation_keys)
        if max_steps:
            make_kwargs["max_episode_steps"] = int(max_steps)
        self.env = self._build(make_kwargs)
        inner = self.env.unwrapped
        self.max_steps = int(inner._max_episode_steps)
        self.action_words = [action_word(action) for action in inner.actions]
        self.action_space = spaces.Discrete(len(self.action_words))
        self.observation_space = spaces.Dict(
            {key: self.env.observation_space[key] for key in self.observation_keys})
        self.more = self.action_words.index("more") if "more" in self.action_words else None
        self.message = ""

    def _build(self, make_kwargs: dict):
        import importlib

        import gymnasium as gym

        importlib.import_module("nle")  # registers the NetHack environments
        return gym.make(self.task, observation_keys=self.observation_keys, **make_kwargs)

    def _game_reset(self, seed: int):
        # reset(seed=) alone seeds only gymnasium's np_random, not NetHack's own generators
        from papertools.core.nethack.env import game_seeds, seed_game

        seed_game(self.env, *game_seeds(seed))
        obs, _ = self.env.reset(seed=seed % (2 ** 63))
        return obs

    def _pages(self, obs, terminated: bool = False, truncated: bool = False):
        """Answer "--More--" prompts (BALROG's AutoMore) when ``skip_more`` is on: the last
        observation, the rewards, whether it ended, NLE's last info, the joined message."""
        from papertools.core.nethack.text import describe_message

        rewards, info, messages = [], {}, []
        for _ in range(20):
            message = describe_message(obs["tty_chars"])
            if not (self.skip_more and self.more is not None and "--More--" in message) \
                    or terminated or truncated:
                messages.append(message)
                break
            messages.append(message.replace("--More--", "").strip())
            obs, reward, terminated, truncated, info = self.env.step(self.more)
            rewards.append(reward)
        return obs, rewards, terminated, truncated, info, " ".join(m for m in messages if m)

    def _copy(self, obs) -> dict:
        return {key: obs[key].copy() for key in self.observation_keys}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        seed = self.episode_seed(seed)
        obs = self._game_reset(seed)
        self.message = ""
        if self.skip_more:
            obs, _, _, _, _, self.message = self._pages(obs)
        return self._copy(obs), {"seed": seed}

    def _step(self, action):
        """One step and its "--More--" pages: (obs, rewards, terminated, truncated, info)."""
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        rewards = [reward]
        if self.skip_more:
            obs, more, terminated, truncated, more_info, self.message = \
                self._pages(obs, terminated, truncated)
            rewards += more
            info = more_info or info
        return obs, rewards, terminated, truncated, info

    def step(self, action):
        obs, rewards, terminated, truncated, info = self._step(action)
        return self._copy(obs), float(sum(rewards)), bool(terminated), bool(truncated), info

    def close(self):
        if self.env is not None:
            self.env.close()
            self.env = None


class Env(BenchEnv):
    """The text view over a :class:`Native` (``native``) that also observes the inventory."""


    name = "nle"
    default_action = "esc"
    max_steps = 100_000
    no_progress_timeout = 150
    text_keys = OBS_KEYS  # what the text and the symbolic agent read

    def __init__(self, task: str = "NetHackChallenge-v0", seed: int = 0,
                 max_steps: int | None = None, skip_more: bool = True, **make_kwargs):
        super().__init__(seed, max_steps)
        self.task = task
        self.skip_more = skip_more
        self.native = self._native(**make_kwargs)
        self._words = None
        self._last = None
        self._idle = 0
        self.reached: set[str] = set()
        self.last_obs = None

    def _native(self, **make_kwargs):
        return Native(self.task, observation_keys=with_keys(NATIVE_KEYS, self.text_keys),
                      skip_more=self.skip_more, **make_kwargs)

    @property
    def env(self):
        """The NLE env being played (the native env's)."""
        return self.native.env

    @env.setter
    def env(self, value):
        self.native.env = value

    @property
    def action_help(self):
        if self._words is None:
            words = {}
            for index, word in enumerate(self.native.action_words):
                words.setdefault(word, index)
            self._words = words
        return {word: HELP.get(word, word) for word in self._words}

    def _index(self, word: str) -> int:
        self.action_help  # noqa: B018 - builds the table
        return self._words[word]

    # -- episode -------------------------------------------------------------------------------
    def _observation(self, obs) -> Observation:
        from papertools.core.nethack.text import map_text, render_blocks

        blocks = render_blocks(obs)
        text = "\n".join(f"{name}[\n{blocks[name]}\n]"
                         for name in ("statistics", "glyphs", "message", "cursor"))
        text += f"\nmap[\n{map_text(obs)}\n]"
        return Observation(text, short=f"inventory[\n{blocks['inventory']}\n]",
                           extra={"obs_blocks": blocks})

    def _track(self, obs, message: str = "") -> None:
        from nle import nethack

        blstats = obs["blstats"]
        bottom = bytes(obs["tty_chars"][-1]).decode("latin-1")
        keys = milestones(int(blstats[nethack.NLE_BL_DEPTH]), int(blstats[nethack.NLE_BL_XP]),
                          bottom, message)
        self.reached.update(k for k in keys if k in ACHIEVEMENTS)
        self.progression = max(self.progression, milestone_value(keys))

    def _reset(self, seed):
        obs, _ = self.native.reset(seed=seed)
        self.reached = set()
        self._idle = 0
        self._last = None
        self._track(obs)
        self.last_obs = obs
        return self._observation(obs)

    def _message(self, obs) -> str:
        from papertools.core.nethack.text import describe_message

        return self.native.message if self.skip_more else describe_message(obs["tty_chars"])

    def _step(self, action):
        obs, reward, terminated, truncated, _ = self.native.step(self._index(action))
        done = terminated or truncated
        self._track(obs, self._message(obs))
        self.last_obs = obs
        state = (bytes(obs["tty_chars"].tobytes()), bytes(obs["blstats"].tobytes()))
        self._idle = self._idle + 1 if state == self._last else 0
        self._last = state
        stalled = self._idle >= self.no_progress_timeout
        return self._observation(obs), reward, done or stalled, {
            "end_reason": "no progress" if stalled and not done else ""}

    def bot(self):
        """nhrecord's symbolic agent (seeded from the episode seed) as a reference agent."""
        from papertools.core.nethack.agent import SymbolicAgent
        from papertools.core.nethack.text import action_word
        from papertools.core.seed import numpy_rng

        agent = SymbolicAgent(numpy_rng(self.seed, 7))
        words = {}
        for action in self.env.unwrapped.actions:
            words.setdefault(int(action), action_word(action))
        env = self

        class _Symbolic:
            def act(self_inner) -> str:
                return words.get(int(agent.act(env.last_obs)), "esc")

        return _Symbolic()

    def instruction(self) -> str:
        return (
            "You are an agent playing NetHack. These are the actions you can take, each "
            f"followed by what it does:\n\n{self.action_list_text()}.\n\n"
            "Tips:\n- When the message asks for a choice, answer it or 'esc'.\n- When the "
            "message has --More--, 'more' shows the rest.\n- You attack monsters by moving into "
            "them; going down the stairs ('down' on >) reaches deeper levels.\n- Repeating an "
            "action that changes nothing is pointless.\n\nYour goal is to get as far as possible "
            "in the game: deeper dungeon levels and higher experience levels.\n\nPLAY!")

    def stats(self):
        from nle import nethack

        if self.last_obs is None:
            return {}
        b = self.last_obs["blstats"]
        return {"depth": int(b[nethack.NLE_BL_DEPTH]), "xl": int(b[nethack.NLE_BL_XP]),
                "gold": int(b[nethack.NLE_BL_GOLD]), "score": int(b[nethack.NLE_BL_SCORE]),
                "milestones": sorted(self.reached)}

    def close(self):
        self.native.close()
