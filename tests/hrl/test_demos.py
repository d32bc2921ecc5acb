"""hrl demos: labels and segments, determinism across workers, resume, excluded pairs, CLI."""

import numpy as np
import orjson
import pytest

from papertools.cli.hrl import language
from papertools.cli.hrl.demos import record_demos
from papertools.core.errors import PapertoolsError
from papertools.core.trajectories import TrajectoryDataset
from tests.helpers import invoke


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_labels_mark_segments(tmp_path):
    record_demos("babyai/UnlockPickup", 4, tmp_path / "d", seed=3)
    ds = TrajectoryDataset(tmp_path / "d")
    labels = ds.meta["labels"]
    assert labels["subgoal"] == list(language.CANONICAL)
    assert labels["phrase"] == list(language.PHRASES)
    assert labels["start"] == labels["finished"] == ["no", "yes"]
    assert labels["kind"] == list(language.KINDS)
    assert ds.meta["hrl"]["held_out_templates"] == [language.HELD_OUT[k] for k in language.KINDS]
    assert "true_subgoal" not in labels
    for record in ds.episodes:
        arrays = ds.load(record["id"])
        sub, phrase = arrays["label/subgoal"], arrays["label/phrase"]
        start, finished = arrays["label/start"], arrays["label/finished"]
        steps = len(arrays["actions"])
        assert record["success"] and record["mission"].startswith("pick up")
        assert arrays["obs/image"].shape == (steps + 1, 7, 7, 3)
        # a segment: a maximal run of one subgoal, one phrase, start/finished at its ends
        change = np.r_[True, sub[1:] != sub[:-1]]
        assert (start == change).all()
        assert (finished == np.r_[change[1:], True]).all()
        assert sum(s["length"] for s in record["segments"]) == steps
        for seg in record["segments"]:
            span = slice(seg["start"], seg["start"] + seg["length"])
            assert set(sub[span]) == {language.CANONICAL.index(seg["subgoal"])}
            assert set(phrase[span]) == {language.PHRASES.index(seg["phrase"])}
            assert seg["phrase"] in language.phrasings(seg["subgoal"])
            assert set(arrays["label/kind"][span]) == {
                language.KINDS.index(language.kind_of(seg["subgoal"]))}


def test_workers_give_identical_datasets_and_resume(tmp_path):
    record_demos("babyai/UnlockPickup", 5, tmp_path / "one", seed=1)
    record_demos("babyai/UnlockPickup", 5, tmp_path / "two", seed=1, workers=2, engine="process")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    # resume: 2 recorded, then the rest
    record_demos("babyai/UnlockPickup", 2, tmp_path / "part", seed=1)
    assert record_demos("babyai/UnlockPickup", 5, tmp_path / "part", seed=1, resume=True) == 3
    assert _files(tmp_path / "part") == _files(tmp_path / "one")
    with pytest.raises(PapertoolsError, match="already holds"):
        record_demos("babyai/UnlockPickup", 5, tmp_path / "part", seed=1)
    with pytest.raises(PapertoolsError, match="other settings"):
        record_demos("babyai/UnlockPickup", 5, tmp_path / "part", seed=1, corrupt=0.5,
                     resume=True)


def test_exclude_pairs_and_corrupt(tmp_path):
    # UnlockPickup names a key and a door of one colour in every episode: excluding the grey
    # and yellow keys re-draws those episodes
    excluded = ("grey key", "yellow key")
    record_demos("babyai/UnlockPickup", 8, tmp_path / "d", seed=0, exclude_pairs=excluded,
                 corrupt=0.5)
    ds = TrajectoryDataset(tmp_path / "d")
    assert ds.meta["hrl"]["exclude_pairs"] == list(excluded)
    assert ds.meta["labels"]["true_subgoal"] == list(language.CANONICAL)
    corrupted = total = 0
    assert any(r["attempt"] > 0 for r in ds.episodes)  # some were re-drawn
    for record in ds.episodes:
        assert not language.pairs_named(record["mission"]) & set(excluded)
        arrays = ds.load(record["id"])
        for seg in record["segments"]:
            assert not language.pairs_named(seg["subgoal"]) & set(excluded)
            assert not language.pairs_named(seg["true_subgoal"]) & set(excluded)
            total += 1
            corrupted += seg["subgoal"] != seg["true_subgoal"]
            span = slice(seg["start"], seg["start"] + seg["length"])
            assert set(arrays["label/true_subgoal"][span]) == {
                language.CANONICAL.index(seg["true_subgoal"])}
    assert 0.25 < corrupted / total < 0.75


def test_cli(tmp_path):
    out = tmp_path / "d"
    run = invoke(["hrl", "demos", "--env", "babyai/KeyCorridorS3R3", "--episodes", "2",
                  "--exclude-pairs", "yellow key, red ball", "--out-dir", str(out), "-q"])
    assert run.exit_code == 0, run.stderr
    records = [orjson.loads(line) for line in (out / "episodes.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in records] == ["babyai/KeyCorridorS3R3/0", "babyai/KeyCorridorS3R3/1"]
    bad = invoke(["hrl", "demos", "--env", "babyai/UnlockPickup", "--episodes", "1",
                  "--exclude-pairs", "yellow dragon", "--out-dir", str(tmp_path / "e")])
    assert bad.exit_code != 0 and "colour-type pair" in bad.stderr
