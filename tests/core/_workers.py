"""Top-level work functions for the parallel-map tests (importable by pool and Ray workers)."""

from __future__ import annotations

import time

from papertools.core.errors import InputError
from papertools.core.seed import python_rng


def square(x: int) -> int:
    return x * x


def square_late_first(x: int) -> int:
    """Early items take longest, so a pool finishes them out of order."""
    time.sleep(max(0, 20 - x) * 0.002)
    return x * x


def seeded_draw(seed: int, index: int) -> list:
    """A record's random stream comes from (seed, index) only, never from the worker."""
    rng = python_rng(seed, index)
    return [index, rng.random(), rng.randint(0, 10**9), rng.choice("abcdefgh")]


def fail_on_five(x: int) -> int:
    if x == 5:
        raise InputError("boom", "in.jsonl", 5, "x")
    return x
