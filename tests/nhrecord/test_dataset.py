"""Recorded games on the real NLE: NLE's loaders read them, the sidecar aligns, runs repeat."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from papertools.core.nethack import strategies
from papertools.core.nethack.dataset import ttyrec_content, ttyrec_keys
from papertools.core.nethack.dataset import game_rows, open_dataset
from tests.helpers import ROOT, invoke

from .conftest import EPISODES, MAX_STEPS, SEED


def _summaries(root: Path) -> list[dict]:
    return [orjson.loads(line) for line in (root / "summary.jsonl").read_bytes().splitlines()]


def test_layout_and_step_records(recorded):
    root, _, records = recorded
    games = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert games == ["game-00000", "game-00001"]
    for i, name in enumerate(games):
        files = sorted(p.name for p in (root / name).iterdir())
        assert files == ["game.json", f"nle.{i}.0.ttyrec3.bz2", f"nle.{i}.strategies.npy",
                         f"nle.{i}.xlogfile", "timing.json"]
    assert len(records) == EPISODES * MAX_STEPS
    first = records[0]
    assert first["id"] == f"nh-{SEED}-0:0" and first["episode"] == f"nh-{SEED}-0"
    assert first["obs"].startswith("statistics[\n") and "\nglyphs[\n" in first["obs"]
    assert set(first["obs_blocks"]) == {"statistics", "glyphs", "message", "inventory", "cursor"}
    assert len(first["tty"].split("\n")) == 24
    for r in records:
        assert strategies.name(r["strategy"]) == r["strategy_name"]
        assert r["strategy_name"] not in strategies.RESERVED
    assert [r["step"] for r in records[:MAX_STEPS]] == list(range(MAX_STEPS))
    assert records[MAX_STEPS - 1]["done"] and not any(r["done"] for r in records[:MAX_STEPS - 1])


def test_ttyrec_replays_with_aligned_strategies(recorded):
    """TtyrecDataset yields as many rows as keys logged; agent rows = JSONL steps; the screen
    and key of each agent row are the JSONL step's."""
    root, _, records = recorded
    by_step = {(r["episode"], r["step"]): r for r in records}
    rows = list(game_rows(root))
    for game in range(EPISODES):
        side = np.load(root / f"game-{game:05d}" / f"nle.{game}.strategies.npy")
        mine = [r for r in rows if r["game"] == game]
        assert len(mine) == len(side) == len(ttyrec_keys(
            root / f"game-{game:05d}" / f"nle.{game}.0.ttyrec3.bz2"))
        agent_rows = [r for r in mine if r["agent"]]
        assert [r["step"] for r in agent_rows] == list(range(MAX_STEPS))
        # Keys NLE sent itself: at reset (step -1, init, before the first agent key) or after
        # the last agent step (the quit at --max-steps).
        first = next(i for i, r in enumerate(mine) if r["agent"])
        assert all(r["step"] == -1 and r["strategy"] == 7 for r in mine[:first])
        last = max(i for i, r in enumerate(mine) if r["agent"])
        assert all(r["step"] == MAX_STEPS - 1 and not r["agent"] for r in mine[last + 1:])
        assert last + 1 < len(mine)  # the quit keys are there
        for row in agent_rows[::37] + agent_rows[-1:]:
            rec = by_step[(f"nh-{SEED}-{game}", row["step"])]
            screen = "\n".join(bytes(x).decode("latin-1").rstrip() for x in row["tty_chars"])
            assert screen == rec["tty"]
            assert row["key"] == rec["key"] and row["strategy"] == rec["strategy"]


def test_minibatches_follow_games_across_lanes(recorded):
    """Batch 2 x 64: every non-padding row's strategy is its game's sidecar row."""
    root, _, _ = recorded
    ds = open_dataset(root, batch_size=2, seq_length=64)
    seen = 0
    for mb in ds:
        assert mb["strategies"].shape == mb["keypresses"].shape == (2, 64)
        pad = mb["gameids"] == 0
        assert (mb["strategies"][pad] == -1).all()
        assert set(np.unique(mb["strategies"][~pad])) <= set(strategies.NAMES)
        seen += int((~pad).sum())
    assert seen == sum(s["keypresses"] for s in _summaries(root))


def test_games_table_matches_xlogfile(recorded):
    root, _, _ = recorded
    ds = open_dataset(root, batch_size=1, seq_length=8)
    summary = ds.summary()
    assert [s["game"] for s in summary] == list(range(EPISODES))
    for s in summary:
        xlog = (root / s["folder"] / f"nle.{s['game']}.xlogfile").read_text()
        fields = dict(kv.split("=", 1) for kv in xlog.strip().split("\t"))
        meta = ds.get_meta(s["gameid"])
        assert meta["points"] == int(fields["points"]) == s["points"]
        assert meta["turns"] == int(fields["turns"]) == s["turns"]
        assert meta["maxlvl"] == int(fields["maxlvl"])
        assert meta["death"] == fields["death"] == "quit"  # ended at --max-steps, in-game
        assert s["end_reason"] == "max_steps"
    with sqlite3.connect(ds.dbfilename) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"games", "ttyrecs", "nhrecord_games"} <= names


