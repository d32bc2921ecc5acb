"""What every family's native gymnasium env shares: one seed per episode, from ``reset(seed=)``.

A native env (``Native`` in each family module) is seeded only through ``reset(seed=)``; a seed
given to the constructor is used by the first ``reset()`` that gives none. A reset without a seed
after that plays the next episode of the same stream: its seed is drawn from the env's
``np_random``, which the last seeded reset fixed, so a vector env's automatic resets replay too.
"""

from __future__ import annotations

import gymnasium


class NativeEnv(gymnasium.Env):
    """Base of the ``Native`` classes: ``episode_seed`` makes reset's seed the episode's."""

    metadata = {"render_modes": []}

    def __init__(self, seed: int | None = None):
        self._first_seed = None if seed is None else int(seed)
        self.seed = self._first_seed  # the current episode's seed, once reset

    def episode_seed(self, seed: int | None) -> int:
        """The seed of the episode this reset starts (see the module docstring)."""
        if seed is None:
            seed = self._first_seed
        self._first_seed = None
        gymnasium.Env.reset(self, seed=None if seed is None else int(seed) % 2**63)
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        self.seed = int(seed)
        return self.seed
