"""core.jsonl: reading records (paths, stdin, gzip), their places and ids, errors, and writing."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys

import orjson
import pytest

from papertools.core.errors import Diagnostics, InputError, PapertoolsError, Place
from papertools.core.jsonl import (Item, atomic_path, default_id, dumps, open_output, read_records,
                                   read_unique, record_id, write_atomic, write_json)

from tests.helpers import ROOT, jsonl

RECORDS = [{"id": "a", "n": 1}, {"n": 2, "text": "é ü"}, {"x": [1, 2, {"y": None}]}]


def read(paths, diagnostics=None):
    return list(read_records([str(p) for p in paths], diagnostics))


def fake_stdin(monkeypatch, data: bytes, peekable: bool = True):
    """sys.stdin as a text wrapper whose .buffer gives ``data`` (a BufferedReader, like a real
    stdin, when ``peekable``; a bare BytesIO, like click's CliRunner, when not)."""
    raw = io.BytesIO(data)
    buffer = io.BufferedReader(raw) if peekable else raw
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(buffer, encoding="utf-8"))


def fake_stdout(monkeypatch, tty: bool = False):
    class Buffer(io.BytesIO):
        flushes = 0

        def isatty(self):
            return tty

        def flush(self):
            Buffer.flushes += 1
            super().flush()

    buffer = Buffer()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, encoding="utf-8"))
    return buffer


# -- reading -----------------------------------------------------------------------------------

def test_reads_a_path_in_order_with_places_and_indexes(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(jsonl(RECORDS))
    items = read([path])
    assert [i.record for i in items] == RECORDS
    assert [i.index for i in items] == [0, 1, 2]
    assert [i.place for i in items] == [Place(str(path), n) for n in (1, 2, 3)]


def test_blank_lines_are_skipped_and_lines_stay_physical(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_bytes(b"\n" + orjson.dumps(RECORDS[0]) + b"\n  \t \n\n"
                     + orjson.dumps(RECORDS[1]) + b"\r\n\n" + orjson.dumps(RECORDS[2]))
    items = read([path])
    assert [i.record for i in items] == RECORDS  # no final newline needed either
    assert [i.place.line for i in items] == [2, 5, 7]
    assert [i.index for i in items] == [0, 1, 2]
    assert [i.default_id for i in items] == ["gaps:2", "gaps:5", "gaps:7"]


def test_index_runs_on_over_several_inputs_and_lines_restart(tmp_path):
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl.gz"
    first.write_bytes(jsonl(RECORDS[:2]))
    second.write_bytes(gzip.compress(b"\n" + jsonl(RECORDS[2:])))
    items = read([first, second])
    assert [i.index for i in items] == [0, 1, 2]
    assert [(i.place.file, i.place.line) for i in items] == [
        (str(first), 1), (str(first), 2), (str(second), 2)]
    assert [i.default_id for i in items] == ["one:1", "one:2", "two:2"]


def test_gzip_by_suffix(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(RECORDS)))
    items = read([path])
    assert [i.record for i in items] == RECORDS
    assert items[0].default_id == "data:1"


def test_gzip_by_magic_bytes_without_suffix(tmp_path):
    path = tmp_path / "packed.jsonl"
    path.write_bytes(gzip.compress(jsonl(RECORDS)))
    assert [i.record for i in read([path])] == RECORDS


def test_stdin_dash_and_default(monkeypatch):
    fake_stdin(monkeypatch, b"\n" + jsonl(RECORDS))
    items = list(read_records(["-"]))
    assert [i.record for i in items] == RECORDS
    assert [i.place for i in items] == [Place("<stdin>", n) for n in (2, 3, 4)]
    assert [i.default_id for i in items] == ["stdin:2", "stdin:3", "stdin:4"]
    fake_stdin(monkeypatch, jsonl(RECORDS))
    assert [i.record for i in read_records([])] == RECORDS  # no paths: standard input


def test_stdin_gzip_by_magic_bytes(monkeypatch):
    fake_stdin(monkeypatch, gzip.compress(jsonl(RECORDS)))
    assert [i.record for i in read_records(["-"])] == RECORDS


def test_stdin_gzip_by_magic_bytes_without_peek(monkeypatch):
    """A stdin whose buffer cannot peek (click's CliRunner gives a BytesIO) is still sniffed."""
    fake_stdin(monkeypatch, gzip.compress(jsonl(RECORDS)), peekable=False)
    assert [i.record for i in read_records(["-"])] == RECORDS


def test_stdin_gzip_through_a_real_pipe():
    code = ("import sys, orjson; from papertools.core.jsonl import read_records; "
            "sys.stdout.buffer.write(b''.join(orjson.dumps([i.index, i.place.line, i.record]) "
            "+ b'\\n' for i in read_records(['-'])))")
    done = subprocess.run([sys.executable, "-c", code], input=gzip.compress(jsonl(RECORDS)),
                          capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert rows == [[k, k + 1, r] for k, r in enumerate(RECORDS)]


def test_read_is_lazy(tmp_path):
    path = tmp_path / "lazy.jsonl"
    path.write_bytes(jsonl(RECORDS) + b"not json\n")
    stream = read_records([str(path)])
    assert next(stream).record == RECORDS[0]  # the bad line later does not stop the first record
    with pytest.raises(InputError):
        list(stream)


# -- ids ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, stem", [
    ("data.jsonl", "data"), ("dir/data.jsonl.gz", "data"), ("x.json", "x"), ("x.ndjson", "x"),
    ("plain", "plain"), ("a.b.jsonl", "a.b"), ("<stdin>", "stdin")])
