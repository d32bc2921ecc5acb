"""Trajectory datasets: writing, resuming, reading while written, batches, splits, converters."""

from __future__ import annotations

import os

import numpy as np
import orjson
import pytest

from papertools.core.errors import InputError, PapertoolsError
from papertools.core.trajectories import (TrajectoryDataset, TrajectoryWriter, decode_text,
                                          encode_text, episode_file)
from tests.helpers import invoke

META = {"env": "toy/grid", "observation": {"grid": {"dtype": "uint8", "shape": [2, 2]},
                                           "text": {"dtype": "uint8", "shape": [None]}},
        "labels": {"subgoal": ["open", "go", "pick"]}}


def episode(steps: int, tag: int) -> dict:
    """Arrays whose values say where they come from: grid[t] is full of 10 * tag + t."""
    grid = np.stack([np.full((2, 2), 10 * tag + t, np.uint8) for t in range(steps + 1)])
    return {"obs/grid": grid, "obs/text": encode_text([f"e{tag}s{t}" * (t + 1)
                                                       for t in range(steps + 1)]),
            "actions": np.arange(steps) % 4 + tag, "rewards": np.full(steps, 0.5, np.float32),
            "dones": np.arange(steps) == steps - 1, "label/subgoal": np.arange(steps) % 3}


def write(path, lengths, **kw) -> None:
    with TrajectoryWriter(path, META, **kw) as out:
        for tag, steps in enumerate(lengths):
            out.add({"id": f"e{tag}", "seed": tag, "success": tag % 2 == 0,
                     "mission": f"mission {tag}"}, episode(steps, tag))


def all_batches(ds, ids, **kw):
    return list(ds.batches(ids, **kw))


def test_round_trip_and_exact_batches(tmp_path):
    write(tmp_path / "d", [3, 5, 1])
    ds = TrajectoryDataset(tmp_path / "d")
    assert ds.meta["format"] == "papertools-trajectories" and ds.meta["version"] == 1
    assert ds.ids == ["e0", "e1", "e2"]
    rec = ds.episodes[1]
    assert rec["length"] == 5 and rec["return"] == 2.5 and rec["file"] == "episodes/e1.npz"
    assert rec["env"] == "toy/grid" and rec["seed"] == 1 and rec["mission"] == "mission 1"
    back = ds.load("e1")
    for name, value in episode(5, 1).items():
        assert np.array_equal(back[name], value), name
    assert back["actions"].dtype == np.int64 and back["label/subgoal"].dtype == np.int32
    assert not back["truncated"].any()
    assert decode_text(back["obs/text"][2]) == "e1s2" * 3

    # two lanes, windows of 2: lane 0 plays e0 (3 steps) then e2; lane 1 plays e1 (5 steps)
    batches = all_batches(ds, ds.ids, seq_len=2, batch_size=2, shuffle=False)
    assert len(batches) == 3
    mask = [b["mask"].astype(int).tolist() for b in batches]
    assert mask == [[[1, 1], [1, 1]], [[1, 0], [1, 1]], [[1, 0], [1, 0]]]
    first = [b["first"].astype(int).tolist() for b in batches]
    assert first == [[[1, 0], [1, 0]], [[0, 0], [0, 0]], [[1, 0], [0, 0]]]
    assert [b["episode"]["id"] for b in batches] == [["e0", "e1"], ["e0", "e1"], ["e2", "e1"]]
    assert batches[2]["episode"]["mission"] == ["mission 2", "mission 1"]
    assert [b["step"].tolist() for b in batches] == [[0, 0], [2, 2], [0, 4]]
    grid = batches[1]["obs"]["grid"]
    assert grid.shape == (2, 2, 2, 2) and grid[0, 0, 0, 0] == 2 and grid[0, 1].sum() == 0
    assert grid[1, :, 0, 0].tolist() == [12, 13]
    assert batches[1]["actions"].tolist() == [[2, 0], [3, 4]]
    assert batches[1]["labels"]["subgoal"].tolist() == [[2, -1], [2, 0]]
    assert batches[1]["dones"].tolist() == [[True, False], [False, False]]
    text = batches[1]["obs"]["text"]  # padded to the widest of the batch's episodes (e1's)
    assert text.shape == (2, 2, len("e1s5") * 6)
    assert decode_text(text[1, 1]) == "e1s3" * 4 and decode_text(text[0, 1]) == ""


