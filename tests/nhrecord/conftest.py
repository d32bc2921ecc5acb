"""Fixtures: one small recorded dataset (real NLE) shared by the dataset tests."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers import invoke

EPISODES, MAX_STEPS, SEED = 2, 300, 5


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """``record --episodes 2 --max-steps 300 --seed 5 --out-dir D --json`` on one worker."""
    root = tmp_path_factory.mktemp("nhrecord") / "games"
    run = invoke(["nhrecord", "record", "--episodes", str(EPISODES), "--max-steps",
                  str(MAX_STEPS), "--seed", str(SEED), "--out-dir", str(root), "--json", "-q"])
    assert run.exit_code == 0, run.stderr
    return root, run.stdout, [orjson.loads(line) for line in run.stdout.splitlines()]


@pytest.fixture(scope="session", autouse=True)
def cache(private_cache):
    """NLE's databases (nhrecord load, open_dataset) go to a cache of the test session's own."""
    return private_cache
