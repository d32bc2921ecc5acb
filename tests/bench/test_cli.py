"""The command line: run, report, resume, workers, replay, envs, bad input, a real pipe."""

from __future__ import annotations

import math

import orjson
import pytest

from papertools.core.envs import ENVS
from papertools.cli.bench.report import mean_se, summarize
from papertools.core.models.server import ChatServer
from tests.helpers import invoke, shell

ENV = "babyai/goto,babaisai/goto_win,babaisai/two_room-break_stop-goto_win"


def run_args(out, *extra, agent="bot", episodes=2):
    return ["bench", "run", "--env", ENV, "--agent", agent, "--episodes", str(episodes),
            "--out-dir", str(out), "-q", *extra]


def test_run_and_report_match_hand_computation(tmp_path):
    res = invoke(run_args(tmp_path / "r", agent="random"))
    assert res.exit_code == 0, res.stderr
    records = [orjson.loads(x) for x in (tmp_path / "r" / "episodes.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in records] == [f"{t}/{n}" for t in
                                          ["babyai/goto", "babaisai/env/goto_win",
                                           "babaisai/env/two_room-break_stop-goto_win"]
                                          for n in range(2)]
    assert len({r["seed"] for r in records}) == 6
    rep = invoke(["bench", "report", str(tmp_path / "r"), "--json"])
    summary = orjson.loads(rep.stdout)
    baba = [r["progression"] for r in records if r["env"] == "babaisai"]
    mean = sum(baba) / 4
    se = math.sqrt(sum((v - mean) ** 2 for v in baba) / 4) / 2
    assert summary["envs"]["babaisai"]["progression"] == 100 * mean
    assert summary["envs"]["babaisai"]["se"] == 100 * se
    babyai = summary["envs"]["babyai"]
    assert summary["average_progress"] == (babyai["progression"] + 100 * mean) / 2
    assert summary["standard_error"] == math.sqrt(babyai["se"] ** 2 + (100 * se) ** 2) / 2
    table = invoke(["bench", "report", str(tmp_path / "r"), "--plot", str(tmp_path / "p.png")])
    assert "| **average** |" in table.stdout.decode()
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_mean_se_population():
    assert mean_se([0.0, 1.0]) == (0.5, 0.5 / math.sqrt(2))
    s = summarize([{"env": "crafter", "task": "default", "progression": 2 / 22}])
    assert s["envs"]["crafter"]["progression"] == 100 * 2 / 22 and s["standard_error"] == 0.0


def test_bot_reaches_one_and_workers_are_byte_identical(tmp_path):
    one = invoke(run_args(tmp_path / "w1"))
    two = invoke(run_args(tmp_path / "w2", "-w", "2"))
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    a = (tmp_path / "w1" / "episodes.jsonl").read_bytes()
    assert a == (tmp_path / "w2" / "episodes.jsonl").read_bytes()
    assert all(orjson.loads(x)["progression"] == 1.0 for x in a.splitlines())
    log = "steps/babaisai/env__goto_win/1.jsonl"
    assert (tmp_path / "w1" / log).read_bytes() == (tmp_path / "w2" / log).read_bytes()


def test_resume_after_kill_gives_the_same_results(tmp_path):
    assert invoke(run_args(tmp_path / "full", agent="random")).exit_code == 0
    assert invoke(run_args(tmp_path / "cut", agent="random")).exit_code == 0
    full = (tmp_path / "full" / "episodes.jsonl").read_bytes()
    lines = full.splitlines(keepends=True)
    # killed after two episodes, in the middle of writing the third
    (tmp_path / "cut" / "episodes.jsonl").write_bytes(b"".join(lines[:2]) + lines[2][:40])
    again = invoke(run_args(tmp_path / "cut", "--resume", agent="random"))
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "cut" / "episodes.jsonl").read_bytes() == full
    from papertools.cli.bench.runner import lock_dir

    held = lock_dir(tmp_path / "cut")
    busy = invoke(run_args(tmp_path / "cut", "--resume", agent="random"))
    assert busy.exit_code == 1 and "in use by another bench run" in busy.stderr
    held.close()
    refused = invoke(run_args(tmp_path / "cut", agent="random"))
    assert refused.exit_code == 1 and "--resume" in refused.stderr
    other = invoke(run_args(tmp_path / "cut", "--resume", "--history", "2", agent="random"))
    assert other.exit_code == 1 and "history" in other.stderr


def test_resume_replaces_an_interrupted_episodes_partial_step_log(tmp_path):
    """What Ctrl-C leaves: episode 1's step records in 1.jsonl.partial, no 1.jsonl, no record
    in episodes.jsonl. --resume plays episode 1 again; its whole log takes the partial's place."""
    args = ["bench", "run", "--env", "babyai/goto", "--agent", "random", "-q"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert invoke([*args, "--episodes", "2", "--out-dir", str(full)]).exit_code == 0
    assert invoke([*args, "--episodes", "1", "--out-dir", str(cut)]).exit_code == 0
    steps = cut / "steps" / "babyai" / "goto"
    log = (full / "steps" / "babyai" / "goto" / "1.jsonl").read_bytes()
    (steps / "1.jsonl.partial").write_bytes(b"".join(log.splitlines(keepends=True)[:2]))
    again = invoke([*args, "--episodes", "2", "--out-dir", str(cut), "--resume"])
    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in steps.iterdir()) == ["0.jsonl", "1.jsonl"]
    assert (steps / "1.jsonl").read_bytes() == log
    assert (cut / "episodes.jsonl").read_bytes() == (full / "episodes.jsonl").read_bytes()