def test_lanes_run_dry_and_empty_episodes(tmp_path):
    write(tmp_path / "d", [2, 0])
    ds = TrajectoryDataset(tmp_path / "d")
    (only,) = all_batches(ds, ds.ids, seq_len=4, batch_size=3, shuffle=False)
    assert only["mask"].sum() == 2 and only["episode"]["id"] == ["e0", "", ""]
    assert ds.load("e1")["obs/grid"].shape == (1, 2, 2)


def test_writer_checks_arrays(tmp_path):
    with TrajectoryWriter(tmp_path / "d", META) as out:
        good = episode(3, 0)
        cases = [({**good, "obs/grid": good["obs/grid"][:3]}, r"T\+1 observations"),
                 ({**good, "extra": good["actions"]}, "not in the dataset's description"),
                 ({k: v for k, v in good.items() if k != "label/subgoal"}, "missing array"),
                 ({**good, "actions": good["actions"] + 0.5}, "integer"),
                 ({**good, "label/subgoal": np.full(3, 3)}, "outside -1..2"),
                 ({**good, "obs/grid": good["obs/grid"].astype(np.float32)}, "dtype")]
        for arrays, message in cases:
            with pytest.raises(PapertoolsError, match=message):
                out.add({"id": "x"}, arrays)
        out.add({"id": "x"}, good)
        with pytest.raises(PapertoolsError, match="already"):
            out.add({"id": "x"}, good)
        with pytest.raises(PapertoolsError, match="episode id"):
            out.add({"id": ".hidden"}, good)
    assert TrajectoryDataset(tmp_path / "d").ids == ["x"]
    assert episode_file("babyai/goto/0") == "episodes/babyai%2Fgoto%2F0.npz"


def test_resume_after_a_crash(tmp_path):
    path = tmp_path / "d"
    write(path, [3, 2])
    # a crash: the record of e2 torn mid-line, the npz of e3 written without its record, and a
    # temporary file of a half-written npz
    with open(path / "episodes.jsonl", "ab") as fh:
        fh.write(b'{"id": "e2", "env": "toy/gr')
    (path / "episodes" / "e3.npz").write_bytes(b"half an npz")
    (path / "episodes" / ".e4.npz.abc.tmp").write_bytes(b"junk")
    assert TrajectoryDataset(path).ids == ["e0", "e1"]  # the torn line is not read
    with pytest.raises(PapertoolsError, match="resume"):
        TrajectoryWriter(path, META)
    with pytest.raises(PapertoolsError, match=r"other settings \(env, labels\)"):
        TrajectoryWriter(path, {**META, "env": "toy/other", "labels": {}}, resume=True)
    with TrajectoryWriter(path, META, resume=True) as out:
        assert out.done_ids == {"e0", "e1"}
        assert not list((path / "episodes").glob(".*.tmp"))
        assert (path / "episodes.jsonl").read_bytes().endswith(b"}\n")
        out.add({"id": "e3"}, episode(4, 3))
    ds = TrajectoryDataset(path)
    assert ds.ids == ["e0", "e1", "e3"]
    assert np.array_equal(ds.load("e3")["obs/grid"], episode(4, 3)["obs/grid"])