def test_default_id_is_stem_and_line(name, stem):
    assert default_id(Place(name, 12)) == f"{stem}:12"


def test_record_id_takes_strings_and_integers():
    place = Place("f.jsonl", 4)
    assert record_id(Item(0, place, {"id": "HumanEval/3"})) == "HumanEval/3"
    assert record_id(Item(0, place, {"id": 17})) == "17"
    assert record_id(Item(0, place, {"x": 1})) == "f:4"
    assert record_id(Item(0, place, {"id": None})) == "f:4"


@pytest.mark.parametrize("bad,kind", [(True, "a boolean"), (1.5, "a number"), ([1], "an array"),
                                      ({"a": 1}, "an object")])
def test_record_id_rejects_other_types(bad, kind):
    with pytest.raises(InputError) as info:
        record_id(Item(0, Place("f.jsonl", 4), {"id": bad}))
    err = info.value
    assert (err.file, err.line, err.field) == ("f.jsonl", 4, "id")
    assert str(err) == f"f.jsonl:4: field 'id': expected a string or an integer, got {kind}"


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    (b'{"a": 1', "not valid JSON: "),
    (b"not json", "not valid JSON: "),
    (b'{"a": 1} {"b": 2}', "not valid JSON: "),
    (b"[1, 2]", "expected a JSON object, got an array"),
    (b'"text"', "expected a JSON object, got a string"),
    (b"3.5", "expected a JSON object, got a number"),
    (b"true", "expected a JSON object, got a boolean"),
    (b"null", "expected a JSON object, got null"),
    (b'{"a": "\xff"}', "not valid UTF-8 (byte 0xff at column 8)"),
    (b'{"\xc3\xa9": "x\xfe"}', "not valid UTF-8 (byte 0xfe at column 10)"),
])
def test_bad_lines_name_file_and_physical_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl(RECORDS[:1]) + b"\n" + line + b"\n" + jsonl(RECORDS[1:]))
    stream = read_records([str(path)])
    assert next(stream).record == RECORDS[0]
    with pytest.raises(InputError) as info:
        next(stream)
    err = info.value
    assert (err.file, err.line) == (str(path), 3)
    assert err.message.startswith(message)
    assert str(err).startswith(f"{path}:3: {message}")
    if message.startswith("not valid JSON"):
        assert " at column " in err.message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as info:
        read([path])
    assert str(info.value) == f"{path}: cannot open: No such file or directory"
    assert info.value.line is None


