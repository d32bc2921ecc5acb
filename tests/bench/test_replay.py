"""bench replay: every field it reads is checked, a bad one is one line naming file:line:field."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers import invoke

GOOD = {"id": "e:0", "episode": "e", "step": 0, "obs": "a room", "action": "north",
        "reward": 0.5, "done": False, "progression": 0.25, "invalid": True, "candidate": "fly"}


def test_replay_prints_a_checked_log(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(orjson.dumps(GOOD) + b"\n" + orjson.dumps({"obs": "x" * 10, "action": "up",
                                                                "candidate": None}) + b"\n")
    res = invoke(["bench", "replay", str(log), "--max-chars", "4"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.decode() == (
        "--- step 0 (e:0)\na ro [...]\n>>> north  (invalid output 'fly': default)  reward=0.5 "
        "progression=0.25 done=False\n--- step None (None)\nxxxx [...]\n"
        ">>> up  reward=None progression=None done=None\n")


@pytest.mark.parametrize("name, value, want", [
    ("obs", 5, "expected a string, got a number"),
    ("obs", None, "expected a string, got null"),
    ("action", ["up"], "expected a string, got an array"),
    ("id", 3, "expected a string, got a number"),
    ("step", "0", "expected an integer, got a string"),
    ("step", True, "expected an integer, got a boolean"),
    ("reward", "1", "expected a number, got a string"),
    ("progression", {}, "expected a number, got an object"),
    ("done", 1, "expected a boolean, got a number"),
    ("invalid", "yes", "expected a boolean, got a string"),
    ("candidate", 7, "expected a string, got a number"),
])
def test_replay_bad_field_is_one_line(tmp_path, name, value, want):
    log = tmp_path / "log.jsonl"
    log.write_bytes(orjson.dumps(GOOD) + b"\n" + orjson.dumps({**GOOD, name: value}) + b"\n")
    res = invoke(["bench", "replay", str(log)])
    assert res.exit_code == 1
    assert res.stderr == f"papertools bench: error: {log}:2: field {name!r}: {want}\n"


@pytest.mark.parametrize("name", ["obs", "action"])
def test_replay_missing_required_field(tmp_path, name):
    log = tmp_path / "log.jsonl"
    log.write_bytes(orjson.dumps({k: v for k, v in GOOD.items() if k != name}) + b"\n")
    res = invoke(["bench", "replay", str(log)])
    assert res.exit_code == 1
    assert res.stderr == f"papertools bench: error: {log}:1: field {name!r}: missing field\n"


def test_replay_run_folder_checks_its_episode_records(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "0.jsonl").write_bytes(orjson.dumps(GOOD) + b"\n")
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_bytes(b'{"id": "a/b/0", "steps_file": "steps/0.jsonl"}\n'
                         b'{"id": "a/b/1", "steps_file": 4}\n')
    res = invoke(["bench", "replay", str(tmp_path), "--episode", "a/b/0"])
    assert res.exit_code == 0 and res.stdout.startswith(b"--- step 0 (e:0)\n"), res.stderr
    res = invoke(["bench", "replay", str(tmp_path), "--episode", "a/b/1"])
    assert res.exit_code == 1
    assert res.stderr == (f"papertools bench: error: {episodes}:2: field 'steps_file': "
                          "expected a string, got a number\n")
    res = invoke(["bench", "replay", str(tmp_path), "--episode", "a/b/9"])
    assert res.exit_code == 1 and "no episode 'a/b/9' (ids look like a/b/0)" in res.stderr
