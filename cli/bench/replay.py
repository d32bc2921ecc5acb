"""``bench replay``: an episode's step log as text, every field it shows checked first.

A step log is a JSONL file of step records (runner.py writes them). Replay reads "obs" and
"action" (strings, required), and when present "id" (a string), "step" (an integer), "reward"
and "progression" (numbers), "done" and "invalid" (booleans) and "candidate" (a string or
null). A field of the wrong type is an error naming the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from papertools.core.errors import PapertoolsError, field

# field -> (accepted types, required); None stands for JSON null
STEP_FIELDS = {"obs": (str, True), "action": (str, True), "id": (str, False),
               "step": (int, False), "reward": (float, False), "progression": (float, False),
               "done": (bool, False), "invalid": (bool, False),
               "candidate": ((str, type(None)), False)}


def episode_log(folder: Path, episode: str | None) -> Path:
    """The step log of ``episode`` (an id such as babyai/goto/0; None: the first) in a run folder."""
    from papertools.core.jsonl import read_records

    from .runner import EPISODES

    path = folder / EPISODES
    if not path.exists():
        raise PapertoolsError(f"{folder}: no {EPISODES} (not a bench run folder)")
    first = None
    for item in read_records([str(path)]):
        ident = field(item.record, "id", str, place=item.place)
        first = first or ident
        if episode is None or ident == episode:
            return folder / field(item.record, "steps_file", str, place=item.place)
    if first is None:
        raise PapertoolsError(f"{folder}: no finished episodes")
    raise PapertoolsError(f"{folder}: no episode {episode!r} (ids look like {first})")


def check_step(record: dict, place) -> dict:
    """The fields replay shows, type-checked (absent optional ones are None)."""
    out = {}
    for name, (kind, required) in STEP_FIELDS.items():
        if not required and name not in record:
            out[name] = None
            continue
        kinds = kind if isinstance(kind, tuple) else (kind,)
        value = record.get(name)
        if value is None and type(None) in kinds and name in record:
            out[name] = None
            continue
        out[name] = field(record, name, tuple(k for k in kinds if k is not type(None)),
                          place=place)
    return out


def replay_lines(path: str | Path, max_chars: int = 400, diagnostics=None) -> Iterator[str]:
    """The text of a step log, three or more lines per step: header, observation, action.

    A bad step raises, or with ``diagnostics`` (a core.errors.Diagnostics) is reported there and
    skipped when it says so."""
    from papertools.core.errors import InputError
    from papertools.core.jsonl import read_records

    for item in read_records([str(path)], diagnostics):
        try:
            r = check_step(item.record, item.place)
        except InputError as err:
            if diagnostics is None:
                raise
            diagnostics.bad(err)
            continue
        obs = r["obs"]
        if max_chars and len(obs) > max_chars:
            obs = obs[:max_chars] + " [...]"
        mark = f"  (invalid output {r['candidate']!r}: default)" if r["invalid"] else ""
        yield f"--- step {r['step']} ({r['id']})"
        yield obs
        yield (f">>> {r['action']}{mark}  reward={r['reward']} progression={r['progression']} "
               f"done={r['done']}")

