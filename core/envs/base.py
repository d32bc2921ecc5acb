"""The text view every bench game implements (and hrl, relabel, pretrain reuse).

A text env adapts a family's native gymnasium env (``native``, built by ``make_env``) for language
models: ``reset`` and ``step`` return an :class:`Observation` whose ``text``
is what a language model sees (``short`` is the short-term context, NetHack's inventory, shown with
the current observation only). Actions are words (``"go forward"``, ``"Move West"``, ``"north"``);
``actions`` lists the valid ones, ``default_action`` is what an invalid output is mapped to, and
``progression`` is BALROG's per-episode score in [0, 1], reset by ``reset``.

    env = make_text_env("babyai/goto", seed=3)
    obs = env.reset()
    obs, reward, done, info = env.step("go forward")
    env.progression, env.actions, env.instruction()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Observation:
    text: str  # long-term context: what the model sees every step
    short: str = ""  # short-term context: shown with the current observation only (inventory)
    image: object = None  # an RGB numpy array for VLM mode, when the game has pictures
    extra: dict = field(default_factory=dict)  # tool-specific step fields (mission, obs_blocks)

    def full(self) -> str:
        return f"{self.text}\n\n{self.short}" if self.short else self.text


_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case and whitespace do not matter when matching an action word."""
    return _SPACE.sub(" ", text.strip()).lower()


class TextEnv:
    """Base class: subclasses set ``name``, ``task``, ``action_help`` (word -> description),
    ``default_action``, ``max_steps`` and ``native`` (the gymnasium env they adapt, whose
    ``action_words`` hold these words) and implement ``_reset`` and ``_step``."""

    name = "base"
    task = ""
    default_action = ""
    max_steps = 100
    free_text_actions = False  # TextWorld: any command is valid (the parser answers)
    action_help: dict = {}
    native = None  # the family's gymnasium env this view adapts
    native_obs = None  # the native env's latest observation (kept once watch_native() ran)

    def __init__(self, seed: int = 0, max_steps: int | None = None):
        self.seed = int(seed)
        if max_steps:
            self.max_steps = int(max_steps)
        self.progression = 0.0
        self.steps = 0
        self._lookup = None

    # -- the API -------------------------------------------------------------------------------
    @property
    def actions(self) -> list[str]:
        return list(self.action_help)

    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self.seed = int(seed)
        self.progression = 0.0
        self.steps = 0
        return self._reset(self.seed)

    def step(self, action: str) -> tuple[Observation, float, bool, dict]:
        """Take a valid action word; ``done`` is true when the game ended or the step limit hit."""
        word = self.check_action(action)
        if word is None:
            raise ValueError(f"{self.name}: not a valid action: {action!r}")
        self.steps += 1
        obs, reward, terminated, info = self._step(word)
        truncated = self.steps >= self.max_steps and not terminated
        info = dict(info, terminated=bool(terminated), truncated=bool(truncated))
        return obs, float(reward), bool(terminated or truncated), info

    def check_action(self, text: str | None) -> str | None:
        """The canonical action word for ``text`` (case and spacing ignored), else None."""
        if text is None:
            return None
        if self.free_text_actions:
            text = text.strip()
            return text or None
        if self._lookup is None:
            self._lookup = {normalize(word): word for word in self.actions}
        return self._lookup.get(normalize(text))

    def instruction(self) -> str:
        """The instruction (system) prompt, with the valid-action list."""
        raise NotImplementedError

    def action_list_text(self) -> str:
        return ",\n".join(f"{word}: {help}" for word, help in self.action_help.items())

    def stats(self) -> dict:
        """Environment-specific end-of-episode fields for the episode record."""
        return {}

    def close(self) -> None:
        pass

    def watch_native(self) -> "TextEnv":
        """Keep the native env's latest observation in ``native_obs`` (make_text_env does this),
        for what reads arrays beside the text: a trained policy in bench, bench collect."""
        native = self.native
        if native is None or getattr(native, "_watched", False):
            return self
        reset, step = native.reset, native.step

        def watched_reset(*args, **kwargs):
            obs, info = reset(*args, **kwargs)
            self.native_obs = obs
            return obs, info

        def watched_step(action):
            result = step(action)
            self.native_obs = result[0]
            return result

        native.reset, native.step, native._watched = watched_reset, watched_step, True
        return self

    # -- for subclasses ------------------------------------------------------------------------
    def _reset(self, seed: int) -> Observation:
        raise NotImplementedError

    def _step(self, action: str) -> tuple[Observation, float, bool, dict]:
        raise NotImplementedError


BenchEnv = TextEnv  # the name before the native layer
