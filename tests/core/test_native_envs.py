"""The native gymnasium envs of Crafter, NetHack, MiniHack, TextWorld and Baba Is AI.

Each family's ``Native`` observes its own arrays (or text), steps by action index, and is seeded
only through ``reset(seed=)``: the same seed and the same actions give the same observations,
another seed another episode. The text ``Env`` of each family is an adapter over its ``Native``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tw_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("textworld"))  # one small game, generated once


FAMILIES = {  # family: (task, native options, steps)
    "crafter": ("default", {"max_steps": 60}, 40),
    "nle": ("NetHackChallenge-v0", {}, 30),
    "minihack": ("MiniHack-MazeWalk-9x9-v0", {}, 30),
    "textworld": ("coin_collector", {"games": 1}, 10),
    "babaisai": ("env/two_room-break_stop-goto_win", {}, 40),
}


def native(family, tw_cache, **options):
    task, kwargs = FAMILIES[family][:2]
    if family == "textworld":
        kwargs = dict(kwargs, cache=tw_cache)
    module = importlib.import_module(f"papertools.core.envs.{family}")
    return module.Native(task=task, **dict(kwargs, **options))


def same(a, b) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] if isinstance(a[k], str) else np.array_equal(a[k], b[k]) for k in a)


def play(env, seed, steps, first=None):
    """Observations of an episode under a random action sequence seeded by ``seed``; then the
    first observation of the next, unseeded, reset."""
    obs, _ = env.reset(seed=seed) if first is None else first
    assert env.observation_space.contains(obs)
    frames, rng = [obs], np.random.default_rng(seed)
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        assert env.observation_space.contains(obs)
        assert isinstance(reward, float) and isinstance(terminated, bool)
        frames.append(obs)
        if terminated or truncated:
            break
    frames.append(env.reset()[0])
    return frames


@pytest.mark.parametrize("family", FAMILIES)
def test_native_spaces_and_seeding(family, tw_cache):
    steps = FAMILIES[family][2]
    env = native(family, tw_cache)
    assert len(env.action_words) <= env.action_space.n and env.max_steps > 0
    first = play(env, 3, steps)
    again = native(family, tw_cache, seed=3)  # the constructor's seed serves the first reset
    second = play(again, 3, steps, first=again.reset())
    assert len(first) == len(second) and all(same(a, b) for a, b in zip(first, second))
    if family != "textworld":  # with one game in the pool, every seed plays it
        other = play(env, 4, steps)
        assert not all(same(a, b) for a, b in zip(first, other))
    env.close()
    again.close()


@pytest.mark.parametrize("family", ["crafter", "nle", "minihack", "babaisai"])
def test_text_adapter_steps_the_word_s_index(family):
    from papertools.core.envs import make_text_env

    task = FAMILIES[family][0]
    env = make_text_env(family, task=task, seed=1)
    env.reset()
    played = []
    step = env.native.step
    env.native.step = lambda action: played.append(int(action)) or step(action)
    rng = np.random.default_rng(0)
    for _ in range(15):
        word = env.actions[int(rng.integers(len(env.actions)))]
        _, _, done, _ = env.step(word)
        assert env.native.action_words[played[-1]] == word
        if done:
            break
    env.close()


def test_textworld_adapter_commands_are_the_native_action_words(tw_cache):
    from papertools.core.envs import make_text_env

    env = make_text_env("textworld/coin_collector", seed=0, games=1, cache=tw_cache)
    env.reset()
    assert env.actions == env.native.action_words and "look" in env.actions
    obs, _, _, _ = env.step("look")
    assert obs.text and env.native.state.feedback
    env.close()


def test_crafter_observation_is_picture_and_inventory():
    from papertools.core.envs.crafter import INVENTORY, Native

    env = Native(seed=0)
    obs, _ = env.reset()
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert dict(zip(INVENTORY, obs["inventory"].tolist()))["health"] == 9
    assert obs["inventory"].tolist()[4:] == [0] * 12
    assert env.max_steps == 10_000 and env.action_words[5] == "Do"


def test_baba_grid_counts_the_things():
    from papertools.core.envs.babaisai import CHANNELS, Native

    env = Native("goto_win", seed=0)
    obs, _ = env.reset()
    assert obs["grid"].shape == (9, 11, len(CHANNELS))
    assert obs["grid"].sum() == len(env.level.things)
    baba = next(t for t in env.level.things if t.kind == "baba")
    assert obs["grid"][baba.y, baba.x, CHANNELS.index("baba")] == 1
    assert obs["grid"][..., CHANNELS.index("word:is")].sum() == 2  # baba is you, X is win


@pytest.mark.parametrize("task", ["NetHackChallenge-v0", "NetHackScore-v0", "NetHackStaircase-v0",
                                  "NetHackStaircasePet-v0", "NetHackOracle-v0", "NetHackGold-v0",
                                  "NetHackEat-v0", "NetHackScout-v0"])
def test_nle_tasks_step_with_their_reward(task):
    from nle import nethack

    from papertools.core.envs.nle import NATIVE_KEYS, NLE_TASKS, Native

    assert task in NLE_TASKS
    options = {"penalty_step": 0.0} if task == "NetHackScore-v0" else {}  # no stalling penalty
    env = Native(task, seed=5, **options)
    assert type(env.env.unwrapped).__name__ == task.removesuffix("-v0")
    obs, _ = env.reset()
    assert tuple(obs) == NATIVE_KEYS and env.observation_space.contains(obs)
    start, total, rng = int(obs["blstats"][nethack.NLE_BL_SCORE]), 0.0, np.random.default_rng(0)
    moves = [i for i, w in enumerate(env.action_words) if w in ("north", "east", "south", "west")]
    for _ in range(20):
        obs, reward, terminated, truncated, _ = env.step(moves[int(rng.integers(len(moves)))])
        total += reward
        if terminated or truncated:
            break
    if task == "NetHackScore-v0":  # its reward is the in-game score's change
        assert total == int(obs["blstats"][nethack.NLE_BL_SCORE]) - start
    env.close()


def test_nle_skip_more_answers_the_prompts():
    from papertools.core.envs.nle import Native

    env = Native(seed=2, skip_more=True)
    env.reset()
    rng = np.random.default_rng(1)
    for _ in range(40):
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            break
        assert "--More--" not in env.message
    env.close()


def test_minihack_success_flag_and_seeded_levels():
    from papertools.core.envs.minihack import Native

    env = Native("MiniHack-Corridor-R3-v0", seed=0)
    obs, _ = env.reset()
    _, reward, _, _, info = env.step(0)
    assert info["success"] is (reward >= 1.0)
    assert same(env.reset(seed=7)[0], env.reset(seed=7)[0])
    env.close()
