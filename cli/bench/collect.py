"""``bench collect``: play an agent in a game and record what it saw and did as a trajectory
dataset (core/trajectories.py), the data behavioural cloning trains on.

The agent plays the game's text view (so every bench agent can: random, the reference bot, a
trained policy, a prompted model), and each step records the *native* observation behind the
text (``TextEnv.native_obs``: BabyAI's grid, NetHack's arrays), the action as an index into the
native env's ``action_words``, the reward, and per-step labels where the agent has them: the
BabyAI bot's current subgoal as one of ``core.envs.babyai.SUBGOALS`` (label ``subgoal``).

Observation keys: every array of the native observation space is stored as ``obs/<key>``; a
text field named ``mission`` (BabyAI's instruction, fixed for an episode) becomes the episode
record's ``mission``; any other text field is stored as UTF-8 bytes (``encode_text``).
Episode seeds are bench run's (``runner.episode_seed``: seed, env, task, episode number), so
``bench collect`` and ``bench run`` with the same ``--seed`` play the same games; episodes are
written in order by one process, so the dataset is byte-identical for any ``--workers`` and
``--engine`` with a deterministic agent (random, bot, a policy with ``--deterministic`` or
sampling seeded per episode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError

from .runner import episode_seed




@dataclass(frozen=True)
class CollectConfig:
    env: str  # family
    task: str
    agent: str = "random"
    policy: str | None = None  # --agent policy: the policy folder
    deterministic: bool = False  # --agent policy: the most likely action instead of a sample
    max_steps: int | None = None
    seed: int = 0
    text: bool = False  # also store each step's text (obs/text)
    env_options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.env}/{self.task}"


def _labels(config: CollectConfig) -> dict[str, list[str]]:
    if config.agent == "bot" and config.env == "babyai":
        from papertools.core.envs.babyai import SUBGOALS

        return {"subgoal": list(SUBGOALS)}
    return {}


def _make(config: CollectConfig, seed: int):
    from papertools.core.envs import make_text_env

    options = dict(config.env_options)
    if config.max_steps:
        options["max_steps"] = config.max_steps
    return make_text_env(config.env, seed=seed, task=config.task, **options)


def observation_meta(space) -> tuple[dict, list[str], list[str]]:
    """(``observation`` of dataset.json, the array keys, the text keys) for a native Dict
    space; BabyAI's ``mission`` is an episode field and not among either."""
    from gymnasium import spaces

    meta, arrays, texts = {}, [], []
    items = space.spaces.items() if isinstance(space, spaces.Dict) else [("obs", space)]
    for key, sub in items:
        if isinstance(sub, spaces.Text):
            if key != "mission":
                texts.append(key)
                meta[key] = {"dtype": "uint8", "shape": [None]}
            continue
        if isinstance(sub, spaces.Discrete):
            meta[key] = {"dtype": "int64", "shape": []}
        elif isinstance(sub, spaces.Box):
            meta[key] = {"dtype": np.dtype(sub.dtype).name, "shape": list(sub.shape)}
        else:
            raise PapertoolsError(f"bench collect: cannot store observation {key!r} "
                                  f"({type(sub).__name__})")
        arrays.append(key)
    return meta, arrays, texts


def dataset_meta(config: CollectConfig) -> dict:
    env = _make(config, seed=0)
    try:
        observation, _, _ = observation_meta(env.native.observation_space)
        words = list(env.native.action_words)
        dynamic = bool(getattr(env.native, "dynamic_actions", False))
    finally:
        env.close()
    if config.text:
        observation["text"] = {"dtype": "uint8", "shape": [None]}
    meta = {"env": config.name, "observation": observation, "labels": _labels(config),
            "action_words": None if dynamic else words,
            "collect": {"agent": config.agent, "seed": config.seed,
                        "policy": config.policy, "deterministic": config.deterministic,
                        "max_steps": config.max_steps, "env_options": config.env_options}}
    return meta


