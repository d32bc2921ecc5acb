"""The native environment contract, for every registered family: gymnasium spaces, reset/step,
seeding through reset(seed=), the text view's words as native action indices, gymnasium's vector
envs seeding env i with seed + i; and the BabyAI bot over the native env."""

from __future__ import annotations

import hashlib
import importlib

import numpy as np
import pytest

from papertools.core.envs import ENVS, make_env, make_text_env, make_vec_env, parse_env_list, \
    resolve_task
from papertools.core.errors import PapertoolsError

pytest.importorskip("minigrid")

# one representative task per family, plus minigrid's BabyAI levels and MiniGrid's own
CASES = ["babyai/goto", "babyai/GoToLocal", "babyai/UnlockPickup", "minigrid/DoorKey-5x5", "lift/names",
         "minigrid/Empty-Random-5x5", "crafter", "textworld/coin_collector",
         "babaisai/goto_win", "minihack/MiniHack-Room-5x5-v0", "nle/NetHackChallenge-v0",
         "nle/NetHackScore-v0"]
DONE = 6  # minigrid's done action


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    """Per-family options that keep a case small (TextWorld: one generated game, cached)."""
    cache = tmp_path_factory.mktemp("textworld")
    return {"textworld": {"games": 1, "cache": str(cache)}}


def native_env(name, options, **kw):
    family = resolve_task(name)[0]
    module = importlib.import_module(f"papertools.core.envs.{ENVS[family].module}")
    if getattr(module, "Native", None) is None:
        pytest.skip(f"{family} has no native env yet")
    return make_env(name, **options.get(family, {}), **kw)


def digest(obs) -> str:
    """A hash of an observation (a dict of arrays, numbers and strings)."""
    h = hashlib.sha256()

    def feed(value):
        if isinstance(value, dict):
            for key in sorted(value):
                h.update(key.encode())
                feed(value[key])
        elif isinstance(value, str):
            h.update(value.encode())
        elif isinstance(value, (list, tuple)):
            for item in value:
                feed(item)
        else:
            array = np.ascontiguousarray(value)
            h.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())

    feed(obs)
    return h.hexdigest()


def item(batch, i):
    """Env i's observation out of a vector env's batch."""
    if isinstance(batch, dict):
        return {key: item(value, i) for key, value in batch.items()}
    return batch[i]


