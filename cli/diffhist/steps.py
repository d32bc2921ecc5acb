"""Step records in, per-episode order checked: the reading side shared by every diffhist command.

A step record (ARCHITECTURE.md) has ``episode`` (a string), ``step`` (an integer), ``obs`` (a
string) or, once encoded, ``obs_diff`` and ``obs_full``, and ``action`` (a word, or null on a last
step). Episodes may interleave in one stream; within an episode step numbers must increase (gaps
are allowed: a stream written with ``--on-error skip`` may lack a bad step, and diffs are always
against the previous step present). An episode ends at a step with ``done: true`` (or at the
end of the input). After a diff that does not apply, the rest of its episode cannot be decoded:
each later step says so, until the episode starts again with a whole observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from papertools.core.diff import DiffError
from papertools.core.errors import Diagnostics, InputError, Place, field
from papertools.core.jsonl import Item

from papertools.core.history import Decoder


@dataclass
class Step:
    item: Item
    episode: str
    step: int
    obs: str
    action: str | None
    done: bool


class StepReader:
    """Checks order and restores ``obs`` (decoding diffs when the stream is encoded)."""

    def __init__(self, paper: bool = False):
        self.last_step: dict[str, int] = {}
        self.broken: dict[str, Place] = {}  # episode -> where its decoding failed
        self.decoder = Decoder(paper)

    def read(self, item: Item, *, need_obs: bool = True) -> Step:
        record, place = item.record, item.place
        episode = field(record, "episode", str, place=place)
        step = field(record, "step", int, place=place)
        if isinstance(step, bool):
            raise InputError("expected an integer", place.file, place.line, "step")
        last = self.last_step.get(episode)
        if last is not None and step <= last:
            raise InputError(f"episode {episode!r}: step {step} out of order (after step {last})",
                             place.file, place.line, "step")
        action = field(record, "action", str, place=place, required=False)
        done = bool(record.get("done", False))
        obs = ""
        if need_obs:
            obs = self._obs(record, place, episode, first=last is None)
        if done:
            self.last_step.pop(episode, None)
            self.decoder.end(episode)
        else:
            self.last_step[episode] = step
        return Step(item, episode, step, obs, action, done)

    def _obs(self, record: dict, place: Place, episode: str, first: bool) -> str:
        if "obs" in record:
            return field(record, "obs", str, place=place)
        if "obs_diff" not in record:
            raise InputError("missing field (a step needs 'obs', or 'obs_diff' and 'obs_full')",
                             place.file, place.line, "obs")
        diff = field(record, "obs_diff", str, place=place)
        full = field(record, "obs_full", bool, place=place)
        if first and not full:
            raise InputError(f"episode {episode!r} starts with a diff (obs_full false): its "
                             "first step is missing", place.file, place.line, "obs_full")
        broken = self.broken.get(episode)
        if broken is not None and not full:
            raise InputError(f"episode {episode!r}: cannot decode after the diff at {broken} "
                             "that did not apply", place.file, place.line, "obs_diff")
        try:
            obs = self.decoder.decode(episode, diff, full)
        except DiffError as err:
            self.broken[episode] = place
            raise InputError(f"does not apply to the episode's previous observation: {err}",
                             place.file, place.line, "obs_diff") from None
        self.broken.pop(episode, None)
        return obs


def read_steps(items: Iterable[Item], diag: Diagnostics, paper: bool = False,
               need_obs: bool = True) -> Iterator[Step]:
    reader = StepReader(paper)
    for item in items:
        try:
            yield reader.read(item, need_obs=need_obs)
        except InputError as err:
            diag.bad(err)


def episodes(steps: Iterable[Step]) -> Iterator[list[Step]]:
    """Whole episodes, each as soon as it ends (``done``), the rest at the end of the input."""
    open_: dict[str, list[Step]] = {}
    for step in steps:
        open_.setdefault(step.episode, []).append(step)
        if step.done:
            yield open_.pop(step.episode)
    yield from open_.values()
