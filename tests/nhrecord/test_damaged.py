"""Damaged datasets: one line naming the file, exit 1, never a shorter game read as whole; and
reading a dataset never writes into it (NLE's database lives in the cache or at --db)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from papertools.core.errors import InputError
from papertools.core.nethack.dataset import db_path, game_rows, open_dataset
from tests.helpers import invoke

GAME1 = "game-00001"


def _copy(recorded, tmp_path) -> Path:
    root = tmp_path / "games"
    shutil.copytree(recorded[0], root)
    return root


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _listing(root: Path) -> list:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in root.rglob("*"))


def _rows(recorded, game: int) -> int:
    import orjson

    summary = (recorded[0] / "summary.jsonl").read_bytes().splitlines()
    return orjson.loads(summary[game])["keypresses"]


def test_truncated_ttyrec_is_an_error_naming_it(recorded, tmp_path):
    root = _copy(recorded, tmp_path)
    ttyrec = root / GAME1 / "nle.1.0.ttyrec3.bz2"
    _truncate(ttyrec)
    for args in ([], ["--game", "1"]):
        run = invoke(["nhrecord", "load", str(root), *args])
        assert run.exit_code == 1 and run.stdout == b""
        assert run.stderr.splitlines() == [f"papertools nhrecord: error: {ttyrec}: corrupt ttyrec: "
                                           "Compressed file ended before the end-of-stream marker "
                                           "was reached"]
    # game 0 is whole: read on its own, or with the damaged game reported and skipped
    run = invoke(["nhrecord", "load", str(root), "--game", "0"])
    assert run.exit_code == 0 and len(run.records) == _rows(recorded, 0)
    run = invoke(["nhrecord", "load", str(root), "--on-error", "skip"])
    assert run.exit_code == 1
    assert [r["game"] for r in run.records] == [0] * _rows(recorded, 0)
    assert run.stderr.splitlines() == [f"papertools nhrecord: error: {ttyrec}: corrupt ttyrec: "
                                       "Compressed file ended before the end-of-stream marker "
                                       "was reached (skipped)"]
    with pytest.raises(InputError, match="corrupt ttyrec"):
        open_dataset(root, batch_size=2, seq_length=16)
    skipped = []
    ds = open_dataset(root, batch_size=1, seq_length=16, on_bad=skipped.append)
    assert [e.file for e in skipped] == [str(ttyrec)]
    assert sum(int((mb["gameids"] != 0).sum()) for mb in ds) == _rows(recorded, 0)


def _garbage(path: Path) -> None:
    path.write_bytes(b"garbage\n")


def _other_sidecar(path: Path) -> None:
    shutil.copy(path.parents[1] / "game-00000" / "nle.0.strategies.npy", path)


SIDE, TTYREC = "nle.1.strategies.npy", "nle.1.0.ttyrec3.bz2"
# how game 1 is damaged: (its file, the damage, the file the error names, how the message starts)
DAMAGE = {
    "sidecar cut": (SIDE, _truncate, SIDE, "unreadable strategy sidecar"),
    "sidecar garbage": (SIDE, _garbage, SIDE, "unreadable strategy sidecar"),
    "sidecar missing": (SIDE, Path.unlink, SIDE,
                        "unreadable strategy sidecar: [Errno 2] No such file or directory"),
    "sidecar of another game": (SIDE, _other_sidecar, SIDE,
                                "the sidecar does not match the ttyrec's"),
    "ttyrec garbage": (TTYREC, _garbage, TTYREC, "corrupt ttyrec: Invalid data stream"),
    "ttyrec missing": (TTYREC, Path.unlink, "",
                       "expected one NLE ttyrec (nle.1.0.ttyrecN.bz2), found 0"),
    "xlogfile garbage": ("nle.1.xlogfile", _garbage, "nle.1.xlogfile",
                         "NLE's populate_db found no game in this xlogfile"),
    "game.json garbage": ("game.json", _garbage, "game.json", "unreadable game summary"),
}


@pytest.mark.parametrize("what", sorted(DAMAGE))
def test_damaged_files_are_one_line_naming_them(recorded, tmp_path, what):
    root = _copy(recorded, tmp_path)
    file, damage, named, message = DAMAGE[what]
    damage(root / GAME1 / file)
    where = f"{root / GAME1 / named if named else root / GAME1}: {message}"
    run = invoke(["nhrecord", "load", str(root), "--limit", "5"])
    assert run.exit_code == 1 and run.stdout == b""
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"papertools nhrecord: error: {where}"), line
    run = invoke(["nhrecord", "load", str(root), "--on-error", "skip"])
    assert run.exit_code == 1 and len(run.records) == _rows(recorded, 0)
    (line,) = run.stderr.splitlines()
    assert where in line and line.endswith("(skipped)")


def test_a_mended_game_is_read_again(recorded, tmp_path):
    """The database is rebuilt when the games change: a repaired file, a game removed."""
    root = _copy(recorded, tmp_path)
    ttyrec = root / GAME1 / "nle.1.0.ttyrec3.bz2"
    _truncate(ttyrec)
    assert invoke(["nhrecord", "load", str(root)]).exit_code == 1
    shutil.copy(recorded[0] / GAME1 / ttyrec.name, ttyrec)
    run = invoke(["nhrecord", "load", str(root)])
    assert run.exit_code == 0 and len(run.records) == _rows(recorded, 0) + _rows(recorded, 1)
    shutil.rmtree(root / GAME1)
    assert len(invoke(["nhrecord", "load", str(root)]).records) == _rows(recorded, 0)


def test_load_never_writes_into_the_dataset(recorded, tmp_path, monkeypatch):
    root = _copy(recorded, tmp_path)
    before = _listing(root)
    cache = tmp_path / "xdg"
    monkeypatch.delenv("PAPERTOOLS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    run = invoke(["nhrecord", "load", str(root), "--limit", "2"])
    assert run.exit_code == 0, run.stderr
    assert _listing(root) == before
    assert db_path(root) == cache / "papertools" / "nhrecord" / db_path(root).parent.name / "nle.db"
    assert db_path(root).is_file()
    other = tmp_path / "mine.db"
    run = invoke(["nhrecord", "load", str(root), "--db", str(other), "--game", "1"])
    assert run.exit_code == 0 and len(run.records) == _rows(recorded, 1)
    assert other.is_file() and _listing(root) == before
    # a copy of the dataset gets a database of its own, pointing at the copy
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    shutil.rmtree(root / GAME1)
    assert len(list(game_rows(copy))) == _rows(recorded, 0) + _rows(recorded, 1)


def test_stats_reports_the_bad_summary_line(recorded, tmp_path):
    root = _copy(recorded, tmp_path)
    summary = root / "summary.jsonl"
    lines = summary.read_bytes().splitlines(keepends=True)
    summary.write_bytes(lines[0] + b"{not json\n")
    run = invoke(["nhrecord", "stats", str(root)])
    assert run.exit_code == 1 and run.stdout == b""
    assert run.stderr.startswith(f"papertools nhrecord: error: {summary}:2: not valid JSON")
    assert len(run.stderr.splitlines()) == 1
    summary.write_bytes(lines[0] + b'{"score": 3, "steps": 1}\n')
    run = invoke(["nhrecord", "stats", str(root)])
    assert run.exit_code == 1
    assert run.stderr == (f"papertools nhrecord: error: {summary}:2: field 'max_depth': "
                          "missing field\n")
    summary.unlink()
    run = invoke(["nhrecord", "stats", str(root), "--json"])
    assert run.exit_code == 1 and run.stdout == b""
    assert run.stderr.startswith(f"papertools nhrecord: error: {summary}: the dataset has no "
                                 "summary.jsonl")
