"""Score a policy folder on held-out episodes of a native environment.

Each episode i plays the seed ``derive_seed(seed, EVAL_KEY, i)``: a stream of its own, so that
evaluation seeds do not coincide with those a demonstration set or a training run drew from
other keys (a caller that must prove it passes ``seeds`` and checks them itself). Episodes are
independent units (``core.parallel.ordered_map``): the records are identical for any number of
workers. Success is the environment's ``info["success"]`` when it gives one, else a terminal
step with a positive reward (BabyAI and MiniGrid: the mission done; PPO's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from papertools.core.seed import derive_seed

EVAL_KEY = 0x6576  # "ev": the evaluation seeds' stream
EXPLORE_KEY = 0x6578  # "ex": an episode's exploration noise


@dataclass(frozen=True)
class _Episode:
    policy_dir: str
    env: str
    seed: int
    deterministic: bool
    max_steps: int | None
    options: tuple
    keep: bool = False  # also return the episode's arrays (observations, actions, rewards)
    explore: float = 0.0  # the chance that a step's action is replaced by a random one
    explore_actions: tuple = ()  # the random action's choices (empty: every action)


_LOADED: dict = {}


def _policy(path: str):
    if path not in _LOADED:
        import torch

        from .policies import load_policy

        torch.set_num_threads(1)  # one episode per worker: processes, not threads, use the cores
        _LOADED[path] = load_policy(path)[0].eval()
    return _LOADED[path]


def play_episode(unit: _Episode) -> dict:
    """One episode of the policy: {"seed", "success", "return", "length", "info"} (the last
    step's info); with ``unit.keep`` also "arrays", the episode in the trajectory format's
    arrays: ``obs/<key>`` for every array field [T+1, ...], "mission" (a text field's first
    value), ``actions``, ``rewards``, ``dones``, ``truncated``."""
    import torch

    from papertools.core.envs import make_env

    policy = _policy(unit.policy_dir)
    env = make_env(unit.env, **dict(unit.options))
    try:
        obs, _ = env.reset(seed=unit.seed)
        torch.manual_seed(unit.seed)  # sampled actions: reproducible per episode
        state, first = policy.initial_state(1), True
        total, steps, success, info = 0.0, 0, False, {}
        kept = [obs] if unit.keep else None
        acts, rewards, flags = [], [], []
        noise = np.random.default_rng(derive_seed(unit.seed, EXPLORE_KEY))
        choices = list(unit.explore_actions) or list(range(env.action_space.n))
        limit = unit.max_steps or getattr(env, "max_steps", None) or 10 ** 9
        with policy.frozen(), torch.no_grad():
            while steps < limit:
                batch = {k: [v] if isinstance(v, str) else np.asarray(v)[None]
                         for k, v in obs.items()}
                action, state = policy.act(batch, state, torch.tensor([first]),
                                           deterministic=unit.deterministic)
                first = False
                if unit.explore and noise.random() < unit.explore:
                    action = [int(noise.choice(choices))]
                obs, reward, terminated, truncated, info = env.step(int(action[0]))
                if kept is not None:
                    kept.append(obs)
                    acts.append(int(action[0]))
                    rewards.append(float(reward))
                    flags.append((bool(terminated), bool(truncated)))
                total += float(reward)
                steps += 1
                if "success" in info:
                    success = success or bool(info["success"])
                elif terminated and reward > 0:
                    success = True
                if terminated or truncated:
                    break
        out = {"seed": unit.seed, "success": success, "return": total, "length": steps,
               "info": {k: v for k, v in info.items() if isinstance(v, (bool, int, float, str))
                        or v is None}}
        if kept is not None:
            from papertools.core.trajectories import episode_arrays

            out["arrays"] = episode_arrays(kept, acts, rewards, [f[0] for f in flags],
                                           [f[1] for f in flags])
            out["mission"] = next((v for v in kept[0].values() if isinstance(v, str)), None)
        return out
    finally:
        env.close()


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    """The seeds :func:`evaluate_policy` plays for ``seed``."""
    return [derive_seed(seed, EVAL_KEY, i) % (2 ** 31) for i in range(episodes)]


def evaluate_policy(policy_dir, env: str, episodes: int, seed: int = 0, *,
                    deterministic: bool = False, max_steps: int | None = None,
                    seeds: list[int] | None = None, workers: int = 1, engine: str = "auto",
                    on_episode=None, **options) -> dict:
    """Play ``episodes`` episodes (or the given ``seeds``) and summarise: {"episodes",
    "success" (the rate), "return" (mean), "length" (mean), "records" (one per episode)}."""
    from papertools.core.parallel import ordered_map

    seeds = list(seeds) if seeds is not None else evaluation_seeds(seed, episodes)
    units = [_Episode(str(policy_dir), env, s, deterministic, max_steps,
                      tuple(sorted(options.items()))) for s in seeds]
    records = []
    for record in ordered_map(play_episode, units, workers=workers, engine=engine):
        records.append(record)
        if on_episode:
            on_episode(record)
    n = max(1, len(records))
    return {"episodes": len(records),
            "success": sum(r["success"] for r in records) / n,
            "return": sum(r["return"] for r in records) / n,
            "length": sum(r["length"] for r in records) / n,
            "records": records}


def check_held_out(datasets, seeds, hint: str = "") -> None:
    """Refuse trajectory datasets (folders) that played any of the evaluation ``seeds``: training
    must not see the layouts it is scored on. ``hint`` ends the error line."""
    import orjson

    from papertools.core.errors import PapertoolsError

    held_out = {int(s) for s in seeds}
    for folder in datasets:
        lines = (Path(folder) / "episodes.jsonl").read_bytes().splitlines()
        shared = sorted({int(orjson.loads(x)["seed"]) for x in lines if x.strip()} & held_out)
        if shared:
            raise PapertoolsError(f"{folder}: {len(shared)} episodes played evaluation seeds "
                                  f"(seed {shared[0]}){hint}")


def rollouts(policy_dir, env: str, seeds, *, deterministic: bool = False,
             max_steps: int | None = None, explore: float = 0.0, explore_actions=(),
             workers: int = 1, engine: str = "auto", **options):
    """The policy's episodes on ``seeds``, in order, each :func:`play_episode`'s result with its
    arrays (a collection to write as a trajectory dataset). ``explore``: the chance that a
    step's action is replaced by one drawn uniformly from ``explore_actions`` (every action when
    empty), seeded per episode."""
    from papertools.core.parallel import ordered_map

    units = [_Episode(str(policy_dir), env, int(s), deterministic, max_steps,
                      tuple(sorted(options.items())), keep=True, explore=float(explore),
                      explore_actions=tuple(explore_actions)) for s in seeds]
    yield from ordered_map(play_episode, units, workers=workers, engine=engine)


__all__ = ["EVAL_KEY", "check_held_out", "evaluate_policy", "evaluation_seeds", "play_episode", "rollouts"]
