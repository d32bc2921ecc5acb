"""Observation-only demonstrations and the pair samplers pre-training draws from.

The paper learns from recordings that hold observations and nothing else (NAO's screens), so
the loader here reads a trajectory dataset (core.trajectories: ``bench collect``'s format;
nhrecord's games through core.trajectories_convert) but opens only its ``obs/*`` arrays: an
episode's actions, rewards, done flags and labels are never read from disk and there is no
method that could return them. The one episode field it hands on is the ``mission`` string
(BabyAI's instruction), which is part of what the agent observes, fixed for an episode.

Frames: an episode of T steps has T + 1 observations (the one after the last action
included), so :attr:`ObservationDataset.lengths` counts frames, and a pair (i, j) indexes
frames 0 .. T.

Samplers, each vectorised over a batch and driven by a numpy Generator (the caller's, so a
checkpoint that saves the generator resumes the same draws):

- :func:`geometric_pairs`: the encoder's positives, j = i + D with D ~ Geometric(1 - gamma)
  (an implicit model of the discounted future-state occupancy);
- :func:`progress_pairs`: the progress model's pairs, uniform over every (i, j) of one
  episode with 0 < j - i <= max_gap.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from papertools.core.errors import InputError, PapertoolsError

TEXT_KEY = "mission"  # the episode field that is an observation (BabyAI's instruction)
AT_END = ("resample", "truncate")


class ObservationDataset:
    """The observations of a trajectory dataset folder, episode by episode.

    ``keys`` limits the observation arrays read (default: every ``obs/<key>`` the dataset
    declares, plus ``mission`` when its episodes have one). Attributes: ``path``, ``meta``
    (dataset.json), ``ids``, ``episodes`` (count), ``lengths`` (frames per episode, int64).
    An unreadable folder or episode file is an InputError naming it."""

    def __init__(self, path, keys=None, *, cache_size: int = 512, _parent=None, _ids=None):
        from papertools.core.trajectories import TrajectoryDataset

        if _parent is not None:  # a split: the parent's records, a subset of the episodes
            self._source, self.keys, self._text = _parent._source, _parent.keys, _parent._text
            self._cache = _parent._cache
            self.cache_size = _parent.cache_size
        else:
            path = Path(path)
            if not (path / "dataset.json").is_file():
                raise InputError("not a trajectory dataset (no dataset.json)", str(path))
            self._source = TrajectoryDataset(path, cache_size=0)
            arrays = list(self._source.meta["observation"])
            has_text = bool(self._source.episodes) and all(
                isinstance(r.get(TEXT_KEY), str) for r in self._source.episodes)
            known = arrays + ([TEXT_KEY] if has_text else [])
            keys = known if keys is None else list(keys)
            unknown = [k for k in keys if k not in known]
            if unknown:
                raise PapertoolsError(f"no observation {', '.join(unknown)} in {path} (it has "
                                      f"{', '.join(known)})")
            self.keys = [k for k in keys if k != TEXT_KEY]
            self._text = TEXT_KEY in keys
            self._cache: OrderedDict = OrderedDict()
            self.cache_size = cache_size
        self.path = self._source.path
        self.meta = self._source.meta
        records = self._source.episodes if _ids is None else [self._source.record(i)
                                                              for i in _ids]
        self._records = [r for r in records if r["length"] > 0]  # a pair needs two frames
        self.ids = [r["id"] for r in self._records]
        self.lengths = np.array([r["length"] + 1 for r in self._records], np.int64)

    @property
    def episodes(self) -> int:
        return len(self._records)

    @property
    def env(self) -> str:
        return self.meta["env"]

    def split(self, valid_fraction: float, seed: int = 0):
        """(train, valid) ObservationDatasets, split by episode (core.trajectories' split: a
        hash of (seed, id), so the same episodes for the same seed)."""
        train, valid = self._source.split(valid_fraction, seed)
        mine = set(self.ids)
        return tuple(ObservationDataset(None, _parent=self, _ids=[i for i in part if i in mine])
                     for part in (train, valid))

    def _episode(self, e: int) -> dict:
        record = self._records[e]
        cached = self._cache.get(record["id"])
        if cached is not None:
            self._cache.move_to_end(record["id"])
            return cached
        file = self.path / record["file"]
        arrays = {}
        try:
            with np.load(file, allow_pickle=False) as npz:
                for key in self.keys:  # only observation members are ever read
                    arrays[key] = npz[f"obs/{key}"]
        except FileNotFoundError:
            raise InputError("missing episode file", str(file)) from None
        except KeyError as exc:
            raise InputError(f"no array {exc.args[0]!r}", str(file)) from None
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"unreadable episode file: {exc}", str(file)) from None
        for key, value in arrays.items():
            if len(value) != self.lengths[e]:
                raise InputError(f"obs/{key} has {len(value)} rows; its record says "
                                 f"{self.lengths[e] - 1} steps", str(file))
        self._cache[record["id"]] = arrays
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return arrays

    def frames(self, e: int, index) -> dict:
        """Episode ``e``'s frames at ``index`` (ints): {key: [N, ...] array}; ``mission`` (when
        read) as an [N] array of str."""
        index = np.asarray(index, np.int64)
        arrays = self._episode(e)
        out = {key: arrays[key][index] for key in self.keys}
        if self._text:
            out[TEXT_KEY] = np.full(len(index), self._records[e][TEXT_KEY], dtype=object)
        return out

    def gather(self, episode, index) -> dict:
        """Frames of several episodes in one batch: row n is ``frames(episode[n],
        index[n])``."""
        episode, index = np.asarray(episode), np.asarray(index)
        out = None
        for e in np.unique(episode):
            rows = np.nonzero(episode == e)[0]
            part = self.frames(int(e), index[rows])
            if out is None:
                out = {k: np.empty((len(episode), *v.shape[1:]), v.dtype)
                       for k, v in part.items()}
            for k, v in part.items():
                out[k][rows] = v
        return out

    def spaces(self):
        """(observation_space, action_space) of the dataset's environment, the observation
        space narrowed to what the dataset stores (and the mission): the spaces the online
        policy is built from, so ``make_policy`` makes the same network offline and online."""
        from gymnasium import spaces

        from papertools.core.envs import make_env

        try:
            env = make_env(self.env)
        except PapertoolsError as exc:
            raise PapertoolsError(f"{self.path}: its environment {self.env!r} cannot be made "
                                  f"({exc})") from None
        try:
            space = env.observation_space
            if isinstance(space, spaces.Dict):
                space = spaces.Dict({k: v for k, v in space.spaces.items()
                                     if k in self.meta["observation"]
                                     or isinstance(v, spaces.Text)})
            return space, env.action_space
        finally:
            env.close()

    @property
    def observation_space(self):
        return self.spaces()[0]

    @property
    def action_space(self):
        return self.spaces()[1]


def _anchors(lengths, batch: int, rng, weights=None):
    """(episode [B], i [B]): an episode drawn in proportion to ``weights`` (default: its
    number of anchors, L - 1), then an anchor i uniform in 0 .. L - 2."""
    lengths = np.asarray(lengths, np.int64)
    if weights is None:
        weights = np.maximum(lengths - 1, 0).astype(np.float64)
    if weights.sum() <= 0:
        raise PapertoolsError("no episode has two frames: no pair can be drawn")
    episode = rng.choice(len(lengths), size=batch, p=weights / weights.sum())
    i = (rng.random(batch) * (lengths[episode] - 1)).astype(np.int64)
    return episode, i


def geometric_pairs(lengths, batch: int, gamma: float, rng, at_end: str = "resample"):
    """(episode [B], i [B], j [B]): pairs of frames of one episode with j - i = D >= 1,
    D ~ Geometric(1 - gamma), P(D = d) = (1 - gamma) gamma^(d - 1).

    The anchor i is uniform over every frame that has a successor (episodes weighted by
    length). Where i + D passes the episode's last frame, ``at_end`` decides: "resample"
    draws D again (D = 1 always fits, so this ends; the offset's law becomes the geometric
    conditioned on fitting), "truncate" takes the last frame (j = L - 1). A pair never
    crosses an episode's end."""
    if not 0.0 <= gamma < 1.0:
        raise PapertoolsError(f"gamma must be in [0, 1), got {gamma}")
    if at_end not in AT_END:
        raise PapertoolsError(f"at_end must be one of {', '.join(AT_END)}, got {at_end!r}")
    lengths = np.asarray(lengths, np.int64)
    episode, i = _anchors(lengths, batch, rng)
    last = lengths[episode] - 1
    d = rng.geometric(1.0 - gamma, size=batch).astype(np.int64)
    if at_end == "truncate":
        return episode, i, np.minimum(i + d, last)
    over = i + d > last
    while over.any():
        d[over] = rng.geometric(1.0 - gamma, size=int(over.sum()))
        over = i + d > last
    return episode, i, i + d