@dataclass(frozen=True)
class Job:
    config: CollectConfig
    index: int

    @property
    def id(self) -> str:
        return f"{self.config.name}/{self.index}"

    @property
    def seed(self) -> int:
        return episode_seed(self.config.seed, self.config.env, self.config.task, self.index)


def play(job: Job) -> tuple[dict, dict]:
    """One episode: (its record, its arrays) for ``TrajectoryWriter.add``."""
    from papertools.core.trajectories import encode_text

    from .agents import make_agent

    config = job.config
    env = _make(config, job.seed)
    try:
        agent = make_agent(config.agent, policy=config.policy,
                           deterministic=config.deterministic)
        obs = env.reset(job.seed)
        agent.reset(env, job.seed)
        _, keys, text_keys = observation_meta(env.native.observation_space)
        subgoals = _labels(config).get("subgoal")
        if subgoals is not None:
            from papertools.core.envs.babyai import subgoal_text
        seen, texts, actions, rewards, dones, truncs, labels = [env.native_obs], [obs.text], \
            [], [], [], [], []
        done = False
        while not done:
            word = env.check_action(agent.act(obs).action) or env.default_action
            words = env.native.action_words
            if word not in words:
                raise PapertoolsError(f"{config.name}: the action {word!r} has no native index")
            if subgoals is not None:
                labels.append(subgoals.index(subgoal_text(agent.bot.subgoals())))
            actions.append(words.index(word))
            obs, reward, done, info = env.step(word)
            agent.observe(obs.text, word, obs.image)
            seen.append(env.native_obs)
            texts.append(obs.text)
            rewards.append(reward)
            dones.append(bool(info.get("terminated", done)))
            truncs.append(bool(info.get("truncated", False)))
        arrays = {f"obs/{k}": np.stack([np.asarray(o[k]) for o in seen]) for k in keys}
        for k in text_keys:
            arrays[f"obs/{k}"] = encode_text([o[k] for o in seen])
        if config.text:
            arrays["obs/text"] = encode_text(texts)
        arrays.update(actions=np.asarray(actions, np.int64),
                      rewards=np.asarray(rewards, np.float32),
                      dones=np.asarray(dones, bool), truncated=np.asarray(truncs, bool))
        if subgoals is not None:
            arrays["label/subgoal"] = np.asarray(labels, np.int32)
        record = {"id": job.id, "seed": job.seed, "task": config.task,
                  "success": env.progression >= 1.0, "progression": float(env.progression),
                  "agent": config.agent}
        mission = seen[0].get("mission") if isinstance(seen[0], dict) else None
        if isinstance(mission, str):
            record["mission"] = mission
        record.update({k: v for k, v in env.stats().items() if k not in record})
        return record, arrays
    finally:
        env.close()


def collect(config: CollectConfig, episodes: int, out_dir: Path, *, resume: bool = False,
            workers: int = 1, engine: str = "auto", on_start=None, on_episode=None) -> int:
    """Play ``episodes`` episodes into the dataset at ``out_dir`` (resumed: the missing ones);
    returns how many were written now."""
    from papertools.core.parallel import ordered_map
    from papertools.core.trajectories import TrajectoryWriter

    if config.agent == "policy" and not config.policy:
        raise PapertoolsError("--agent policy needs --policy DIR (a policy folder)")
    if config.agent == "policy":
        config = CollectConfig(**{**config.__dict__,
                                  "policy": str(Path(config.policy).resolve())})
    with TrajectoryWriter(out_dir, dataset_meta(config), resume=resume) as writer:
        jobs = [Job(config, n) for n in range(episodes) if Job(config, n).id not in
                writer.done_ids]
        if on_start:
            on_start(len(jobs))
        for record, arrays in ordered_map(play, jobs, workers=workers, engine=engine):
            writer.add(record, arrays)
            if on_episode:
                on_episode(record)
    return len(jobs)
