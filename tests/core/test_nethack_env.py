"""core.nethack.env: the one way a NetHack game is seeded, for every NLE task.

gymnasium's reset(seed=) alone does not reach NetHack's generators, so before the seeded factory
bench's NetHack and MiniHack episodes were a different game on every run of the same seed."""

from __future__ import annotations

import hashlib

import pytest

from papertools.core.envs import make_text_env


def first_observation(name: str, seed: int) -> str:
    env = make_text_env(name, seed=seed)
    try:
        return hashlib.sha256(str(env.reset()).encode()).hexdigest()
    finally:
        env.close()


@pytest.mark.parametrize("name", ["minihack/MiniHack-MazeWalk-9x9-v0", "nle/NetHackChallenge-v0"])
def test_the_same_seed_gives_the_same_game(name):
    assert first_observation(name, 3) == first_observation(name, 3)
    assert first_observation(name, 3) != first_observation(name, 4)


def test_seed_game_lifts_the_challenge_lock_and_replays():
    import gymnasium as gym
    import nle  # noqa: F401  registers the environments

    from papertools.core.nethack.env import game_seeds, seed_game

    def play(seed):
        env = gym.make("NetHackChallenge-v0")
        try:
            seed_game(env, *game_seeds(seed))
            obs, _ = env.reset()
            frames = [obs["tty_chars"].tobytes()]
            for action in (1, 2, 3, 4):  # a few moves: the game's own randomness is seeded too
                obs, *_ = env.step(action)
                frames.append(obs["tty_chars"].tobytes())
            return frames
        finally:
            env.close()

    assert play(11) == play(11)
    assert play(11) != play(12)
