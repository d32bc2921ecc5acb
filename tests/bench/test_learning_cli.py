"""bench ppo, bench bc, bench curves and bench run --agent policy: the learning layer's front
ends, end to end on real games (small budgets; the learning itself is tested in tests/core)."""

from __future__ import annotations

import orjson

from tests.helpers import invoke


def records(res) -> list[dict]:
    return [orjson.loads(line) for line in res.stdout.splitlines()]


def test_clone_the_bot_then_score_the_policy_in_bench(tmp_path):
    demos, run = tmp_path / "demos", tmp_path / "bc"
    assert invoke(["bench", "collect", "--env", "babyai/GoToLocal", "--agent", "bot",
                   "--episodes", "60", "--out-dir", str(demos), "-q"]).exit_code == 0
    res = invoke(["bench", "bc", str(demos), "--epochs", "2", "--seq-len", "8",
                  "--aux-label", "subgoal=0.5", "--out-dir", str(run), "-q"])
    assert res.exit_code == 0, res.stderr
    logged = records(res)
    assert any(r.get("valid") for r in logged) and (run / "policy" / "policy.json").is_file()
    score = ["bench", "run", "--env", "babyai/GoToLocal", "--agent", "policy", "--policy",
             str(run / "policy"), "--episodes", "4", "--seed", "1", "-q"]
    one = invoke([*score, "--out-dir", str(tmp_path / "e1")])
    two = invoke([*score, "--out-dir", str(tmp_path / "e2"), "-w", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, one.stderr + two.stderr
    a = (tmp_path / "e1" / "episodes.jsonl").read_bytes()
    assert a == (tmp_path / "e2" / "episodes.jsonl").read_bytes()  # sampled, seeded per episode
    assert all(r["config"]["policy_sha256"] for r in map(orjson.loads, a.splitlines()))
    bad = invoke(["bench", "bc", str(demos), "--aux-label", "subgoal=x", "--out-dir",
                  str(tmp_path / "x")])
    assert bad.exit_code == 2 and "NAME=WEIGHT" in bad.stderr


def test_ppo_seeds_as_units_and_their_curves(tmp_path):
    res = invoke(["bench", "ppo", "--env", "minigrid/Empty-5x5", "--frames", "1024", "--envs",
                  "4", "--rollout", "64", "--seed", "0,1", "-w", "2", "--out-dir",
                  str(tmp_path / "ppo"), "-q"])
    assert res.exit_code == 0, res.stderr
    summaries = records(res)
    assert [s["seed"] for s in summaries] == [0, 1] and all(s["frames"] >= 1000 for s in summaries)
    res = invoke(["bench", "curves", str(tmp_path / "ppo" / "seed-0"),
                  str(tmp_path / "ppo" / "seed-1"), "--points", "5", "--plot",
                  str(tmp_path / "c.png"), "--json"])
    assert res.exit_code == 0, res.stderr
    rows = records(res)
    assert {r["arm"] for r in rows} == {"ppo"} and rows[0]["seeds"] == 2
    assert sum("iqm" in r for r in rows) == 5 and rows[-1]["final"]
    assert (tmp_path / "c.png").stat().st_size > 1000
    log = (tmp_path / "ppo" / "seed-0" / "log.jsonl").read_bytes()
    again = invoke(["bench", "ppo", "--env", "minigrid/Empty-5x5", "--frames", "1024", "--envs",
                    "4", "--rollout", "64", "--seed", "0", "--out-dir",
                    str(tmp_path / "ppo" / "seed-0"), "--resume", "-q"])
    assert again.exit_code == 0 and not again.stdout  # finished: nothing more to train
    assert (tmp_path / "ppo" / "seed-0" / "log.jsonl").read_bytes() == log


def test_bc_under_torchrun_two_processes_on_cpu(tmp_path):
    """BC's several-process path (torchrun, DistributedDataParallel over Gloo)."""
    import shutil
    import socket

    import pytest

    from tests.helpers import BIN, shell

    if not (BIN / "torchrun").exists():
        pytest.skip("torchrun is not installed")
    demos = tmp_path / "demos"
    assert invoke(["bench", "collect", "--env", "babyai/GoToLocal", "--agent", "bot",
                   "--episodes", "30", "--out-dir", str(demos), "-q"]).exit_code == 0
    with socket.socket() as sock:  # a free port, so that parallel runs do not collide
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = shell(f"{BIN / 'torchrun'} --nproc_per_node 2 --master_addr 127.0.0.1 "
                 f"--master_port {port} {shutil.which('papertools', path=str(BIN))} bench bc "
                 f"{demos} --epochs 2 --seq-len 8 --batch-size 4 --aux-label subgoal=0.5 "
                 f"--out-dir {tmp_path / 'ddp'} -q", timeout=240)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    logged = [orjson.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]
    assert sum(bool(r.get("valid")) for r in logged) == 2  # rank 0 logs, once per epoch
    assert (tmp_path / "ddp" / "policy" / "policy.json").is_file()


def test_clone_nhrecord_games_from_the_screen_with_strategy_labels(tmp_path):
    """HiHack's set-up in small: nhrecord's games (screens only) -> convert -> BC with the
    strategy head; the policy kind is found from the stored keys."""
    assert invoke(["nhrecord", "record", "--episodes", "2", "--max-steps", "30", "--out-dir",
                   str(tmp_path / "games"), "-q"]).exit_code == 0
    assert invoke(["bench", "convert", str(tmp_path / "games"), "--out-dir",
                   str(tmp_path / "traj"), "-q"]).exit_code == 0
    res = invoke(["bench", "bc", str(tmp_path / "traj"), "--aux-label", "strategy=1",
                  "--epochs", "1", "--seq-len", "16", "--valid-fraction", "0.5", "--out-dir",
                  str(tmp_path / "bc"), "-q"])
    assert res.exit_code == 0, res.stderr
    assert "valid_strategy_accuracy" in records(res)[-1]
    from papertools.core.learn.policies import load_policy

    policy, meta = load_policy(tmp_path / "bc" / "policy")
    assert meta["kind"] == "nethack" and policy.mode == "tty"
