"""Prompts for the next action: each episode's diff history cut to a token budget.

Without ``all_steps`` an episode gives one prompt, when it ends (its last step's). With it,
every step gives one as it is read; each step's segment (its action and the diff to the next
observation) is made once per episode and shared by the prompts of all later steps.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from papertools.core import history

from .steps import Step, episodes


def prompts(steps: Iterable[Step], count: Callable[[str], int], *, all_steps: bool = False,
            instruction: str = history.INSTRUCTION, max_tokens: int | None = None,
            max_history: int | None = None, paper: bool = False) -> Iterator[dict]:
    """Prompt records (prompt's RECORDS) for a stream of steps; ``count`` counts tokens."""

    def record(obs, actions, last, pieces=None):
        text, kept, tokens = history.build_prompt(instruction, obs, actions, max_tokens, count,
                                                  max_history, paper, pieces)
        return {"id": f"{last.episode}:{last.step}", "episode": last.episode,
                "step": last.step, "prompt": text, "history": kept,
                "tokens": tokens if tokens is not None else count(text)}

    if all_steps:  # per episode: observations, actions and each step's segment, made once
        open_: dict[str, tuple[list, list, list]] = {}
        for step in steps:
            obs, actions, pieces = open_.setdefault(step.episode, ([], [], []))
            if obs:
                pieces.append(history.segment(actions[-1], history.obs_diff(
                    obs[-1], step.obs, paper)))
            obs.append(step.obs)
            yield record(obs, actions, step, pieces)
            actions.append(step.action or "")
            if step.done:
                del open_[step.episode]
    else:
        for episode in episodes(steps):
            yield record([s.obs for s in episode], [s.action or "" for s in episode[:-1]],
                         episode[-1])
