"""Trajectory datasets: one folder format for demonstrations, relabelled data and rollouts.

    from papertools.core.trajectories import TrajectoryWriter, TrajectoryDataset
    with TrajectoryWriter("demos", {"env": "babyai/GoToLocal", "observation": {
            "image": {"dtype": "uint8", "shape": [7, 7, 3]}}, "labels": {}}) as out:
        out.add({"id": "ep-0", "seed": 0, "success": True}, {"obs/image": ..., "actions": ...})
    ds = TrajectoryDataset("demos")
    train, valid = ds.split(0.1, seed=0)
    for batch in ds.batches(train, seq_len=64, batch_size=32, seed=0): ...

The folder (ARCHITECTURE.md, "Trajectory datasets"):

- ``dataset.json``: ``{"format": "papertools-trajectories", "version": 1, "env", "observation":
  {key: {"dtype", "shape"}}, "labels": {name: [string, ...]}, ...}``, written first; a ``null``
  in a shape is a length that differs between episodes (text as UTF-8 bytes);
- ``episodes/<id>.npz`` (compressed, one per episode; the id percent-quoted into a file name):
  ``obs/<key>`` [T+1, ...] (the observation after the last action included), ``actions`` [T]
  int64, ``rewards`` [T] float32, ``dones`` [T] bool (terminated), ``truncated`` [T] bool,
  ``label/<name>`` [T] int32 (an index into the vocabulary, -1 for no label);
- ``episodes.jsonl``: one record per episode (``id``, ``env``, ``seed``, ``length``, ``return``,
  ``success``, ``file`` and episode labels such as ``mission``), appended after its npz is in
  place, with one write and an fsync.

So a reader at any moment sees whole episodes: every listed record has its file, and a torn last
line (a writer killed mid-append, or one still writing) is not read. On resume the writer cuts
that line, and an npz whose record never made it is written again.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

import numpy as np
import orjson

from papertools.core.errors import InputError, PapertoolsError, Place
from papertools.core.jsonl import atomic_path, dumps, loads, parse_line, write_json
from papertools.core.locks import LOCK, lock_folder

FORMAT = "papertools-trajectories"
VERSION = 1
META = "dataset.json"
EPISODES = "episodes.jsonl"
FOLDER = "episodes"
NO_LABEL = -1
# the per-step arrays besides observations and labels: name -> dtype
STEP_ARRAYS = {"actions": np.int64, "rewards": np.float32, "dones": np.bool_,
               "truncated": np.bool_}
_SHUFFLE_KEY = 0x7472616A  # "traj": the batches' own random stream under a seed
_ID = re.compile(r"[^.\s][^\n\r]*")


def episode_file(episode_id: str) -> str:
    """``episodes/<id>.npz`` with the id percent-quoted (``babyai/goto/0`` ->
    ``babyai%2Fgoto%2F0``): one file per id, never a sub-folder or a hidden file."""
    return f"{FOLDER}/{quote(episode_id, safe='')}.npz"


def _canonical(obj):
    """``obj`` as it reads back from JSON (tuples as lists, numpy scalars as numbers)."""
    return orjson.loads(dumps(obj))


def _differing(have: dict, want: dict) -> list[str]:
    return sorted(k for k in {*have, *want} if have.get(k) != want.get(k))


def _check_meta(meta: dict) -> dict:
    meta = _canonical({"format": FORMAT, "version": VERSION, "labels": {}, **meta})
    if not isinstance(meta.get("env"), str):
        raise PapertoolsError("trajectory dataset meta: 'env' must be a string")
    observation = meta.get("observation")
    if not isinstance(observation, dict) or not observation:
        raise PapertoolsError("trajectory dataset meta: 'observation' must map keys to "
                              "{'dtype', 'shape'}")
    for key, spec in observation.items():
        try:
            np.dtype(spec["dtype"])
            shape = spec["shape"]
            ok = isinstance(shape, list) and all(d is None or (isinstance(d, int) and d >= 0)
                                                 for d in shape)
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise PapertoolsError(f"trajectory dataset meta: observation {key!r} needs a dtype "
                                  "and a shape (a list of sizes, null for a varying one)")
    labels = meta["labels"]
    if not isinstance(labels, dict) or not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in labels.values()):
        raise PapertoolsError("trajectory dataset meta: 'labels' must map names to lists of "
                              "strings")
    return meta


class TrajectoryWriter:
    """Writes a trajectory dataset folder one episode at a time (a context manager).

    Without ``resume`` the folder must be new or empty. With it, the folder's ``dataset.json``
    must equal ``meta`` (the differing keys are named), a torn last record line is cut, and
    :attr:`done_ids` holds the episodes already there. One writer per folder (an fcntl lock)."""

    def __init__(self, out_dir, meta: dict, resume: bool = False):
        self.path = Path(out_dir)
        self.meta = _check_meta(meta)
        self._fd = None
        if self.path.exists() and not self.path.is_dir():
            raise PapertoolsError("exists and is not a folder", str(self.path))
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PapertoolsError(f"cannot create the folder: {exc.strerror or exc}",
                                  str(self.path)) from None
        self._lock()
        try:
            self._open(resume)
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        self._fd = lock_folder(self.path)

    def _open(self, resume: bool) -> None:
        meta_path = self.path / META
        others = [p.name for p in self.path.iterdir() if p.name != LOCK]
        if meta_path.exists():
            have = _read_meta(meta_path)
            if not resume:
                raise PapertoolsError(f"{self.path} already holds a trajectory dataset: resume "
                                      "it (--resume) or choose another folder")
            keys = _differing(have, self.meta)
            if keys:
                raise PapertoolsError(f"{self.path} holds a dataset with other settings "
                                      f"({', '.join(keys)}); resuming needs the same ones")
        elif others:
            raise PapertoolsError(f"{self.path} is not empty and holds no {META}: choose a new "
                                  "or empty folder")
        else:
            write_json(meta_path, self.meta)
        (self.path / FOLDER).mkdir(exist_ok=True)
        for tmp in (self.path / FOLDER).glob(".*.tmp"):  # a killed writer's temporary files
            tmp.unlink()
        self.done_ids: set[str] = set(self._cut_torn_tail())
        self.count = len(self.done_ids)

    def _cut_torn_tail(self) -> list[str]:
        """Ids of the whole records; a last line without its newline or unreadable is cut."""
        path = self.path / EPISODES
        if not path.exists():
            return []
        data = path.read_bytes()
        ids, good, lineno = [], 0, 0
        for line in data.splitlines(keepends=True):
            lineno += 1
            complete = line.endswith(b"\n")
            try:
                rid = loads(line)["id"]
            except (ValueError, KeyError, TypeError):
                if complete and good + len(line) < len(data):  # damage mid-file is not a crash
                    raise InputError("not an episode record", str(path), lineno) from None
                break
            if not complete:
                break
            ids.append(rid)
            good += len(line)
        if good != len(data):
            with open(path, "r+b") as fh:
                fh.truncate(good)
        return ids

    def add(self, record: dict, arrays: dict) -> dict:
        """Write one episode: its npz (atomically), then its record line; returns the record.

        ``record`` needs ``id``; ``env`` (the dataset's), ``seed`` and ``success`` (None),
        ``length`` and ``return`` (the sum of rewards) are filled in when missing, ``file`` always.
        ``arrays``: ``obs/<key>`` for every observation key, ``actions``, ``rewards``,
        ``dones``, optional ``truncated``, and ``label/<name>`` for every label vocabulary."""
        if self._fd is None:
            raise PapertoolsError("the trajectory writer is closed")
        rid = record.get("id")
        if not isinstance(rid, str) or not _ID.fullmatch(rid):
            raise PapertoolsError(f"an episode id must be a non-empty string not starting with "
                                  f"'.' or a space, got {rid!r}")
        if rid in self.done_ids:
            raise PapertoolsError(f"episode {rid!r} is already in {self.path}")
        arrays = self._check_arrays(rid, arrays)
        length = len(arrays["actions"])
        if record.get("length", length) != length:
            raise PapertoolsError(f"episode {rid!r}: record length {record['length']} but "
                                  f"{length} actions")
        record = {"id": rid, "env": self.meta["env"], "seed": None, "length": length,
                  "return": float(arrays["rewards"].sum(dtype=np.float64)), "success": None,
                  **record, "file": episode_file(rid)}
        line = dumps(record)
        with atomic_path(self.path / record["file"]) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        fd = os.open(self.path / EPISODES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.done_ids.add(rid)
        self.count += 1
        return loads(line)

    def _check_arrays(self, rid: str, arrays: dict) -> dict:
        def bad(message):
            return PapertoolsError(f"episode {rid!r}: {message}")

        obs_keys = {f"obs/{k}": v for k, v in self.meta["observation"].items()}
        label_keys = {f"label/{k}": v for k, v in self.meta["labels"].items()}
        unknown = sorted(set(arrays) - set(obs_keys) - set(label_keys) - set(STEP_ARRAYS))
        if unknown:
            raise bad(f"arrays not in the dataset's description: {', '.join(unknown)}")
        for name in ("actions", "rewards", "dones", *obs_keys, *label_keys):
            if name not in arrays:
                raise bad(f"missing array {name!r}")
        out = {}
        actions = np.asarray(arrays["actions"])
        if actions.ndim != 1 or not (actions.dtype.kind in "iu" or actions.size == 0):
            raise bad(f"actions must be a 1-d integer array, got {actions.dtype} "
                      f"{actions.shape}")
        steps = len(actions)
        for name, dtype in STEP_ARRAYS.items():
            value = np.asarray(arrays.get(name, np.zeros(steps, dtype)))
            if value.shape != (steps,):
                raise bad(f"{name} has shape {value.shape}, expected ({steps},)")
            if value.dtype.kind == "f" and np.dtype(dtype).kind in "iub":
                raise bad(f"{name} must not be floating point")
            out[name] = value.astype(dtype)
        for name, spec in obs_keys.items():
            value = np.asarray(arrays[name])
            dtype, shape = np.dtype(spec["dtype"]), spec["shape"]
            if value.ndim != 1 + len(shape) or value.shape[0] != steps + 1 or any(
                    d is not None and d != s for d, s in zip(shape, value.shape[1:])):
                want = ", ".join(str(d) if d is not None else "*" for d in [steps + 1, *shape])
                raise bad(f"{name} has shape {value.shape}, expected ({want}) (T+1 "
                          f"observations for T={steps} actions)")
            if value.dtype != dtype and not np.can_cast(value.dtype, dtype, "same_kind"):
                raise bad(f"{name} has dtype {value.dtype}, the dataset's is {dtype}")
            out[name] = value.astype(dtype, copy=False)
        for name, vocab in label_keys.items():
            value = np.asarray(arrays[name])
            if value.shape != (steps,) or (value.dtype.kind not in "iu" and value.size):
                raise bad(f"{name} must be {steps} integers, got {value.dtype} {value.shape}")
            if value.size and (value.min() < NO_LABEL or value.max() >= len(vocab)):
                raise bad(f"{name} holds a value outside -1..{len(vocab) - 1}")
            out[name] = value.astype(np.int32)
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_meta(path: Path) -> dict:
    try:
        meta = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"not a trajectory dataset (no {META})", str(path.parent)) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"unreadable dataset description: {exc}", str(path)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"not a trajectory dataset description (format is not {FORMAT!r})",
                         str(path), field="format")
    if meta.get("version") != VERSION:
        raise InputError(f"version {meta.get('version')!r}; this papertools reads version "
                         f"{VERSION}", str(path), field="version")
    try:
        return _check_meta(meta)
    except PapertoolsError as err:
        raise InputError(err.message, str(path)) from None


class TrajectoryDataset:
    """Reads a trajectory dataset folder (also one still being written: the whole episodes so
    far; :meth:`reload` sees newer ones). ``cache_size``: episodes :meth:`load` keeps."""

    def __init__(self, path, cache_size: int = 8):
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError("no such trajectory dataset folder", str(path))
        self.meta = _read_meta(self.path / META)
        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()
        self.reload()

    def reload(self) -> None:
        """Read ``episodes.jsonl`` again (a torn last line, being written, is left out)."""
        path = self.path / EPISODES
        name = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", name) from None
        episodes, where = [], {}
        lines = data.split(b"\n")[:-1]  # the part after the last newline is not whole yet
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            place = Place(name, lineno)
            record = parse_line(raw, place)
            for field, kinds in (("id", str), ("length", int), ("file", str)):
                value = record.get(field)
                if not isinstance(value, kinds) or isinstance(value, bool):
                    raise InputError("missing field" if value is None else
                                     "wrong type", name, lineno, field)
            if record["length"] < 0:
                raise InputError("negative length", name, lineno, "length")
            if record["id"] in where:
                raise InputError(f"episode id {record['id']!r} repeats (first at line "
                                 f"{where[record['id']]})", name, lineno, "id")
            where[record["id"]] = lineno
            episodes.append(record)
        self.episodes: list[dict] = episodes
        self._by_id = {r["id"]: r for r in episodes}
        self._lines = where

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.episodes]

    def __len__(self) -> int:
        return len(self.episodes)

    def record(self, episode_id: str) -> dict:
        try:
            return self._by_id[episode_id]
        except KeyError:
            raise PapertoolsError(f"no episode {episode_id!r} in {self.path}") from None

    def load(self, episode_id: str, keys: Iterable[str] | None = None) -> dict:
        """The episode's arrays (``obs/<key>``, ``actions``, ...); ``keys`` limits the
        observation keys read. Checked against its record: a missing or damaged file, or
        arrays of the wrong length, are an :class:`InputError` naming the file."""
        keys = None if keys is None else tuple(keys)
        cached = self._cache.get((episode_id, keys))
        if cached is not None:
            self._cache.move_to_end((episode_id, keys))
            return cached
        record = self.record(episode_id)
        file = self.path / record["file"]
        name = str(file)
        steps = record["length"]
        wanted = None if keys is None else {f"obs/{k}" for k in keys}
        arrays = {}
        try:
            with np.load(file, allow_pickle=False) as npz:
                for member in npz.files:
                    if member.startswith("obs/") and wanted is not None and member not in wanted:
                        continue
                    arrays[member] = npz[member]
        except FileNotFoundError:
            raise InputError(f"missing episode file (listed at line "
                             f"{self._lines[episode_id]} of {EPISODES})", name) from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"unreadable episode file: {exc}", name) from None
        for member in ("actions", "rewards", "dones",
                       *(f"obs/{k}" for k in (keys or self.meta["observation"])),
                       *(f"label/{k}" for k in self.meta["labels"])):
            if member not in arrays:
                raise InputError(f"no array {member!r}", name)
        for member, value in arrays.items():
            want = steps + 1 if member.startswith("obs/") else steps
            if value.ndim == 0 or len(value) != want:
                raise InputError(f"{member} has {len(value) if value.ndim else 0} rows; its "
                                 f"record (line {self._lines[episode_id]} of {EPISODES}) "
                                 f"says length {steps}, so {want} were expected", name)
        arrays.setdefault("truncated", np.zeros(steps, bool))
        if self.cache_size > 0:
            self._cache[(episode_id, keys)] = arrays
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return arrays

    def split(self, valid_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
        """(train ids, valid ids), split by episode, never by step: ``round(fraction * N)``
        episodes (at least one when the fraction is positive and N > 1), chosen by a hash of
        (seed, id), so the split depends on the ids only, not on their order in the file."""
        if not 0.0 <= valid_fraction < 1.0:
            raise PapertoolsError(f"the validation fraction must be in [0, 1), got "
                                  f"{valid_fraction}")
        ids = self.ids
        count = round(valid_fraction * len(ids))
        if valid_fraction > 0 and len(ids) > 1:
            count = min(max(count, 1), len(ids) - 1)
        ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\0{i}".encode()).digest())
        valid = set(ranked[:count])
        return [i for i in ids if i not in valid], [i for i in ids if i in valid]

    def windows(self, ids: Iterable[str], seq_len: int) -> list[tuple[str, int]]:
        """(id, first step) of every window: an episode cut into ``ceil(T / seq_len)``
        consecutive windows (an empty episode has none)."""
        return [(i, start) for i in ids for start in range(0, self.record(i)["length"], seq_len)]

    def batches(self, ids: Iterable[str], seq_len: int, batch_size: int, seed: int = 0,
                obs_keys: Iterable[str] | None = None, epochs: int = 1,
                shuffle: bool = True) -> Iterator[dict]:
        """Padded batches of fixed-length windows for sequence (recurrent) training.

        Each epoch orders the episodes (shuffled by ``seed`` and the epoch when ``shuffle``)
        and deals them to ``batch_size`` lanes: a lane plays its episode window after window,
        then takes the next episode. So row b of a batch continues row b of the batch before
        (a trainer may carry its recurrent state, resetting it where ``first`` is set), and
        only an episode's first window has ``first[b, 0]``. A batch::

            {"obs": {key: [B, T, ...]}, "actions": [B, T] int64, "rewards": [B, T] float32,
             "dones": [B, T], "truncated": [B, T], "mask": [B, T] bool (real steps),
             "first": [B, T] bool, "labels": {name: [B, T] int32 (-1 padding)},
             "episode": {field: [B] list}, "step": [B] int (the window's first step)}

        Padding is zeros (``mask`` false); a lane with no episode left is all padding, and its
        ``episode`` fields are ``""``; varying observation sizes are padded to the batch's
        largest. Episodes are loaded when a lane reaches them (at most ``batch_size`` at a time
        plus the load cache), so a dataset larger than memory streams. Deterministic for a
        seed."""
        if seq_len < 1 or batch_size < 1:
            raise PapertoolsError("seq_len and batch_size must be at least 1")
        ids = list(ids)
        for i in ids:
            self.record(i)
        keys = list(self.meta["observation"]) if obs_keys is None else list(obs_keys)
        for key in keys:
            if key not in self.meta["observation"]:
                raise PapertoolsError(f"no observation {key!r} in {self.path} (it has "
                                      f"{', '.join(self.meta['observation'])})")
        for epoch in range(epochs):
            order = [i for i in ids if self.record(i)["length"] > 0]
            if shuffle:
                from papertools.core.seed import numpy_rng

                rng = numpy_rng(seed, _SHUFFLE_KEY, epoch)
                order = [order[j] for j in rng.permutation(len(order))]
            yield from self._epoch(order, seq_len, batch_size, keys)

    def _epoch(self, order: list[str], seq_len: int, batch_size: int,
               keys: list[str]) -> Iterator[dict]:
        queue = iter(order)
        lanes: list = [None] * batch_size  # (id, arrays, next step) per lane
        while True:
            for b in range(batch_size):
                if lanes[b] is None or lanes[b][2] >= self.record(lanes[b][0])["length"]:
                    nxt = next(queue, None)
                    lanes[b] = None if nxt is None else (nxt, self.load(nxt, keys), 0)
            if all(lane is None for lane in lanes):
                return
            yield self._batch(lanes, seq_len, keys)
            lanes = [None if lane is None else (lane[0], lane[1], lane[2] + seq_len)
                     for lane in lanes]

    def _batch(self, lanes: list, seq_len: int, keys: list[str]) -> dict:
        size = len(lanes)
        obs_spec = self.meta["observation"]
        obs = {}
        for key in keys:
            dtype = np.dtype(obs_spec[key]["dtype"])
            dims = list(obs_spec[key]["shape"])
            for d, value in enumerate(dims):
                if value is None:  # a varying size: the batch's largest
                    dims[d] = max([lane[1][f"obs/{key}"].shape[1 + d] for lane in lanes
                                   if lane is not None] or [0])
            obs[key] = np.zeros((size, seq_len, *dims), dtype)
        out = {"obs": obs, "actions": np.zeros((size, seq_len), np.int64),
               "rewards": np.zeros((size, seq_len), np.float32),
               "dones": np.zeros((size, seq_len), bool),
               "truncated": np.zeros((size, seq_len), bool),
               "mask": np.zeros((size, seq_len), bool), "first": np.zeros((size, seq_len), bool),
               "labels": {n: np.full((size, seq_len), NO_LABEL, np.int32)
                          for n in self.meta["labels"]},
               "step": np.zeros(size, np.int64)}
        fields = list(dict.fromkeys(f for lane in lanes if lane is not None
                                    for f in self.record(lane[0])))
        episode = {f: [""] * size for f in fields}
        for b, lane in enumerate(lanes):
            if lane is None:
                continue
            rid, arrays, start = lane
            record = self.record(rid)
            for f in fields:
                episode[f][b] = record.get(f, "")
            end = min(start + seq_len, record["length"])
            n = end - start
            for key in keys:
                value = arrays[f"obs/{key}"][start:end]
                obs[key][(b, slice(0, n), *(slice(0, s) for s in value.shape[1:]))] = value
            for name in ("actions", "rewards", "dones", "truncated"):
                out[name][b, :n] = arrays[name][start:end]
            for name in self.meta["labels"]:
                out["labels"][name][b, :n] = arrays[f"label/{name}"][start:end]
            out["mask"][b, :n] = True
            out["first"][b, 0] = start == 0
            out["step"][b] = start
        out["episode"] = episode
        return out


def episode_arrays(observations: list[dict], actions, rewards, terminated, truncated) -> dict:
    """One episode in the format's arrays: ``obs/<key>`` [T+1, ...] for every non-text field of
    the T+1 observations (dicts), ``actions`` [T], ``rewards`` [T], ``dones`` [T] (terminated)
    and ``truncated`` [T]."""
    arrays = {f"obs/{k}": np.stack([np.asarray(o[k]) for o in observations])
              for k, v in observations[0].items() if not isinstance(v, str)}
    arrays.update(actions=np.asarray(actions, np.int64), rewards=np.asarray(rewards, np.float32),
                  dones=np.asarray(terminated, bool), truncated=np.asarray(truncated, bool))
    return arrays


def encode_text(texts: Iterable[str]) -> np.ndarray:
    """Strings as one uint8 array [N, L] of their UTF-8 bytes, zero-padded to the longest
    (how a text observation is stored: ``{"dtype": "uint8", "shape": [null]}``)."""
    data = [t.encode("utf-8") for t in texts]
    out = np.zeros((len(data), max((len(d) for d in data), default=0)), np.uint8)
    for i, d in enumerate(data):
        out[i, :len(d)] = np.frombuffer(d, np.uint8)
    return out


def decode_text(row: np.ndarray) -> str:
    """One row of :func:`encode_text` back to its string (the zero padding dropped)."""
    return bytes(np.asarray(row, np.uint8)).rstrip(b"\0").decode("utf-8")


__all__ = ["EPISODES", "FORMAT", "META", "TrajectoryDataset", "TrajectoryWriter", "VERSION",
           "episode_arrays",
           "decode_text", "encode_text", "episode_file"]
