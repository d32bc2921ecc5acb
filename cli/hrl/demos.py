"""``hrl demos``: the BabyAI bot's demonstrations with language subgoals, as a trajectory dataset.

Each step stores the native observation (``obs/image``, ``obs/direction``; the mission is the
episode record's), the bot's action (a native index) and per-step labels (dataset.json
"labels"): ``subgoal`` (language.CANONICAL: the annotation, corrupted with ``corrupt``),
``phrase`` (language.PHRASES: the words the annotator gave for the step's segment), ``start``
and ``finished`` (["no", "yes"]: 1 on a segment's first and last step), ``kind``
(language.KINDS) and, when ``corrupt`` > 0, ``true_subgoal`` (the bot's real subgoal).

A segment is a maximal run of steps with the same canonical subgoal (language.describe of the
bot's plan). Its phrasing is drawn from the training templates (the held-out ones never) by a
random stream of (seed, episode, attempt, segment), and so is its corruption: the dataset is
the same for any worker count. Episode i plays seed ``derive_seed(seed, DEMO_KEY, i, k) mod
2**31`` for the first attempt k = 0, 1, ... whose episode the bot solves and that names no
excluded colour-type pair (in the mission or any label): so training never sees those pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed, python_rng

from . import language

DEMO_KEY = 0x64656D6F  # "demo": the episodes' seeds
PHRASE_KEY = 0x70687261  # "phra": each segment's phrasing
CORRUPT_KEY = 0x636F7272  # "corr": each segment's corruption
MAX_TRIES = 200  # attempts per episode before giving up (excluded pairs, the bot failing)
YES_NO = ["no", "yes"]


@dataclass(frozen=True)
class DemoJob:
    env: str  # "babyai/UnlockPickup"
    index: int
    seed: int = 0
    corrupt: float = 0.0
    exclude_pairs: tuple = ()

    @property
    def id(self) -> str:
        return f"{self.env}/{self.index}"


def labels_meta(corrupt: float) -> dict[str, list[str]]:
    labels = {"subgoal": list(language.CANONICAL), "phrase": list(language.PHRASES),
              "start": YES_NO, "finished": YES_NO, "kind": list(language.KINDS)}
    if corrupt > 0:
        labels["true_subgoal"] = list(language.CANONICAL)
    return labels


def dataset_meta(env_name: str, seed: int, corrupt: float, exclude_pairs) -> dict:
    from papertools.core.envs import make_env

    env = make_env(env_name)
    try:
        space = env.observation_space
        observation = {"image": {"dtype": np.dtype(space["image"].dtype).name,
                                 "shape": list(space["image"].shape)},
                       "direction": {"dtype": "int64", "shape": []}}
        words = list(env.action_words)
    finally:
        env.close()
    return {"env": env_name, "observation": observation, "labels": labels_meta(corrupt),
            "action_words": words,
            "hrl": {"agent": "bot", "seed": seed, "corrupt": corrupt,
                    "exclude_pairs": sorted(exclude_pairs),
                    "held_out_templates": [language.HELD_OUT[k] for k in language.KINDS],
                    "templates": {k: list(v) for k, v in language.TEMPLATES.items()}}}


def bot_episode(env_name: str, seed: int) -> dict:
    """The bot plays one episode: observations, actions, rewards, flags and each step's
    canonical subgoal (what the step's action serves)."""
    from papertools.core.envs import make_env
    from papertools.core.envs.babyai import Bot

    env = make_env(env_name)
    try:
        obs, _ = env.reset(seed=seed)
        bot = Bot(env)
        seen, actions, rewards, dones, truncs, subgoals = [obs], [], [], [], [], []
        done = False
        while not done:
            action = bot.act()
            subgoals.append(language.describe(env, bot.subgoals()))
            obs, reward, terminated, truncated, _ = env.step(action)
            seen.append(obs)
            actions.append(action)
            rewards.append(reward)
            dones.append(terminated)
            truncs.append(truncated)
            done = terminated or truncated
        return {"obs": seen, "actions": actions, "rewards": rewards, "dones": dones,
                "truncated": truncs, "subgoals": subgoals, "mission": seen[0]["mission"],
                "success": bool(sum(rewards) > 0)}
    finally:
        env.close()


def segments_of(subgoals: list[str]) -> list[tuple[int, int]]:
    """(start, length) of each maximal run of equal subgoals."""
    out = []
    for t, s in enumerate(subgoals):
        if t and s == subgoals[t - 1]:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((t, 1))
    return out


def annotate(subgoals: list[str], rng_for, corrupt: float) -> list[dict]:
    """Each segment as {"start", "length", "true", "subgoal", "phrase"}: ``rng_for(j)`` is
    segment j's random stream; with probability ``corrupt`` the label is
    ``language.corrupt`` of the truth; the phrase is one training phrasing of the label."""
    out = []
    for j, (start, length) in enumerate(segments_of(subgoals)):
        rng = rng_for(j)
        truth = subgoals[start]
        label = language.corrupt(truth, rng) if corrupt > 0 and rng.random() < corrupt \
            else truth
        options = language.phrasings(label)
        out.append({"start": start, "length": length, "true": truth, "subgoal": label,
                    "phrase": options[int(rng.random() * len(options)) % len(options)]})
    return out


def play(job: DemoJob) -> tuple[dict, dict]:
    """One demonstration: (its record, its arrays) for ``TrajectoryWriter.add``."""
    exclude = set(job.exclude_pairs)
    for attempt in range(MAX_TRIES):
        seed = derive_seed(job.seed, DEMO_KEY, job.index, attempt) % (2 ** 31)
        ep = bot_episode(job.env, seed)
        if not ep["success"]:
            continue
        segments = annotate(ep["subgoals"], lambda j: python_rng(
            job.seed, CORRUPT_KEY, job.index, attempt, j), job.corrupt)
        named = language.pairs_named(ep["mission"])
        for seg in segments:
            named |= language.pairs_named(seg["subgoal"]) | language.pairs_named(seg["true"])
        if named & exclude:
            continue
        return _record(job, seed, attempt, ep, segments)
    raise PapertoolsError(f"{job.id}: no episode in {MAX_TRIES} attempts that the bot solves "
                          "and that names none of the excluded pairs")


def _record(job, seed, attempt, ep, segments) -> tuple[dict, dict]:
    steps = len(ep["actions"])
    index = {name: {s: i for i, s in enumerate(vocab)}
             for name, vocab in labels_meta(job.corrupt).items()}
    label = {name: np.full(steps, -1, np.int32) for name in index}
    for seg in segments:
        span = slice(seg["start"], seg["start"] + seg["length"])
        label["subgoal"][span] = index["subgoal"][seg["subgoal"]]
        label["phrase"][span] = index["phrase"][seg["phrase"]]
        label["kind"][span] = language.KINDS.index(language.kind_of(seg["subgoal"]))
        label["start"][span] = 0
        label["finished"][span] = 0
        label["start"][seg["start"]] = 1
        label["finished"][span.stop - 1] = 1
        if "true_subgoal" in label:
            label["true_subgoal"][span] = index["true_subgoal"][seg["true"]]
    arrays = {"obs/image": np.stack([o["image"] for o in ep["obs"]]),
              "obs/direction": np.asarray([o["direction"] for o in ep["obs"]], np.int64),
              "actions": np.asarray(ep["actions"], np.int64),
              "rewards": np.asarray(ep["rewards"], np.float32),
              "dones": np.asarray(ep["dones"], bool),
              "truncated": np.asarray(ep["truncated"], bool),
              **{f"label/{k}": v for k, v in label.items()}}
    record = {"id": job.id, "env": job.env, "seed": seed, "attempt": attempt,
              "success": ep["success"], "mission": ep["mission"],
              "segments": [{"subgoal": s["subgoal"], "phrase": s["phrase"], "start": s["start"],
                            "length": s["length"],
                            **({"true_subgoal": s["true"]} if job.corrupt > 0 else {})}
                           for s in segments]}
    return record, arrays


def parse_pairs(items) -> tuple[str, ...]:
    """["yellow key", "red ball"] (a list option's items) -> ("red ball", "yellow key"), each
    checked."""
    pairs = []
    for item in items or ():
        item = " ".join(item.split())
        if not item:
            continue
        parts = item.split()
        if len(parts) != 2 or parts[0] not in language.COLORS \
                or parts[1] not in language.TARGETS:
            raise PapertoolsError(f"{item!r} is not a colour-type pair such as 'yellow key' "
                                  f"(colours: {', '.join(language.COLORS)}; types: "
                                  f"{', '.join(language.TARGETS)})")
        pairs.append(item)
    return tuple(sorted(set(pairs)))


def record_demos(env: str, episodes: int, out_dir, seed: int = 0, *, corrupt: float = 0.0,
                 exclude_pairs=(), workers: int = 1, engine: str = "auto",
                 resume: bool = False, on_episode=None) -> int:
    """Record ``episodes`` bot demonstrations of ``env`` ("babyai/UnlockPickup") into the
    dataset folder ``out_dir`` (resumed: the missing ones); returns how many were written now.
    ``on_episode(record)`` after each."""
    from papertools.core.parallel import ordered_map
    from papertools.core.trajectories import TrajectoryWriter

    if not env.startswith("babyai/"):
        raise PapertoolsError(f"hrl demos plays the BabyAI bot: --env babyai/LEVEL, not {env!r}")
    if not 0.0 <= corrupt <= 1.0:
        raise PapertoolsError(f"corrupt must be a probability, got {corrupt}")
    exclude = tuple(sorted(set(exclude_pairs)))
    meta = dataset_meta(env, seed, float(corrupt), exclude)
    with TrajectoryWriter(Path(out_dir), meta, resume=resume) as writer:
        jobs = [DemoJob(env, i, seed, float(corrupt), exclude) for i in range(episodes)]
        jobs = [j for j in jobs if j.id not in writer.done_ids]
        for record, arrays in ordered_map(play, jobs, workers=workers, engine=engine):
            written = writer.add(record, arrays)
            if on_episode:
                on_episode(written)
    return len(jobs)


__all__ = ["DemoJob", "annotate", "bot_episode", "parse_pairs", "play", "record_demos",
           "segments_of"]