def test_bad_input_errors(tmp_path):
    res = invoke(["bench", "run", "--env", "chess", "--agent", "random", "--out-dir",
                  str(tmp_path / "x")])
    assert res.exit_code == 1 and "unknown environment 'chess'" in res.stderr
    res = invoke(["bench", "run", "--env", "babyai", "--agent", "genius", "--out-dir",
                  str(tmp_path / "x")])
    assert res.exit_code == 2 and "genius" in res.stderr
    with ChatServer(script=["up"]) as server:
        url = server.url
    res = invoke(["bench", "run", "--env", "babyai/goto", "--agent", "naive", "--model", "m",
                  "--base-url", url, "--timeout", "1", "--out-dir", str(tmp_path / "y")])
    assert res.exit_code == 1 and "cannot reach the model server" in res.stderr
    assert res.stderr.count("\n") == 1  # one line, no traceback
    with ChatServer(script=["up"], api_key="right") as server:
        res = invoke(["bench", "run", "--env", "babyai/goto", "--agent", "cot", "--model", "m",
                      "--base-url", server.url, "--api-key-env", "NO_SUCH_KEY_VAR",
                      "--out-dir", str(tmp_path / "k")])
    assert res.exit_code == 1 and "HTTP 401" in res.stderr and "$NO_SUCH_KEY_VAR" in res.stderr
    assert not (tmp_path / "k" / "episodes.jsonl").exists()
    res = invoke(["bench", "run", "--env", "babyai/goto,crafter", "--agent", "bot",
                  "--episodes", "1", "--out-dir", str(tmp_path / "z")])
    assert res.exit_code == 1 and "no reference bot for crafter" in res.stderr
    assert not (tmp_path / "z").exists()  # refused before any episode
    res = invoke(["bench", "report", str(tmp_path)])
    assert res.exit_code == 1 and "episodes.jsonl" in res.stderr


def test_envs_and_replay(tmp_path):
    res = invoke(["bench", "envs", "--json"])
    assert len(res.records) == sum(len(s.tasks) + len(s.extra_tasks) for s in ENVS.values())
    assert sum(r["suite"] for r in res.records) == sum(len(s.tasks) for s in ENVS.values()
                                                       if s.suite)
    assert invoke(run_args(tmp_path / "r", episodes=1)).exit_code == 0
    out = invoke(["bench", "replay", str(tmp_path / "r"), "--episode",
                  "babaisai/env/goto_win/0"]).stdout.decode()
    assert out.startswith("--- step 0 (babaisai/env/goto_win/0:0)\nActive rules:")
    assert "progression=1.0 done=True" in out


def test_step_logs_pipe_into_diffhist(tmp_path):
    """Real pipes: bench's step records are diffhist's input (the shared schema)."""
    assert invoke(run_args(tmp_path / "r", episodes=1)).exit_code == 0
    log = tmp_path / "r" / "steps" / "babaisai" / "env__goto_win" / "0.jsonl"
    proc = shell(f"papertools diffhist encode {log} | papertools diffhist decode")
    assert proc.returncode == 0, proc.stderr.decode()
    decoded = [orjson.loads(x) for x in proc.stdout.splitlines()]
    original = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    assert [d["obs"] for d in decoded] == [o["obs"] for o in original]


def test_bad_records_name_file_line_and_field(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "episodes.jsonl").write_bytes(
        b'{"id": "a", "env": "babyai", "task": "goto", "progression": 1.0}\n'
        b'{"id": "b", "env": "babyai", "task": "goto"}\n')
    res = invoke(["bench", "report", str(run_dir)])
    assert res.exit_code == 1
    assert f"{run_dir}/episodes.jsonl:2: field 'progression': missing field" in res.stderr
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(b'{"episode": "e", "step": 0, "action": "up"}\n')
    res = invoke(["bench", "run", "--env", "babaisai/goto_win", "--agent", "few_shot",
                  "--icl-file", str(demo), "--model", "m", "--client", "hf",
                  "--out-dir", str(tmp_path / "x"), "--episodes", "1"])
    assert res.exit_code == 1 and f"{demo}:1: field 'obs': missing field" in res.stderr


def test_resume_after_a_real_kill(tmp_path):
    """SIGKILL a running `bench run`, resume it: the same file as an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    args = ["--env", "crafter", "--agent", "random", "--episodes", "3", "--max-steps", "250",
            "-q"]
    assert invoke(["bench", "run", *args, "--out-dir", str(tmp_path / "full")]).exit_code == 0
    exe = str(Path(sys.executable).parent / "papertools")
    proc = subprocess.Popen([exe, "bench", "run", *args, "--out-dir", str(tmp_path / "cut")],
                            stderr=subprocess.DEVNULL)
    episodes = tmp_path / "cut" / "episodes.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if episodes.exists() and episodes.read_bytes().count(b"\n") >= 1:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    again = invoke(["bench", "run", *args, "--out-dir", str(tmp_path / "cut"), "--resume"])
    assert again.exit_code == 0, again.stderr
    full = (tmp_path / "full" / "episodes.jsonl").read_bytes()
    assert (tmp_path / "cut" / "episodes.jsonl").read_bytes() == full


@pytest.mark.slow
def test_ray_engine_gives_the_same_file(tmp_path):
    pytest.importorskip("ray")
    assert invoke(run_args(tmp_path / "inline")).exit_code == 0
    res = invoke(run_args(tmp_path / "ray", "--engine", "ray", "-w", "2"))
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "ray" / "episodes.jsonl").read_bytes() == \
        (tmp_path / "inline" / "episodes.jsonl").read_bytes()
