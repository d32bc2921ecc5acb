"""The one way papertools seeds a NetHack game, for every NLE task (NetHackChallenge included).

NLE seeds a game with two integers, ``core`` (the game's own random numbers: the dungeon, the
monsters, the character) and ``disp`` (the display's: random "hallucination" names, the order of
some messages), and a ``reseed`` flag that papertools always turns off so that a game replays
exactly (NetHack otherwise mixes in fresh entropy now and then). ``gymnasium``'s
``env.reset(seed=...)`` does NOT reach these: it only seeds the wrapper's ``np_random``, so a NetHack
game reset that way is a different game each time. Stock nle 1.3 also forbids ``seed()`` on
NetHackChallenge (its competition lock replaces the seeding methods on the instance); the paper's
data generation (hihack's generate_data.py) lifts the lock the same way :func:`seed_game` does.

    env = gym.make("NetHackChallenge-v0")          # or nle.env.tasks.NetHackChallenge(...)
    seed_game(env, *game_seeds(7))                 # before every reset that should replay
    obs, info = env.reset()

nle is imported on first use.
"""

from __future__ import annotations

_LOCKED = ("set_initial_seeds", "set_current_seeds", "get_current_seeds")


def game_seeds(seed: int) -> tuple[int, int]:
    """(core, disp) seeds of one game from one integer: a fixed, documented derivation."""
    from papertools.core.seed import numpy_rng

    rng = numpy_rng(seed, 7)
    return int(rng.integers(2**31)), int(rng.integers(2**31))


def seed_game(env, core: int, disp: int) -> None:
    """Seed the next game of ``env`` (any gymnasium wrapper around an NLE env), reseeding off."""
    from nle.env import base

    inner = env.unwrapped
    for name in _LOCKED:  # undo NetHackChallenge's seed lock, if any, on this instance
        inner.nethack.__dict__.pop(name, None)
    base.NLE.seed(inner, int(core), int(disp), False)