def test_suffix_gz_that_is_not_gzip(tmp_path):
    path = tmp_path / "fake.jsonl.gz"
    path.write_bytes(jsonl(RECORDS))
    with pytest.raises(InputError) as info:
        read([path])
    assert info.value.file == str(path)
    assert "cannot read" in info.value.message


def test_truncated_gzip_is_an_input_error(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(RECORDS * 50))[:-12])
    with pytest.raises(InputError) as info:
        read([path])
    assert info.value.file == str(path)
    assert "cannot read" in info.value.message


def test_skip_mode_counts_reports_and_goes_on(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(jsonl(RECORDS[:1]) + b"{oops\n\n[1]\n" + jsonl(RECORDS[1:]))
    stream = io.StringIO()
    diag = Diagnostics("demo", on_error="skip", stream=stream)
    items = read([path], diag)
    assert [i.record for i in items] == RECORDS
    assert [i.place.line for i in items] == [1, 5, 6]
    # a bad line keeps its ordinal, so the good records' random streams do not shift
    assert [i.index for i in items] == [0, 3, 4]
    assert diag.bad_count == 2
    assert diag.exit_code() == 1
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"papertools demo: error: {path}:2: not valid JSON: ")
    assert lines[0].endswith(" (skipped)")
    assert lines[1] == (f"papertools demo: error: {path}:4: expected a JSON object, got an array "
                        "(skipped)")


def test_fail_mode_raises_at_the_first_bad_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"[1]\n{oops\n")
    with pytest.raises(InputError) as info:
        read([path], Diagnostics("demo", on_error="fail"))
    assert info.value.line == 1


# -- writing -----------------------------------------------------------------------------------

def test_read_unique_gives_ids_items_and_checked_values(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl([{"id": "a", "text": "x"}, {"text": "y"}, {"id": 7, "text": "z"}]))
    got = list(read_unique([str(path)], check=lambda item: item.record["text"].upper()))
    assert [(rid, value) for rid, _, value in got] == [("a", "X"), ("docs:2", "Y"), ("7", "Z")]
    assert [item.place.line for _, item, _ in got] == [1, 2, 3]


def test_read_unique_names_where_a_repeated_id_first_appeared(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl([{"id": "a"}, {"id": "b"}, {"id": "a"}, {"id": "c"}]))
    with pytest.raises(InputError) as info:
        list(read_unique([str(path)], what="document"))
    assert str(info.value) == (f"{path}:3: field 'id': document id 'a' repeats "
                               f"(first at {path}:1)")
    diag = Diagnostics("demo", on_error="skip", stream=io.StringIO())
    assert [rid for rid, _, _ in read_unique([str(path)], diag)] == ["a", "b", "c"]
    assert diag.bad_count == 1


def test_read_unique_skips_a_record_its_check_refuses_without_taking_its_id(tmp_path):
    def text(item):
        if "text" not in item.record:
            raise InputError("missing field", item.place.file, item.place.line, "text")
        return item.record["text"]

    path = tmp_path / "docs.jsonl"
    path.write_bytes(jsonl([{"id": "a"}, {"id": "a", "text": "ok"}]))
    diag = Diagnostics("demo", on_error="skip", stream=io.StringIO())
    assert [(rid, v) for rid, _, v in read_unique([str(path)], diag, check=text)] == [("a", "ok")]
    assert diag.bad_count == 1


def test_dumps_is_compact_utf8_one_line():
    line = dumps({"a": "é\nx", "b": [1, 2.5, None, True]})
    assert line == '{"a":"é\\nx","b":[1,2.5,null,true]}\n'.encode()
    assert line.count(b"\n") == 1


def test_open_output_stdout(monkeypatch):
    buffer = fake_stdout(monkeypatch)
    with open_output(None) as out:
        for record in RECORDS:
            out.write(record)
    assert out.count == 3
    assert buffer.getvalue() == jsonl(RECORDS)
    buffer = fake_stdout(monkeypatch)
    with open_output("-") as out:
        out.write(RECORDS[0])
    assert buffer.getvalue() == jsonl(RECORDS[:1])


