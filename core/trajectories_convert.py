"""Converters into trajectory datasets (core/trajectories.py): nhrecord's recorded NetHack games
and bench's run folders.

``from_nhrecord(dataset_dir, out_dir)``: one episode per finished game, one step per *agent*
keypress. Observations are NLE's ``tty_chars`` [24, 80] uint8, ``tty_colors`` [24, 80] int8 and
``tty_cursor`` [2] int16 of the screen the agent saw (the ttyrec row of its key); the final
observation is the screen of the first row after the last agent key (NLE's own end-of-game
keys), or the last agent screen again when the ttyrec holds no such row. The action is the
index into ``nle.nethack.ACTIONS`` (NetHackChallenge's full keyboard) of the keypress: the
first index with that key value, since three keys appear twice in NLE's table (34, 36, 43;
the same key whichever index, so the game is replayed identically). NLE's own keys (the
spaces at reset before the agent's first key, ``--More--`` and the quit sequence after its
last) are not steps; an agent key with no action in the table (none in games nhrecord records,
whose agent can only choose actions) is an :class:`InputError` naming the ttyrec. Rewards are
the change in the game's score from one screen to the next (NetHackChallenge's reward).
Per-step label ``strategy``: the vocabulary is the strategy names by ``ordinal + 1`` (index 0
is ``error``, 1 ``explore``, ..., as in core.nethack.strategies' ``NUM_CLASSES`` class ids).

``from_bench_run(run_dir, out_dir, env=None)``: one episode per finished episode of the run.
The text observation is stored as its UTF-8 bytes, ``obs/text`` uint8 [T+1, L] zero-padded to
the episode's longest (``"shape": [null]``; :func:`~papertools.core.trajectories.decode_text`
reads a row back), rather than as a label vocabulary, which would hold nearly one entry per
step. The step logs hold the observation before each action, not the one after the last, so
the final row is empty. The action is the index into the environment's action words
(``dataset.json`` ``action_words``); for free-text games (TextWorld) the words are those the
run used, in order of first use.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson

from papertools.core.errors import InputError, PapertoolsError
from papertools.core.jsonl import read_records
from papertools.core.trajectories import TrajectoryWriter, encode_text

NETHACK_ENV = "nle/NetHackChallenge-v0"
TTY_ROWS = 256  # ttyrec rows read per minibatch


def strategy_vocabulary() -> list[str]:
    """Strategy names by ``ordinal + 1`` (``error`` first)."""
    from papertools.core.nethack import strategies

    return [strategies.name(i - 1) for i in range(strategies.NUM_CLASSES)]


def nethack_meta(description: dict) -> dict:
    """``dataset.json`` of a converted nhrecord dataset (``description``: its nhrecord.json)."""
    from nle import nethack

    return {"env": NETHACK_ENV, "source": {"kind": "nhrecord", "dataset": description},
            "observation": {"tty_chars": {"dtype": "uint8", "shape": [24, 80]},
                            "tty_colors": {"dtype": "int8", "shape": [24, 80]},
                            "tty_cursor": {"dtype": "int16", "shape": [2]}},
            "labels": {"strategy": strategy_vocabulary()},
            "actions": {"table": "nle.nethack.ACTIONS",
                        "keys": [int(a) for a in nethack.ACTIONS],
                        "names": [f"{type(a).__name__}.{a.name}" for a in nethack.ACTIONS]}}


def from_nhrecord(dataset_dir, out_dir, *, resume: bool = False, on_bad=None,
                  dbfilename=None, on_episode=None) -> int:
    """Convert an nhrecord dataset folder; returns the episodes written (the rest were there
    with ``resume``). A damaged game raises an :class:`InputError` naming its file, or with
    ``on_bad`` is passed to it and left out. ``on_episode(record)`` after each episode."""
    import sqlite3

    from nle import nethack

    from papertools.core.nethack.dataset import MARKER, ensure_db, problems

    root = Path(dataset_dir)
    marker = root / MARKER
    try:
        description = orjson.loads(marker.read_bytes())
    except FileNotFoundError:
        raise InputError(f"not an nhrecord dataset (no {MARKER})", str(root)) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"unreadable dataset description: {exc}", str(marker)) from None
    dbfile = ensure_db(root, dbfilename)
    for err in problems(root, dbfile).values():
        if on_bad is None:
            raise err
        on_bad(err)
    with sqlite3.connect(f"file:{dbfile}?mode=ro", uri=True) as conn:
        games = list(conn.execute("SELECT gameid, folder FROM nhrecord_games ORDER BY game"))
    key_to_action: dict[int, int] = {}
    for i, a in enumerate(nethack.ACTIONS):
        key_to_action.setdefault(int(a), i)
    written = 0
    with TrajectoryWriter(out_dir, nethack_meta(description), resume=resume) as out:
        for gameid, folder in games:
            summary = orjson.loads((root / folder / "game.json").read_bytes())
            rid = summary.get("episode") or folder
            if rid in out.done_ids:
                continue
            rows = _game_rows(root, dbfile, gameid)
            arrays = _nethack_arrays(rows, key_to_action, summary,
                                     str(root / folder / summary["files"]["ttyrec"]))
            end = summary["end"]
            record = {"id": rid, "env": NETHACK_ENV, "seed": summary["seed"],
                      "success": None, "game": summary["game"], "agent": summary["agent"],
                      "role": summary["role"], "character": summary.get("character"),
                      "score": summary["score"], "max_depth": summary["max_depth"],
                      "turns": summary["turns"], "end": end, "death": summary.get("death")}
            record = out.add(record, arrays)
            written += 1
            if on_episode:
                on_episode(record)
    return written


def _game_rows(root: Path, dbfile: str, gameid: int) -> dict[str, np.ndarray]:
    """Every ttyrec row of one game, NLE's arrays and the sidecar's joined, concatenated."""
    from papertools.core.nethack.dataset import StrategyDataset

    ds = StrategyDataset(root, batch_size=1, seq_length=TTY_ROWS, gameids=[gameid],
                         dbfilename=dbfile)
    names = ("tty_chars", "tty_colors", "tty_cursor", "keypresses", "scores", "strategies",
             "agent_keys")
    parts: dict[str, list] = {n: [] for n in names}
    for mb in ds:
        keep = mb["gameids"][0] == gameid
        for n in names:
            parts[n].append(mb[n][0][keep])
    return {n: np.concatenate(v) for n, v in parts.items()}


def _nethack_arrays(rows: dict, key_to_action: dict, summary: dict, ttyrec: str) -> dict:
    agent = np.flatnonzero(rows["agent_keys"])
    steps = len(agent)
    if steps != summary["steps"]:
        raise InputError(f"the ttyrec holds {steps} agent keys, game.json says "
                         f"{summary['steps']} steps", ttyrec)
    if steps and not np.array_equal(agent, np.arange(agent[0], agent[0] + steps)):
        raise InputError("the agent's keys are not consecutive in the ttyrec", ttyrec)
    last = int(agent[-1]) + 1 if steps else 0
    final = last if last < len(rows["keypresses"]) else max(last - 1, 0)
    screens = np.append(agent, final).astype(np.int64)
    actions = np.empty(steps, np.int64)
    for t, row in enumerate(agent):
        key = int(rows["keypresses"][row])
        if key not in key_to_action:
            raise InputError(f"agent key {key} at row {row} is no NetHackChallenge action",
                             ttyrec)
        actions[t] = key_to_action[key]
    scores = rows["scores"][screens].astype(np.float32)
    dones = np.zeros(steps, bool)
    truncated = np.zeros(steps, bool)
    if steps:
        if summary["end"] in ("max_steps", "no_progress", "aborted"):
            truncated[-1] = True
        else:
            dones[-1] = True
    return {"obs/tty_chars": rows["tty_chars"][screens],
            "obs/tty_colors": rows["tty_colors"][screens],
            "obs/tty_cursor": rows["tty_cursor"][screens],
            "actions": actions, "rewards": np.diff(scores), "dones": dones,
            "truncated": truncated, "label/strategy": rows["strategies"][agent] + 1}


# -- bench run folders ------------------------------------------------------------------------
TEXT_OBSERVATION = {"text": {"dtype": "uint8", "shape": [None], "encoding": "utf-8"}}
EPISODE_FIELDS = ("task", "agent", "model", "progression", "end", "steps_file")


def from_bench_run(run_dir, out_dir, env: str | None = None, *, resume: bool = False,
                   on_episode=None) -> int:
    """Convert a bench run folder's step logs; ``env`` picks a family or ``family/task`` when
    the run has several (needed then). Returns the episodes written. An episode's ``success``
    is a progression of 1; the last step is ``truncated`` when the episode record's ``end`` is
    ``truncated`` (the step budget), else ``dones``."""
    root = Path(run_dir)
    episodes_path = root / "episodes.jsonl"
    if not episodes_path.is_file():
        raise InputError("not a bench run folder (no episodes.jsonl)", str(root))
    chosen = []
    for item in read_records([str(episodes_path)]):
        rec = item.record
        for name in ("id", "env", "task", "steps_file"):
            if not isinstance(rec.get(name), str):
                raise InputError("missing field" if name not in rec else "expected a string",
                                 item.place.file, item.place.line, name)
        if env is None or env in (rec["env"], f"{rec['env']}/{rec['task']}"):
            chosen.append((item, rec))
    families = sorted({rec["env"] for _, rec in chosen})
    if not chosen:
        raise PapertoolsError(f"{root} holds no episodes" + (f" of {env}" if env else ""))
    if len(families) > 1:
        raise PapertoolsError(f"{root} holds episodes of {', '.join(families)}: choose one "
                              "with env=")
    tasks = list(dict.fromkeys(rec["task"] for _, rec in chosen))
    family = families[0]
    words, free_text = _action_words(family, tasks)
    logs = [(item, rec, _read_steps(root, item, rec)) for item, rec in chosen]
    if free_text:
        words = list(dict.fromkeys(s["action"] for _, _, steps in logs for s in steps))
    index = {w: i for i, w in enumerate(words)}
    config = orjson.loads((root / "run.json").read_bytes()).get("results_key") \
        if (root / "run.json").is_file() else None
    meta = {"env": f"{family}/{tasks[0]}" if len(tasks) == 1 else family,
            "source": {"kind": "bench", "config": config},
            "observation": TEXT_OBSERVATION, "labels": {}, "action_words": words}
    written = 0
    with TrajectoryWriter(out_dir, meta, resume=resume) as out:
        for item, rec, steps in logs:
            if rec["id"] in out.done_ids:
                continue
            log = str(root / rec["steps_file"])
            actions = np.empty(len(steps), np.int64)
            for t, s in enumerate(steps):
                if s["action"] not in index:
                    raise InputError(f"action {s['action']!r} is none of {family}'s action "
                                     "words", log, s["_line"], "action")
                actions[t] = index[s["action"]]
            terminated = rec.get("end") not in ("truncated", "max_steps")
            dones = np.zeros(len(steps), bool)
            truncated = np.zeros(len(steps), bool)
            if steps:
                (dones if terminated else truncated)[-1] = True
            arrays = {"obs/text": encode_text([s["obs"] for s in steps] + [""]),
                      "actions": actions,
                      "rewards": np.array([s["reward"] for s in steps], np.float32),
                      "dones": dones, "truncated": truncated}
            record = {"id": rec["id"], "env": f"{family}/{rec['task']}", "seed": rec.get("seed"),
                      "success": rec.get("progression") == 1.0,
                      **{k: rec[k] for k in EPISODE_FIELDS if k in rec}}
            if steps and isinstance(steps[0].get("mission"), str):
                record["mission"] = steps[0]["mission"]
            record = out.add(record, arrays)
            written += 1
            if on_episode:
                on_episode(record)
    return written


def _action_words(family: str, tasks: list[str]) -> tuple[list[str], bool]:
    """The environment's action words (the same for every task, else an error) and whether
    its actions are free text."""
    from papertools.core.envs import make_text_env

    found: dict[tuple, list[str]] = {}
    free = False
    for task in tasks:
        game = make_text_env(family, seed=0, task=task)
        try:
            words = list(game.native.action_words) if game.native is not None else game.actions
            free = free or bool(getattr(game, "free_text_actions", False))
            found.setdefault(tuple(words), []).append(task)
        finally:
            game.close()
    if len(found) > 1 and not free:
        groups = "; ".join(", ".join(t) for t in found.values())
        raise PapertoolsError(f"the {family} tasks have different action words ({groups}): "
                              "convert one task at a time (env=FAMILY/TASK)")
    return list(next(iter(found))), free


def _read_steps(root: Path, item, rec: dict) -> list[dict]:
    """One episode's step records, checked (step numbers in order, obs/action/reward)."""
    path = root / rec["steps_file"]
    if not path.is_file():
        raise InputError(f"missing step log {rec['steps_file']}", item.place.file,
                         item.place.line, "steps_file")
    steps = []
    for s in read_records([os.fspath(path)]):
        r = s.record
        for name, kinds in (("obs", str), ("action", str), ("reward", (int, float)),
                            ("step", int)):
            if not isinstance(r.get(name), kinds) or isinstance(r.get(name), bool):
                raise InputError("missing field" if name not in r else "wrong type",
                                 s.place.file, s.place.line, name)
        if r["step"] != len(steps):
            raise InputError(f"step {r['step']} where step {len(steps)} was expected",
                             s.place.file, s.place.line, "step")
        steps.append({**r, "_line": s.place.line})
    return steps


__all__ = ["from_bench_run", "from_nhrecord", "nethack_meta", "strategy_vocabulary"]
