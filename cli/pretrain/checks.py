"""Is a progress reward exploitable? Four checks of a trained progress model.

The online bonus is alpha * f(s_max(t-k, start), s_t) each step (core.learn.progress). A
reward an agent can collect without doing the task is one it will learn to farm, so each
check compares what some behaviour earns with what the demonstrations earn:

- ``reversed``: mean prediction on pairs of the demonstrations read backwards (b before a).
  Pass: negative (going backwards is scored as negative progress). A model trained on forward
  pairs only has never seen a negative target, so it may fail here.
- ``oscillation``: an agent stepping back and forth between two neighbouring frames of each
  demonstration (s0, s1, s0, s1, ...; as long as that demonstration) gets the per-step bonus
  the shaping gives; the reference is the per-step bonus along the demonstration itself.
  Pass: the oscillation earns at most a tenth of the reference per step. Any positive
  per-step bonus adds up over a long episode, so a pass is necessary, not sufficient.
- ``random``: uniformly random play in the real environment (``env``, default the dataset's),
  the same per-step bonus. Pass: at most half the demonstrations' per step.
- ``transfer`` (given ``other``, another level's demonstrations): the Spearman correlation of
  predictions with the true gaps on that level's pairs, against the same on the model's own
  dataset. Pass: positive and at least half of the own figure.

Every figure is computed, and reported, whether it passes or not: a fail is a finding.
"""

from __future__ import annotations

import numpy as np

from papertools.core.seed import derive_seed

from .data import ObservationDataset, progress_pairs
from .offline import open_dataset

CHECK_KEY = 0x6368  # "ch": the checks' random stream
OSCILLATION_SHARE, RANDOM_SHARE, TRANSFER_SHARE = 0.1, 0.5, 0.5  # the pass thresholds above


def window_starts(length: int, k: int) -> np.ndarray:
    """For frames 1 .. length - 1 of an episode, the frame the bonus compares each with:
    max(t - k, 0) (ProgressShaping's pair)."""
    t = np.arange(1, length)
    return np.maximum(t - k, 0)


def episode_bonus(model, frames: dict, k: int, alpha: float) -> np.ndarray:
    """The shaping bonus of each step after the first of one episode's ``frames`` ({key:
    [L, ...]}): alpha * f(s_max(t-k, 0), s_t), t = 1 .. L - 1."""
    length = len(next(iter(frames.values())))
    if length < 2:
        return np.zeros(0, np.float32)
    a = {key: value[window_starts(length, k)] for key, value in frames.items()}
    b = {key: value[1:] for key, value in frames.items()}
    return alpha * model.predict(a, b)


def _all_frames(data: ObservationDataset, e: int) -> dict:
    return data.frames(e, np.arange(data.lengths[e]))


def _spearman(model, data: ObservationDataset, pairs: int, max_gap: int, rng) -> float:
    from scipy.stats import spearmanr

    from papertools.core.learn.progress import symlog

    e, i, j = progress_pairs(data.lengths, pairs, rng, max_gap)
    pred = model.predict(data.gather(e, i), data.gather(e, j))
    return float(spearmanr(pred, symlog(j - i)).statistic)


def _record(check, value, reference, passed, **extra) -> dict:
    return {"check": check, "value": round(float(value), 5),
            "reference": None if reference is None else round(float(reference), 5),
            "pass": bool(passed), **extra}


def random_frames(env_name: str, episodes: int, seed: int, max_steps: int | None = None):
    """Each of ``episodes`` episodes of uniformly random play in ``env_name``: its frames
    ({key: [L, ...]}, strings as object arrays)."""
    from papertools.core.envs import make_env

    options = {"max_steps": max_steps} if max_steps else {}
    env = make_env(env_name, **options)
    rng = np.random.default_rng(derive_seed(seed, CHECK_KEY, 1))
    try:
        out = []
        for n in range(episodes):
            obs, _ = env.reset(seed=derive_seed(seed, CHECK_KEY, 2, n) % 2**31)
            seen, done = [obs], False
            while not done:
                obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
                seen.append(obs)
                done = terminated or truncated
            out.append({key: (np.array([o[key] for o in seen], dtype=object)
                              if isinstance(seen[0][key], str)
                              else np.stack([np.asarray(o[key]) for o in seen]))
                        for key in seen[0]})
        return out
    finally:
        env.close()


def exploitability(model, dataset, env: str | None = None, other=None, *, k: int = 8,
                   alpha: float = 1.0, pairs: int = 1024, episodes: int = 8,
                   max_steps: int | None = None, seed: int = 0) -> dict:
    """The checks of the module docstring: {check name: record}. ``model``: a ProgressModel;
    ``dataset`` (and ``other``): demonstrations (folders or ObservationDatasets); ``env``:
    where random play happens (default: the dataset's environment; "" skips it); ``k`` and
    ``alpha``: the shaping's window and scale; ``pairs``: pairs drawn per figure; ``episodes``
    of random play, at most ``max_steps`` each (default: the environment's limit)."""
    data = open_dataset(dataset)
    max_gap = int(getattr(model, "meta", {}).get("max_gap") or 64)
    rng = np.random.default_rng(derive_seed(seed, CHECK_KEY, 0))
    out = {}

    e, i, j = progress_pairs(data.lengths, pairs, rng, max_gap)
    a, b = data.gather(e, i), data.gather(e, j)
    forward, backward = model.predict(a, b), model.predict(b, a)
    out["reversed"] = _record("reversed", backward.mean(), forward.mean(), backward.mean() < 0,
                              measure="mean prediction on reversed pairs (reference: forward)",
                              positive_share=round(float((backward > 0).mean()), 5))

    demo, oscillation = [], []
    for n in range(data.episodes):
        frames = _all_frames(data, n)
        demo.append(episode_bonus(model, frames, k, alpha))
        back_and_forth = np.arange(data.lengths[n]) % 2  # frames 0, 1, 0, 1, ...
        oscillation.append(episode_bonus(model, {key: v[back_and_forth]
                                                 for key, v in frames.items()}, k, alpha))
    demo_step = float(np.concatenate(demo).mean())
    osc_step = float(np.concatenate(oscillation).mean())
    out["oscillation"] = _record(
        "oscillation", osc_step, demo_step,
        demo_step > 0 and osc_step <= OSCILLATION_SHARE * demo_step,
        measure="per-step bonus going back and forth (reference: along the demonstrations)",
        k=k, alpha=alpha)

    env = data.env if env is None else env
    if env:
        played = random_frames(env, episodes, seed, max_steps)
        keys = set(data.frames(0, [0]))
        bonus = np.concatenate([episode_bonus(model, {key: f[key] for key in keys}, k, alpha)
                                for f in played])
        random_step = float(bonus.mean()) if len(bonus) else 0.0
        out["random"] = _record(
            "random", random_step, demo_step,
            demo_step > 0 and random_step <= RANDOM_SHARE * demo_step,
            measure="per-step bonus of random play (reference: along the demonstrations)",
            env=env, episodes=episodes, steps=int(len(bonus)))

    if other is not None:
        other_data = open_dataset(other)
        own = _spearman(model, data, pairs, max_gap, rng)
        there = _spearman(model, other_data, pairs, max_gap, rng)
        out["transfer"] = _record(
            "transfer", there, own, there > 0 and there >= TRANSFER_SHARE * own,
            measure="Spearman of predictions and gaps on the other level (reference: own)",
            other=str(other_data.path), other_env=other_data.env)
    return out


__all__ = ["exploitability", "episode_bonus", "random_frames", "window_starts"]