def test_open_output_flushes_each_record_on_a_terminal(monkeypatch):
    buffer = fake_stdout(monkeypatch, tty=True)
    with open_output(None) as out:
        for record in RECORDS:
            before = type(buffer).flushes
            out.write(record)
            assert type(buffer).flushes > before
    assert buffer.getvalue() == jsonl(RECORDS)


def test_open_output_path_appears_only_at_the_end(tmp_path):
    target = tmp_path / "out.jsonl"
    with open_output(str(target)) as out:
        for record in RECORDS:
            out.write(record)
        assert not target.exists()
    assert target.read_bytes() == jsonl(RECORDS)
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_open_output_failure_keeps_target_and_partial(tmp_path, capsys):
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError):
        with open_output(str(target), tool="demo") as out:
            out.write(RECORDS[0])
            out.write(RECORDS[1])
            raise RuntimeError("midway")
    assert target.read_bytes() == b"old\n"
    partial = tmp_path / "out.jsonl.partial"
    assert partial.read_bytes() == jsonl(RECORDS[:2])
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl", "out.jsonl.partial"]
    assert capsys.readouterr().err == (f"papertools demo: note: 2 records written before the "
                                       f"failure are in {partial}\n")


def test_open_output_failure_before_any_record_leaves_nothing(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        with open_output(str(target)):
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_open_output_gz_partial_is_readable(tmp_path):
    target = tmp_path / "out.jsonl.gz"
    with pytest.raises(ValueError):
        with open_output(str(target)) as out:
            out.write(RECORDS[0])
            raise ValueError
    assert not target.exists()
    partial = tmp_path / "out.jsonl.gz.partial"
    assert gzip.decompress(partial.read_bytes()) == jsonl(RECORDS[:1])


def test_open_output_gz_is_deterministic(tmp_path):
    blobs = []
    for folder, name in (("a", "x.jsonl.gz"), ("b", "other.jsonl.gz")):
        (tmp_path / folder).mkdir()
        target = tmp_path / folder / name
        with open_output(str(target)) as out:
            for record in RECORDS:
                out.write(record)
        blobs.append(target.read_bytes())
    assert blobs[0] == blobs[1]
    assert blobs[0][:2] == b"\x1f\x8b"
    assert gzip.decompress(blobs[0]) == jsonl(RECORDS)
    assert [i.record for i in read([tmp_path / "a" / "x.jsonl.gz"])] == RECORDS


def test_open_output_missing_folder(tmp_path):
    target = tmp_path / "no" / "out.jsonl"
    with pytest.raises(PapertoolsError) as info:
        with open_output(str(target)):
            pass
    assert str(info.value) == (f"{target}: cannot write: folder {str(target.parent)!r} "
                               "does not exist")


def test_write_json(tmp_path):
    import numpy as np

    target = tmp_path / "results" / "run.json"
    obj = {"name": "é", "ratio": 1.5, "counts": np.arange(3), "nested": {"ok": True}}
    write_json(target, obj)
    text = target.read_bytes()
    assert text.endswith(b"}\n")
    assert b'\n  "name"' in text  # indented
    assert orjson.loads(text) == {"name": "é", "ratio": 1.5, "counts": [0, 1, 2],
                                  "nested": {"ok": True}}
    write_json(target, {"v": 2})
    assert orjson.loads(target.read_bytes()) == {"v": 2}
    assert os.listdir(target.parent) == ["run.json"]


def test_write_json_has_ordinary_permissions(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"v": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_json_failure_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "run.json"
    target.write_bytes(b'{"v": 1}\n')
    with pytest.raises(TypeError):
        write_json(target, {"v": object()})
    assert target.read_bytes() == b'{"v": 1}\n'
    assert os.listdir(tmp_path) == ["run.json"]


def write_records(path, records=RECORDS):
    with open_output(str(path)) as out:
        for record in records:
            out.write(record)


def fail_writing(path, records, error=RuntimeError, tool=""):
    """A run that writes ``records`` to ``-o path`` and then fails with ``error``."""
    with pytest.raises(error):
        with open_output(str(path), tool=tool) as out:
            for record in records:
                out.write(record)
            raise error


def test_open_output_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "data" / "out.jsonl"
    target.write_bytes(b"old\n")
    link = tmp_path / "links" / "out.jsonl"
    link.symlink_to(os.path.join("..", "data", "out.jsonl"))
    write_records(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "data", "out.jsonl")
    assert target.read_bytes() == jsonl(RECORDS)
    assert os.listdir(tmp_path / "data") == ["out.jsonl"]  # no temporary file left beside it
    assert os.listdir(tmp_path / "links") == ["out.jsonl"]


def test_open_output_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "out.jsonl"
    link.symlink_to("made.jsonl")
    write_records(link)
    assert link.is_symlink()
    assert (tmp_path / "made.jsonl").read_bytes() == jsonl(RECORDS)


def test_failure_through_a_symlink_keeps_the_partial_beside_the_target(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    link = tmp_path / "out.jsonl"
    link.symlink_to(tmp_path / "data" / "out.jsonl")
    fail_writing(link, RECORDS[:1], tool="demo")
    partial = tmp_path / "data" / "out.jsonl.partial"
    assert partial.read_bytes() == jsonl(RECORDS[:1])
    assert capsys.readouterr().err == (f"papertools demo: note: 1 records written before the "
                                       f"failure are in {partial}\n")
    assert sorted(os.listdir(tmp_path)) == ["data", "out.jsonl"] and link.is_symlink()


@pytest.mark.parametrize("mode", [0o664, 0o600, 0o640])
def test_writing_keeps_an_existing_files_mode(tmp_path, mode):
    for name, write in (("out.jsonl", write_records), ("run.json", lambda p: write_json(p, {})),
                        ("blob", lambda p: write_atomic(p, b"x"))):
        target = tmp_path / name
        target.write_bytes(b"old\n")
        target.chmod(mode)
        write(target)
        assert target.read_bytes() != b"old\n"
        assert target.stat().st_mode & 0o7777 == mode, name


def test_a_partial_gets_the_targets_mode_not_a_temporary_files(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"")
    target.chmod(0o664)
    fail_writing(target, RECORDS[:1])
    assert (tmp_path / "out.jsonl.partial").stat().st_mode & 0o777 == 0o664


def test_a_completed_output_removes_an_earlier_runs_partial(tmp_path):
    target = tmp_path / "out.jsonl"
    fail_writing(target, RECORDS[:1], KeyboardInterrupt)
    assert (tmp_path / "out.jsonl.partial").exists()
    write_records(target)
    assert os.listdir(tmp_path) == ["out.jsonl"]
    assert target.read_bytes() == jsonl(RECORDS)


def test_atomic_path_renames_at_the_end_and_removes_on_failure(tmp_path):
    target = tmp_path / "array.bin"
    with atomic_path(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and os.path.getsize(tmp) == 0
        with open(tmp, "wb") as fh:
            fh.write(b"new")
        assert not target.exists()
    assert target.read_bytes() == b"new"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"half")
            raise ValueError
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["array.bin"]


def test_atomic_path_in_a_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "no" / "array.bin"
    with pytest.raises(PapertoolsError) as info:
        with atomic_path(target):
            pass
    assert str(info.value) == f"{target}: No such file or directory"


@pytest.mark.parametrize("name", ["pipe", "pipe.jsonl.gz"])
def test_open_output_writes_through_a_fifo_instead_of_replacing_it(tmp_path, name):
    # `-o /dev/null` (or a named pipe): an atomic rename would put a regular file in its place
    import stat

    fifo = tmp_path / name
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with open_output(str(fifo)) as writer:
            writer.write({"a": 1})
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        data = os.read(reader, 4096)
        assert (gzip.decompress(data) if name.endswith(".gz") else data) == b'{"a":1}\n'
        write_json(fifo, {"b": 2})
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert orjson.loads(os.read(reader, 4096)) == {"b": 2}
    finally:
        os.close(reader)
    assert list(tmp_path.iterdir()) == [fifo]  # no temporary file left beside it