def _content(root: Path) -> dict:
    """Everything but wall-clock fields: summaries, sidecars, ttyrec records, xlog sans times."""
    out = {"summary": (root / "summary.jsonl").read_bytes(),
           "marker": (root / "nhrecord.json").read_bytes()}
    clock = {"starttime", "endtime", "realtime", "birthdate", "deathdate"}
    for folder in sorted(root.glob("game-*")):
        i = folder.name.split("-")[1].lstrip("0") or "0"
        out[folder.name] = (
            (folder / "game.json").read_bytes(),
            (folder / f"nle.{i}.strategies.npy").read_bytes(),
            ttyrec_content(folder / f"nle.{i}.0.ttyrec3.bz2"),
            sorted(kv for kv in (folder / f"nle.{i}.xlogfile").read_text().strip().split("\t")
                   if kv.split("=")[0] not in clock))
    return out


def test_workers_give_identical_datasets(recorded, tmp_path):
    root, stdout, _ = recorded
    other = tmp_path / "w2"
    run = invoke(["nhrecord", "record", "--episodes", str(EPISODES), "--max-steps",
                  str(MAX_STEPS), "--seed", str(SEED), "--out-dir", str(other), "--json", "-q",
                  "-w", "2"])
    assert run.exit_code == 0, run.stderr
    assert run.stdout == stdout
    assert _content(other) == _content(root)


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path):
    """Ctrl-C during game 1 keeps game 0 and leaves no half game; --resume completes the same
    dataset as an uninterrupted run. The run interrupts itself at step 150 of game 1
    (KeyboardInterrupt, what SIGINT raises), so no timing decides where it stops."""
    args = ["--episodes", "3", "--max-steps", "300", "--seed", "11", "-q"]
    killed = tmp_path / "killed"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PAPERTOOLS_NHRECORD_INTERRUPT="1:150")
    proc = subprocess.run(["papertools", "nhrecord", "record", *args, "--out-dir", str(killed)],
                          cwd=ROOT, env=env, stderr=subprocess.PIPE)
    assert proc.returncode == 130, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    assert sorted(p.name for p in killed.iterdir()) == [".lock", "game-00000", "nhrecord.json",
                                                        "summary.jsonl"]  # no half game
    assert [s["game"] for s in _summaries(killed)] == [0]
    # The interrupted dataset is readable as it stands, and reading it writes nothing there.
    assert len(list(game_rows(killed, 0))) > 0
    assert sorted(p.name for p in killed.iterdir()) == [".lock", "game-00000", "nhrecord.json",
                                                        "summary.jsonl"]
    # Without --resume the folder is refused; with it, the run completes.
    refused = invoke(["nhrecord", "record", *args, "--out-dir", str(killed)])
    assert refused.exit_code == 1 and "--resume" in refused.stderr
    resumed = invoke(["nhrecord", "record", *args, "--out-dir", str(killed), "--resume"])
    assert resumed.exit_code == 0, resumed.stderr
    straight = tmp_path / "straight"
    assert invoke(["nhrecord", "record", *args, "--out-dir", str(straight)]).exit_code == 0
    assert _content(killed) == _content(straight)
    assert len(list(game_rows(killed))) == sum(s["keypresses"] for s in _summaries(killed))


def test_a_second_recorder_on_the_same_folder_is_refused(tmp_path):
    """Two recorders on one --out-dir would remove each other's half-written games: the second
    gets one clean line naming the folder and changes nothing there."""
    from papertools.core.locks import lock_folder

    args = ["nhrecord", "record", "--episodes", "1", "--max-steps", "50", "--seed", "11", "-q",
            "--out-dir", str(tmp_path)]
    assert invoke(args).exit_code == 0
    partial = tmp_path / ".partial-game-00001"  # a running recorder's game in progress
    partial.mkdir()
    holder = lock_folder(tmp_path)
    try:
        refused = invoke([*args[:3], "2", *args[4:], "--resume"])
    finally:
        os.close(holder)
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines()[-1].endswith(
        f"{tmp_path} is in use by another recorder (process {os.getpid()})")
    assert partial.is_dir() and len(_summaries(tmp_path)) == 1  # nothing removed or added
    resumed = invoke([*args[:3], "2", *args[4:], "--resume"])  # free again
    assert resumed.exit_code == 0 and len(_summaries(tmp_path)) == 2


def test_games_nle_cannot_quit_are_finished_and_indexable(tmp_path):
    """Random game 11 at seed 0 leaves NetHack where NLE's own quit fails after the
    no-progress abort; the recorder ends it in-game, so it has its xlogfile line, the extra keys
    are in the ttyrec and the sidecar (as NLE-side keys), and the loader reads every game."""
    import papertools.cli.nhrecord.game as game

    calls = []
    original = game._end_game

    def spy(nethack, tries=400):
        calls.append(1)
        return original(nethack, tries)

    game._end_game = spy
    try:
        run = invoke(["nhrecord", "record", "--agent", "random", "--episodes", "12", "--seed",
                      "0", "--out-dir", str(tmp_path / "r"), "-q"])
    finally:
        game._end_game = original
    assert run.exit_code == 0, run.stderr
    assert calls == [1]
    root = tmp_path / "r"
    summary = _summaries(root)
    assert [s["end"] for s in summary].count("no_progress") >= 1
    assert all(s["death"] == "quit" for s in summary)
    eleven = summary[11]
    side = np.load(root / "game-00011" / "nle.11.strategies.npy")
    assert eleven["end"] == "no_progress" and side["agent"].sum() == eleven["steps"]
    assert len(side) - eleven["steps"] > 10  # NLE's failed quit, then ours
    assert all(s["strategy_counts"] == {"init": s["steps"]} for s in summary)
    ds = open_dataset(root, batch_size=3, seq_length=500)
    assert sum(int((mb["gameids"] != 0).sum()) for mb in ds) == sum(s["keypresses"]
                                                                       for s in summary)
