"""Fixtures for the diffhist tests: a few short real NetHack episodes played on the NLE."""

from __future__ import annotations

import pytest

from papertools.core.nethack.text import play_steps

SEEDS = (21, 22, 23)
STEPS = 60


@pytest.fixture(scope="session")
def nle_episodes() -> list[list[dict]]:
    """Three short games (simple walker, real NLE), one list of step records each."""
    return [list(play_steps(seed, STEPS)) for seed in SEEDS]


def interleave(*episodes: list[dict]) -> list[dict]:
    """Records of several episodes, round robin: one step of each in turn."""
    out, longest = [], max(len(e) for e in episodes)
    for t in range(longest):
        for episode in episodes:
            if t < len(episode):
                out.append(episode[t])
    return out


@pytest.fixture(scope="session")
def interleaved(nle_episodes) -> list[dict]:
    """The first two episodes interleaved step by step in one stream."""
    return interleave(nle_episodes[0], nle_episodes[1])
