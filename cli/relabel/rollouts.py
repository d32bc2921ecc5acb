"""Trajectories in lift rooms: the BabyAI bot's demonstrations and a policy's rollouts.

Both are written as trajectory datasets (core/trajectories.py) with the observation BabyAI
policies read (``image``, ``direction``), the agent's view as a picture (``rgb``: what a
vision-language labeller is shown, the last frame carrying the lifted object), the mission as
the episode's ``mission`` and, from the environment, the lifted object as ``lifted`` ("red
ball", or null). ``lifted`` is privileged: the oracle labeller and the labeller's scorer read it,
the learned and the remote labellers never do.

Seeds come from streams of their own (``derive_seed(seed, key, i)``), one per use: the original
agent's demonstrations (DEMO_KEY), the learned labeller's pictures (LABELLER_KEY), the rollouts
to relabel (COLLECT_KEY); the evaluation plays core.learn.evaluate's stream, and every stream
here skips the seeds of the evaluation it is given to avoid, so training never plays an
evaluation layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from papertools.core.seed import derive_seed

DEMO_KEY = 0x726C6431  # "rld1": the original agent's demonstrations
LABELLER_KEY = 0x726C6C62  # "rllb": the learned labeller's pictures and captions
COLLECT_KEY = 0x726C636F  # "rlco": the original agent's rollouts, to relabel
TILE = 8  # pixels per cell of the pictures (the 7x7 view: 56x56)
MOVES = (0, 1, 2)  # turn left, turn right, forward: the exploration's random actions


def stream_seeds(seed: int, key: int, n: int, avoid=()) -> list[int]:
    """``n`` seeds of the stream ``key``, skipping any in ``avoid``."""
    avoid, out, i = set(avoid), [], 0
    while len(out) < n:
        s = derive_seed(seed, key, i) % (2 ** 31)
        i += 1
        if s not in avoid:
            out.append(s)
    return out


def env_options(num_objects: int, room_size: int, exclude=(), **extra) -> dict:
    return {"num_objects": int(num_objects), "room_size": int(room_size),
            "exclude": tuple(sorted(exclude)), "rgb": True, "tile_size": TILE, **extra}


def dataset_meta(family: str, options: dict, source: dict) -> dict:
    from papertools.core.envs import make_env

    env = make_env(f"lift/{family}", **options)
    try:
        space = env.observation_space
        observation = {k: {"dtype": np.dtype(space[k].dtype).name, "shape": list(space[k].shape)}
                       for k in ("image", "rgb", "scene") if k in space.spaces}
        observation["direction"] = {"dtype": "int64", "shape": []}
        words = list(env.action_words)
    finally:
        env.close()
    return {"env": f"lift/{family}", "observation": observation, "labels": {},
            "action_words": words,
            "relabel": {**source, "env_options": {k: list(v) if isinstance(v, tuple) else v
                                                  for k, v in options.items()}}}


@dataclass(frozen=True)
class BotJob:
    family: str
    seed: int
    options: tuple


def bot_episode(job: BotJob) -> dict:
    """The bot plays one episode (it walks to the room's hidden target and lifts it)."""
    from papertools.core.envs import make_env
    from papertools.core.envs.babyai import Bot

    env = make_env(f"lift/{job.family}", **dict(job.options))
    try:
        obs, _ = env.reset(seed=job.seed)
        bot = Bot(env)
        kept, acts, rewards, flags, info = [obs], [], [], [], {}
        for _ in range(env.max_steps):
            action = bot.act()
            obs, reward, terminated, truncated, info = env.step(action)
            kept.append(obs)
            acts.append(action)
            rewards.append(reward)
            flags.append((terminated, truncated))
            if terminated or truncated:
                break
        from papertools.core.trajectories import episode_arrays

        arrays = episode_arrays(kept, acts, rewards, [f[0] for f in flags],
                                [f[1] for f in flags])
        return {"seed": job.seed, "success": bool(info.get("success", False)),
                "info": {"lifted": info.get("lifted")}, "mission": kept[0]["mission"],
                "arrays": arrays}
    finally:
        env.close()


def collect(out_dir, *, family: str, seeds: list[int], options: dict, agent: str = "bot",
            policy=None, deterministic: bool = False, explore: float = 0.0, prefix: str = "ep",
            resume: bool = False,
            workers: int = 1, engine: str = "auto", source: dict | None = None,
            on_episode=None) -> int:
    """Play one episode per seed into the dataset ``out_dir`` (episode ids ``prefix/i``);
    resumed, only the missing ones. Returns how many were played now."""
    from papertools.core.errors import PapertoolsError
    from papertools.core.learn.evaluate import rollouts
    from papertools.core.parallel import ordered_map
    from papertools.core.trajectories import TrajectoryWriter

    if agent not in ("bot", "policy"):
        raise PapertoolsError(f"unknown agent {agent!r} (bot or policy)")
    if agent == "policy" and not policy:
        raise PapertoolsError("--agent policy needs a policy folder")
    source = {"agent": agent, "policy": str(Path(policy).resolve()) if policy else None,
              "deterministic": deterministic, "explore": explore, **(source or {})}
    meta = dataset_meta(family, options, source)
    with TrajectoryWriter(out_dir, meta, resume=resume) as writer:
        todo = [(i, s) for i, s in enumerate(seeds) if f"{prefix}/{i}" not in writer.done_ids]
        if agent == "bot":
            jobs = [BotJob(family, s, tuple(sorted(options.items()))) for _, s in todo]
            results = ordered_map(bot_episode, jobs, workers=workers, engine=engine)
        else:
            results = rollouts(policy, f"lift/{family}", [s for _, s in todo],
                               deterministic=deterministic, explore=explore,
                               explore_actions=MOVES, workers=workers, engine=engine, **options)
        for (i, s), result in zip(todo, results):
            arrays = {k: v for k, v in result["arrays"].items()
                      if k in ("actions", "rewards", "dones", "truncated")
                      or k.removeprefix("obs/") in meta["observation"]}
            record = writer.add({"id": f"{prefix}/{i}", "seed": s, "mission": result["mission"],
                                 "success": bool(result["success"]),
                                 "lifted": result["info"].get("lifted")}, arrays)
            if on_episode:
                on_episode(record)
    return len(todo)


def picture(rgb, end: int | None = None):
    """What a labeller is shown of an episode: the view before its last action beside the view
    after it, one picture (H, 2W, 3): an object lifted is drawn whole in front of the agent on
    the left and is gone from the floor on the right (the agent's own cell hides most of what
    it carries). ``rgb``: the episode's pictures [T+1, H, W, 3]; ``end``: the step to show
    instead of the last."""
    import numpy as np

    end = len(rgb) - 1 if end is None else end
    return np.concatenate([rgb[max(0, end - 1)], rgb[end]], axis=1)


def end_words(images, actions, action_words) -> str:
    """What a text labeller is told of an episode's end: BabyAI-text's lines for the view
    before and after the last action, and that action; never the "You carry" line, which
    would say the answer (core.envs.babyai.describe)."""
    from papertools.core.envs.babyai import describe

    before = describe(images[max(0, len(images) - 2)]) or ["nothing in sight"]
    after = describe(images[-1]) or ["nothing in sight"]
    last = action_words[int(actions[-1])] if len(actions) else "none"
    return ("Before the agent's last action it saw:\n" + "\n".join(before)
            + f"\nIts last action was: {last}.\nAfterwards it saw:\n" + "\n".join(after))


def final_words(dataset, ids=None):
    """(record, :func:`end_words` of the episode) for each episode of a dataset."""
    words = dataset.meta.get("action_words") or []
    for episode_id in dataset.ids if ids is None else ids:
        arrays = dataset.load(episode_id, keys=["scene" if "scene" in dataset.meta[
            "observation"] else "image"])
        images = arrays.get("obs/scene", arrays.get("obs/image"))
        yield dataset.record(episode_id), end_words(images, arrays["actions"], words)


def final_frames(dataset, ids=None):
    """(record, the labeller's picture of the episode's end) for each episode of a dataset (in
    its order)."""
    for episode_id in dataset.ids if ids is None else ids:
        record = dataset.record(episode_id)
        arrays = dataset.load(episode_id, keys=["rgb"])
        yield record, picture(arrays["obs/rgb"])


__all__ = ["COLLECT_KEY", "DEMO_KEY", "LABELLER_KEY", "TILE", "collect",
           "dataset_meta",
           "end_words", "env_options", "final_frames", "final_words", "picture",
           "stream_seeds"]
