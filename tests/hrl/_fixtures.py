"""Small Part A datasets and low levels for the hierarchy's tests, in the shared format.

The BabyAI bot plays a level; each step's canonical subgoal is core.envs.babyai.subgoal_text of
the bot's plan, used as both "subgoal" and "phrase" (helper A1's language module is not here);
"start"/"finished" mark where the subgoal changes; "kind" is the subgoal's verb.
"""

from __future__ import annotations

import itertools

import numpy as np

YES_NO = ["no", "yes"]
KINDS = ["go to", "open", "pick up", "drop", "explore", "close", "none"]


def kind_of(subgoal: str) -> str:
    return next((k for k in KINDS if subgoal.startswith(k)), "none")


def bot_episode(task: str, seed: int):
    """(observations, actions, rewards, subgoal texts, mission, success) of one bot episode."""
    from papertools.core.envs.babyai import Bot, Native, subgoal_text

    env = Native(task)
    obs, _ = env.reset(seed=seed)
    bot = Bot(env)
    seen, actions, rewards, subgoals = [obs], [], [], []
    done, reward, terminated = False, 0.0, False
    while not done:
        action = bot.act()
        subgoals.append(subgoal_text(bot.subgoals()))
        obs, reward, terminated, truncated, _ = env.step(action)
        seen.append(obs)
        actions.append(action)
        rewards.append(reward)
        done = terminated or truncated
    env.close()
    return seen, actions, rewards, subgoals, seen[0]["mission"], bool(terminated and reward > 0)


def drop_episode(task: str, seed: int, steps: int = 12):
    """``steps`` drop actions labelled "drop the object" (what make_dataset's drop episodes
    are)."""
    from papertools.core.envs.babyai import Native

    env = Native(task)
    obs, _ = env.reset(seed=seed)
    seen = [obs]
    for _ in range(steps):
        obs, *_ = env.step(4)
        seen.append(obs)
    env.close()
    return seen, [4] * steps, [0.0] * steps, ["drop the object"] * steps, seen[0]["mission"], \
        False


def make_dataset(path, task: str = "GoToLocal", episodes: int = 40, seed: int = 0,
                 drop_episodes: int = 0) -> str:
    """A dataset of ``episodes`` bot episodes on babyai/<task> with the shared labels, and
    ``drop_episodes`` more in which the agent only answers "drop the object" with minigrid's
    drop action (nothing held: nothing happens, the episode is lost): a subgoal the low level
    learns that never solves the level."""
    from papertools.core.envs.babyai import SUBGOALS
    from papertools.core.trajectories import TrajectoryWriter

    vocab = list(SUBGOALS)
    meta = {"env": f"babyai/{task}",
            "observation": {"image": {"dtype": "uint8", "shape": [7, 7, 3]},
                            "direction": {"dtype": "int64", "shape": []}},
            "labels": {"subgoal": vocab, "phrase": vocab, "start": YES_NO,
                       "finished": YES_NO, "kind": KINDS},
            "action_words": ["turn left", "turn right", "go forward", "pick up", "drop",
                             "toggle", "done"],
            "hrl": {"held_out_templates": [], "corrupt": 0.0}}
    with TrajectoryWriter(path, meta) as writer:
        for n in range(episodes + drop_episodes):
            if n < episodes:
                seen, actions, rewards, subgoals, mission, success = bot_episode(task, seed + n)
            else:
                seen, actions, rewards, subgoals, mission, success = drop_episode(task, seed + n)
            ids = np.array([vocab.index(s) for s in subgoals], np.int32)
            start = np.array([i == 0 or subgoals[i] != subgoals[i - 1]
                              for i in range(len(subgoals))], np.int32)
            finished = np.array([i == len(subgoals) - 1 or subgoals[i] != subgoals[i + 1]
                                 for i in range(len(subgoals))], np.int32)
            arrays = {"obs/image": np.stack([o["image"] for o in seen]),
                      "obs/direction": np.array([o["direction"] for o in seen], np.int64),
                      "actions": np.array(actions, np.int64),
                      "rewards": np.array(rewards, np.float32),
                      "dones": np.array([False] * (len(actions) - 1) + [success]),
                      "label/subgoal": ids, "label/phrase": ids, "label/start": start,
                      "label/finished": finished,
                      "label/kind": np.array([KINDS.index(kind_of(s)) for s in subgoals],
                                             np.int32)}
            writer.add({"id": f"{task}-{n}", "seed": seed + n, "mission": mission,
                        "success": success}, arrays)
    return str(path)


def subgoal_vocab() -> list[str]:
    """BabyAIPolicy's vocabulary extended with every word of the subgoal strings."""
    from papertools.core.envs.babyai import SUBGOALS
    from papertools.core.learn.policies import mission_vocab

    return mission_vocab(itertools.chain.from_iterable(s.split() for s in SUBGOALS))


def train_low(dataset, run_dir, epochs: int = 2, seed: int = 0) -> str:
    """A small low level cloned on the dataset's segments (the shared BC options); returns
    RUN/policy."""
    from papertools.core.learn.bc import BCConfig, train_bc

    config = BCConfig(policy="babyai",
                      policy_kwargs={"vocab": subgoal_vocab(), "channels": 8, "features": 32,
                                     "head_hidden": 32, "text_hidden": 32, "words": 16},
                      text_labels={"mission": "phrase"}, reset_label="start",
                      aux_labels={"finished": 1.0}, epochs=epochs, seq_len=16, batch_size=8,
                      lr=3e-3, seed=seed, device="cpu")
    train_bc(config, dataset, run_dir, log=lambda record: None)
    return str(run_dir / "policy")