def progress_pairs(lengths, batch: int, rng, max_gap: int):
    """(episode [B], i [B], j [B]): pairs uniform over every (i, j) of one episode with
    0 < j - i <= max_gap (each such pair of the dataset equally likely).

    Drawn by rejection: an episode in proportion to (L - 1) * g with g = min(max_gap, L - 1),
    i uniform in 0 .. L - 2 and a gap uniform in 1 .. g, redrawn while i + gap passes the
    end (at least half of the draws fit)."""
    if max_gap < 1:
        raise PapertoolsError(f"max_gap must be at least 1, got {max_gap}")
    lengths = np.asarray(lengths, np.int64)
    cap = np.clip(lengths - 1, 0, max_gap)
    weights = (np.maximum(lengths - 1, 0) * cap).astype(np.float64)
    episode, i = _anchors(lengths, batch, rng, weights)
    gap = 1 + (rng.random(batch) * cap[episode]).astype(np.int64)
    bad = i + gap > lengths[episode] - 1
    while bad.any():
        n = int(bad.sum())
        e2, i2 = _anchors(lengths, n, rng, weights)
        episode[bad], i[bad] = e2, i2
        gap[bad] = 1 + (rng.random(n) * cap[e2]).astype(np.int64)
        bad = i + gap > lengths[episode] - 1
    return episode, i, i + gap


__all__ = ["AT_END", "ObservationDataset", "geometric_pairs", "progress_pairs"]
