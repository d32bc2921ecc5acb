"""Small datasets for the latent-subgoal tests, in the shared demonstrations format (interface A):
the BabyAI bot's rollouts with language labels, and synthetic episodes whose actions follow one
of two rules per segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LANGUAGE_LABELS = ("subgoal", "phrase", "start", "finished", "kind")
KIND_WORDS = ("go to", "open", "pick up", "drop", "explore")


def _kind(text: str) -> str:
    return next((k for k in KIND_WORDS if text.startswith(k)), "explore")


def _segments(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """start and finished flags of the maximal runs of equal labels."""
    start = np.r_[1, (np.diff(labels) != 0).astype(np.int32)].astype(np.int32)
    finished = np.r_[start[1:], 1].astype(np.int32)
    return start, finished


def _meta(env: str, extra: dict | None = None) -> dict:
    from papertools.core.envs.babyai import SUBGOALS

    return {"env": env,
            "observation": {"image": {"dtype": "uint8", "shape": [7, 7, 3]},
                            "direction": {"dtype": "int64", "shape": []}},
            "labels": {"subgoal": list(SUBGOALS), "phrase": list(SUBGOALS),
                       "start": ["no", "yes"], "finished": ["no", "yes"],
                       "kind": list(KIND_WORDS)},
            "action_words": ["left", "right", "forward", "pickup", "drop", "toggle", "done"],
            "hrl": {"held_out_templates": [], "corrupt": 0.0}, **(extra or {})}


def bot_demos(path: Path, episodes: int = 6, level: str = "GoToLocal", scramble: int | None = None,
              ) -> Path:
    """The bot's rollouts on babyai/<level> with the language labels from subgoal_text;
    ``scramble`` (a seed) draws every label at random instead: the same demonstrations, other
    labels."""
    from papertools.core.envs import make_env
    from papertools.core.envs.babyai import SUBGOALS, Bot, subgoal_text
    from papertools.core.trajectories import TrajectoryWriter

    rng = np.random.default_rng(scramble)
    with TrajectoryWriter(path, _meta(f"babyai/{level}")) as out:
        for seed in range(episodes):
            env = make_env(f"babyai/{level}", seed=seed)
            obs, _ = env.reset()
            bot = Bot(env)
            images, directions, actions, rewards, dones, subgoals = [obs["image"]], \
                [obs["direction"]], [], [], [], []
            mission, done = obs["mission"], False
            while not done:
                action = bot.act()
                subgoals.append(SUBGOALS.index(subgoal_text(bot.subgoals())))
                obs, reward, terminated, truncated, _ = env.step(action)
                images.append(obs["image"])
                directions.append(obs["direction"])
                actions.append(action)
                rewards.append(reward)
                dones.append(terminated)
                done = terminated or truncated
            env.close()
            subgoal = np.asarray(subgoals, np.int32)
            start, finished = _segments(subgoal)
            kind = np.asarray([KIND_WORDS.index(_kind(SUBGOALS[s])) for s in subgoal], np.int32)
            labels = {"subgoal": subgoal, "phrase": subgoal.copy(), "start": start,
                      "finished": finished, "kind": kind}
            if scramble is not None:
                sizes = {"subgoal": len(SUBGOALS), "phrase": len(SUBGOALS), "start": 2,
                         "finished": 2, "kind": len(KIND_WORDS)}
                labels = {k: rng.integers(0, sizes[k], len(v)).astype(np.int32)
                          for k, v in labels.items()}
            out.add({"id": f"bot/{seed}", "seed": seed, "mission": mission,
                     "success": bool(sum(rewards) > 0)},
                    {"obs/image": np.stack(images), "obs/direction": np.asarray(directions),
                     "actions": np.asarray(actions), "rewards": np.asarray(rewards, np.float32),
                     "dones": np.asarray(dones),
                     **{f"label/{k}": v for k, v in labels.items()}})
    return path


BALL, KEY, EMPTY, LEFT, FORWARD = 6, 5, 1, 0, 2  # minigrid's object ids and actions


def two_rule_demos(path: Path, episodes: int = 24, segments: int = 6, segment: int = 4,
                   seed: int = 0) -> tuple[Path, list[np.ndarray]]:
    """Synthetic episodes of ``segments`` segments of ``segment`` steps; the behaviour
    alternates from segment to segment, starting at random: rule 0 goes forward when a ball is in
    front and turns left otherwise, rule 1 the opposite. A random cell in front holds a ball or
    a key (half each) and the rest of the view is empty, so both rules act alike on average:
    only the pairing of what is seen with what is done tells them apart. Returns the folder and
    each episode's per-step rule."""
    from papertools.core.trajectories import TrajectoryWriter

    rng = np.random.default_rng(seed)
    rules = []
    with TrajectoryWriter(path, _meta("babyai/GoToLocal")) as out:
        for e in range(episodes):
            steps = segments * segment
            images = np.zeros((steps + 1, 7, 7, 3), np.uint8)
            images[..., 0] = EMPTY
            front = rng.random(steps + 1) < 0.5
            images[:, 3, 5, 0] = np.where(front, BALL, KEY)
            images[:, 3, 5, 1] = rng.integers(0, 6, steps + 1)
            first = int(rng.integers(2))
            rule = np.repeat([(first + i) % 2 for i in range(segments)], segment)
            actions = np.where(front[:steps] == (rule == 0), FORWARD, LEFT).astype(np.int64)
            subgoal = np.where(rule == 0, 7, 8).astype(np.int32)  # any two SUBGOALS
            start, finished = _segments(np.repeat(np.arange(segments), segment))
            out.add({"id": f"rules/{e}", "seed": e, "mission": "go to the ball"},
                    {"obs/image": images, "obs/direction": np.zeros(steps + 1, np.int64),
                     "actions": actions, "rewards": np.zeros(steps, np.float32),
                     "dones": np.zeros(steps, bool), "label/subgoal": subgoal,
                     "label/phrase": subgoal.copy(), "label/start": start.astype(np.int32),
                     "label/finished": finished.astype(np.int32),
                     "label/kind": np.zeros(steps, np.int32)})
            rules.append(rule)
    return path, rules