def rollout(env, seed, steps=12):
    """Digests of the observations under a seeded random action sequence (new episodes
    continue without a seed)."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(1234)
    seen = [digest(obs)]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        seen.append(digest(obs))
        if terminated or truncated:
            obs, _ = env.reset()
    return seen


def test_every_family_has_a_case():
    assert {resolve_task(name)[0] for name in CASES} == set(ENVS)


def test_registry_names():
    assert resolve_task("babyai/BabyAI-GoToLocal-v0") == ("babyai", "GoToLocal")
    assert resolve_task("minigrid/MiniGrid-DoorKey-5x5-v0") == ("minigrid", "DoorKey-5x5")
    assert "minigrid" not in {env for env, _ in parse_env_list("all")}  # BALROG's suite only
    for level in ("GoToLocal", "PickupLoc", "PutNextLocal", "UnlockPickup", "KeyCorridorS3R3",
                  "Synth", "GoTo", "GoToObj", "Pickup", "Open"):
        assert level in ENVS["babyai"].extra_tasks
    for level in ("DoorKey-5x5", "DoorKey-6x6", "Empty-5x5", "Empty-Random-5x5",
                  "KeyCorridorS3R1"):
        assert level in ENVS["minigrid"].tasks


@pytest.mark.parametrize("name", CASES)
def test_spaces_reset_and_step(name, options):
    import gymnasium

    env = native_env(name, options, seed=0)
    try:
        assert isinstance(env, gymnasium.Env)
        assert isinstance(env.action_space, gymnasium.spaces.Discrete)
        if getattr(env, "dynamic_actions", False):  # TextWorld: the admissible commands
            assert 0 < len(env.action_words) <= env.action_space.n
        else:
            assert len(env.action_words) == env.action_space.n
        assert all(isinstance(word, str) and word for word in env.action_words)
        obs, info = env.reset()
        assert env.observation_space.contains(obs) and isinstance(info, dict)
        assert int(env.max_steps) > 0
        for action in range(min(4, env.action_space.n)):
            obs, reward, terminated, truncated, info = env.step(action)
            assert env.observation_space.contains(obs)
            assert isinstance(reward, float) and isinstance(terminated, bool)
            assert isinstance(truncated, bool) and isinstance(info, dict)
            if terminated or truncated:
                env.reset()
    finally:
        env.close()


@pytest.mark.parametrize("name", CASES)
def test_the_seed_decides_the_trajectory(name, options):
    env = native_env(name, options)
    try:
        first = rollout(env, seed=7)
        assert rollout(env, seed=7) == first
        if getattr(env, "games", 2) > 1:  # a one-game TextWorld pool plays it for every seed
            assert rollout(env, seed=8) != first
    finally:
        env.close()
    seeded = native_env(name, options, seed=7)  # the constructor's seed serves the first reset
    try:
        assert digest(seeded.reset()[0]) == first[0]
    finally:
        seeded.close()


@pytest.mark.parametrize("name", CASES)
def test_text_words_are_native_actions(name, options):
    family = resolve_task(name)[0]
    native_env(name, options).close()  # skips a family without one
    text = make_text_env(name, seed=3, **options.get(family, {}))
    native = native_env(name, options, seed=3)
    try:
        assert text.native is not None
        words = text.native.action_words
        if not text.free_text_actions:
            for word in text.actions:
                assert words[words.index(word)] == word
        # the same words in the text view and their indices in a native env play the same game
        text.reset()
        native.reset()
        rng = np.random.default_rng(5)
        playable = [w for w in text.actions if w in words] or list(words)
        for _ in range(8):
            word = playable[int(rng.integers(len(playable)))]
            _, reward, done, info = text.step(word)
            _, native_reward, terminated, _, _ = native.step(words.index(word))
            assert reward == native_reward and info["terminated"] == terminated
            if done:
                break
        if family in ("babyai", "minigrid"):
            assert np.array_equal(text.native.grid.encode(), native.grid.encode())
            assert tuple(text.native.agent_pos) == tuple(native.agent_pos)
    finally:
        text.close()
        native.close()


@pytest.mark.parametrize("name", CASES)
def test_vector_env_seeds_env_i_with_seed_plus_i(name, options):
    family = resolve_task(name)[0]
    singles = []
    for i in range(2):
        env = native_env(name, options)
        singles.append(digest(env.reset(seed=20 + i)[0]))
        env.close()
    envs = make_vec_env(name, 2, seed=20, **options.get(family, {}))
    try:
        obs, _ = envs.reset()  # the constructor's seeds
        assert [digest(item(obs, i)) for i in range(2)] == singles
        obs, _ = envs.reset(seed=20)
        assert [digest(item(obs, i)) for i in range(2)] == singles
        obs, rewards, terminated, truncated, _ = envs.step(np.array([0, 1]))
        assert rewards.shape == terminated.shape == truncated.shape == (2,)
        assert envs.single_observation_space.contains(item(obs, 0))
    finally:
        envs.close()


def test_async_vector_env_matches_sync():
    sync = make_vec_env("minigrid/DoorKey-5x5", 2, seed=3)
    parallel = make_vec_env("minigrid/DoorKey-5x5", 2, seed=3, asynchronous=True)
    try:
        a, _ = sync.reset()
        b, _ = parallel.reset()
        assert list(b["mission"]) == list(a["mission"])  # strings survive the processes
        rng = np.random.default_rng(0)
        for _ in range(10):
            actions = rng.integers(7, size=2)
            a, ra, *_ = sync.step(actions)
            b, rb, *_ = parallel.step(actions)
            assert digest(a) == digest(b) and np.array_equal(ra, rb)
    finally:
        sync.close()
        parallel.close()


def test_babyai_rgb_view():
    env = make_env("babyai/GoToLocal", seed=0, rgb=True, tile_size=8)
    obs, _ = env.reset()
    assert obs["rgb"].shape == (56, 56, 3) and obs["rgb"].dtype == np.uint8
    assert env.observation_space.contains(obs)


def test_text_view_of_a_new_level():
    env = make_text_env("babyai/GoToLocal", seed=1)
    obs = env.reset()
    assert env.mission.startswith("go to") and env.mission in env.instruction()
    assert obs.text.count("\n") >= 3  # walls and GoToLocal's distractors
    bot, done = env.bot(), False
    while not done:
        _, _, done, _ = env.step(bot.act())
    assert env.progression == 1.0
    assert bot.act() == "turn left"  # the mission is over: a word that moves nothing
    minigrid = make_text_env("minigrid/DoorKey-5x5", seed=0)
    assert (minigrid.name, minigrid.task) == ("minigrid", "DoorKey-5x5")
    assert "key" in minigrid.reset().text
    with pytest.raises(PapertoolsError, match="BabyAI level"):
        minigrid.bot()  # MiniGrid's levels have no instructions for the bot


# -- the BabyAI bot over the native env -----------------------------------------------------------
def play_bot(name, seed):
    from papertools.core.envs.babyai import Bot

    env = make_env(name, seed=seed)
    env.reset()
    bot, plans = Bot(env), []
    while True:
        action = bot.act()
        plans.append(bot.subgoals())
        _, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return env, bot, reward, plans


@pytest.mark.parametrize("level", ["GoToLocal", "PickupLoc"])
def test_bot_solves_levels_through_native(level):
    for seed in range(4):
        env, bot, reward, plans = play_bot(f"babyai/{level}", seed)
        assert reward > 0, (level, seed)
        assert [bot.act() for _ in range(3)] == [DONE] * 3  # no IndexError once done
        env.step(DONE)


def test_bot_subgoals_name_kind_target_and_reason():
    env, _, _, plans = play_bot("babyai/PutNextLocal", 0)
    mission = env.mission  # "put the red ball next to the green key"
    first = plans[0]
    assert [goal["kind"] for goal in first] == ["Drop", "GoNextTo", "Pickup", "GoNextTo"]
    assert first[1]["reason"] == "PutNext" and first[-1]["reason"] == ""
    moved, fixed = first[-1]["target"], first[1]["target"]
    assert mission.index(moved.split()[-1]) < mission.index(fixed.split()[-1])
    for plan in plans[:-1]:
        assert plan and all(isinstance(goal[key], str) for goal in plan
                            for key in ("kind", "target", "reason"))
    _, _, _, plans = play_bot("babyai/UnlockPickup", 1)
    kinds = {goal["kind"] for plan in plans for goal in plan}
    assert {"GoNextTo", "Open", "Pickup", "Drop"} <= kinds
    assert any(goal["reason"] for plan in plans for goal in plan)


def test_registry_lists_nles_own_tasks():
    from papertools.core.envs.nle import NLE_TASKS

    spec = ENVS["nle"]
    assert spec.tasks + spec.extra_tasks == tuple(NLE_TASKS)