def test_folder_must_be_new_or_a_dataset(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(PapertoolsError, match="not empty"):
        TrajectoryWriter(tmp_path / "d", META)
    with TrajectoryWriter(tmp_path / "e", META):
        with pytest.raises(PapertoolsError, match="in use"):
            TrajectoryWriter(tmp_path / "e", META, resume=True)


def test_reading_while_writing(tmp_path):
    with TrajectoryWriter(tmp_path / "d", META) as out:
        reader = TrajectoryDataset(tmp_path / "d")
        assert reader.ids == []
        out.add({"id": "a"}, episode(2, 0))
        reader.reload()
        assert reader.ids == ["a"] and reader.load("a")["actions"].tolist() == [0, 1]
        out.add({"id": "b"}, episode(1, 1))
        assert TrajectoryDataset(tmp_path / "d").ids == ["a", "b"]


def test_split_by_episode(tmp_path):
    write(tmp_path / "d", [2] * 20)
    ds = TrajectoryDataset(tmp_path / "d")
    train, valid = ds.split(0.2, seed=0)
    assert len(valid) == 4 and len(train) == 16 and not set(train) & set(valid)
    assert sorted(train + valid) == sorted(ds.ids)
    assert ds.split(0.2, seed=0) == (train, valid)
    assert ds.split(0.2, seed=1) != (train, valid)
    steps = {(e, int(s)) for b in ds.batches(valid, 1, 4, seed=0)
             for e, s, m in zip(b["episode"]["id"], b["step"], b["mask"][:, 0]) if m}
    assert {e for e, _ in steps} == set(valid)  # every step of a valid episode, none of train
    assert ds.split(0.0) == (ds.ids, [])


def test_batches_are_deterministic_and_cover_each_step_once(tmp_path):
    write(tmp_path / "d", [3, 5, 1, 4, 2, 6, 3])
    ds = TrajectoryDataset(tmp_path / "d")

    def run(seed, **kw):
        return [(b["episode"]["id"], b["step"].tolist(), b["actions"].tolist(),
                 b["mask"].tolist()) for b in ds.batches(ds.ids, 2, 3, seed=seed, **kw)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    two = list(ds.batches(ds.ids, 2, 3, seed=7, epochs=2))
    seen = [(e, int(s) + t) for b in two for e, s, m in zip(b["episode"]["id"], b["step"],
                                                              b["mask"]) for t in np.flatnonzero(m)]
    assert sorted(seen) == sorted([(f"e{i}", t) for i, n in enumerate([3, 5, 1, 4, 2, 6, 3])
                                   for t in range(n)] * 2)
    order = [b["episode"]["id"][0] for b in two]
    assert order[:len(order) // 2] != order[len(order) // 2:]  # each epoch shuffles anew
    only = next(ds.batches(ds.ids, 2, 3, seed=7, obs_keys=["grid"]))
    assert list(only["obs"]) == ["grid"]


def test_streaming_with_a_small_cache(tmp_path):
    write(tmp_path / "d", [3, 5, 1, 4, 2, 6, 3])
    small = TrajectoryDataset(tmp_path / "d", cache_size=1)
    none = TrajectoryDataset(tmp_path / "d", cache_size=0)
    a = list(small.batches(small.ids, 2, 2, seed=3, epochs=2))
    b = list(none.batches(none.ids, 2, 2, seed=3, epochs=2))
    assert len(small._cache) <= 1 and not none._cache
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(x[k], y[k]) for k in ("actions", "mask", "first"))
        assert np.array_equal(x["obs"]["text"], y["obs"]["text"])


def test_bad_folders_name_the_file_and_line(tmp_path):
    path = tmp_path / "d"
    write(path, [2, 2])
    lines = (path / "episodes.jsonl").read_bytes().splitlines(keepends=True)
    for bad, line, message in [(b"{not json\n", 2, "not valid JSON"),
                               (b'{"id": "e1", "file": "episodes/e1.npz"}\n', 2, "length"),
                               (lines[0], 2, "repeats")]:
        (path / "episodes.jsonl").write_bytes(lines[0] + bad)
        with pytest.raises(InputError, match=message) as err:
            TrajectoryDataset(path)
        assert err.value.file.endswith("episodes.jsonl") and err.value.line == line
    (path / "episodes.jsonl").write_bytes(b"".join(lines))
    os.unlink(path / "episodes" / "e1.npz")
    with pytest.raises(InputError, match="missing episode file") as err:
        TrajectoryDataset(path).load("e1")
    assert err.value.file.endswith("e1.npz")
    np.savez(path / "episodes" / "e1.npz", **{**episode(2, 1), "actions": np.zeros(5, int)})
    with pytest.raises(InputError, match="length 2") as err:
        TrajectoryDataset(path).load("e1")
    assert err.value.file.endswith("e1.npz")
    (path / "dataset.json").write_bytes(orjson.dumps({"format": "other"}))
    with pytest.raises(InputError, match="format") as err:
        TrajectoryDataset(path)
    assert err.value.file.endswith("dataset.json")
    with pytest.raises(InputError, match="no dataset.json"):
        TrajectoryDataset(path / "episodes")


# -- converters on real inputs ----------------------------------------------------------------
def test_from_nhrecord(tmp_path, monkeypatch):
    from nle import nethack

    from papertools.core.trajectories_convert import from_nhrecord

    monkeypatch.setenv("PAPERTOOLS_CACHE", str(tmp_path / "cache"))
    games = tmp_path / "games"
    run = invoke(["nhrecord", "record", "--episodes", "1", "--max-steps", "30", "--seed", "4",
                  "--out-dir", str(games), "--json", "-q"])
    assert run.exit_code == 0, run.stderr
    steps = [orjson.loads(line) for line in run.stdout.splitlines()]
    assert from_nhrecord(games, tmp_path / "traj") == 1
    ds = TrajectoryDataset(tmp_path / "traj")
    (rec,) = ds.episodes
    assert rec["id"] == "nh-4-0" and rec["length"] == 30 and rec["env"] == ds.meta["env"]
    arrays = ds.load(rec["id"])
    assert arrays["obs/tty_chars"].shape == (31, 24, 80)
    assert arrays["obs/tty_cursor"].shape == (31, 2)
    vocab = ds.meta["labels"]["strategy"]
    for t, step in enumerate(steps):
        assert int(nethack.ACTIONS[arrays["actions"][t]]) == step["key"]
        assert vocab[arrays["label/strategy"][t]] == step["strategy_name"]
        screen = "\n".join(bytes(row).decode("latin-1").rstrip()
                           for row in arrays["obs/tty_chars"][t])
        assert screen == step["tty"]
    assert arrays["truncated"][-1] and not arrays["dones"].any()  # ended at --max-steps
    assert from_nhrecord(games, tmp_path / "traj", resume=True) == 0


def test_from_bench_run(tmp_path):
    from papertools.core.trajectories_convert import from_bench_run

    run = tmp_path / "run"
    res = invoke(["bench", "run", "--env", "babyai/goto", "--agent", "random", "--episodes",
                  "2", "--max-steps", "6", "--out-dir", str(run), "-q"])
    assert res.exit_code == 0, res.stderr
    assert from_bench_run(run, tmp_path / "traj") == 2
    ds = TrajectoryDataset(tmp_path / "traj")
    words = ds.meta["action_words"]
    assert ds.meta["env"] == "babyai/goto" and "go forward" in words
    for rec in ds.episodes:
        log = [orjson.loads(line) for line in (run / rec["steps_file"]).read_bytes().splitlines()]
        arrays = ds.load(rec["id"])
        assert [words[a] for a in arrays["actions"]] == [s["action"] for s in log]
        assert [decode_text(r) for r in arrays["obs/text"]] == [s["obs"] for s in log] + [""]
        assert rec["mission"] == log[0]["mission"] and rec["length"] == len(log)
    batch = next(ds.batches(ds.ids, 8, 2, seed=0))
    assert batch["mask"].sum() == sum(r["length"] for r in ds.episodes)
    with pytest.raises(PapertoolsError, match="holds no episodes"):
        from_bench_run(run, tmp_path / "other", env="crafter")
