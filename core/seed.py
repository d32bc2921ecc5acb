"""Determinism: every random stream is derived from (seed, keys), never from worker identity.

A record's stream is ``derive_seed(seed, record_index)``: the same command with the same ``--seed``
gives the same records whatever ``--workers`` or ``--engine`` says.
"""

from __future__ import annotations

import random

import numpy as np


def derive_seed(seed: int, *keys: int) -> int:
    """A 64-bit seed for the stream named by ``keys`` under ``seed`` (numpy's SeedSequence)."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *map(int, keys)]).generate_state(
        2, dtype=np.uint32)
    return int(words[0]) << 32 | int(words[1])


def numpy_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *keys))


def python_rng(seed: int, *keys: int) -> random.Random:
    return random.Random(derive_seed(seed, *keys))


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's global and (when imported) torch's generators."""
    import sys

    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
