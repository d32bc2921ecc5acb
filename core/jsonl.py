"""JSONL in and out: one JSON object per line, UTF-8, ``\\n``.

Reading (:func:`read_records`): paths or ``-`` (stdin), plain or gzip (by the ``.gz`` suffix or by
the gzip magic bytes, so ``zcat``-less pipes work too); blank lines skipped; every record comes with
its :class:`~papertools.core.errors.Place` (file as given, 1-based physical line) and a stream
index (0-based ordinal of non-blank lines over all inputs, the key for per-record random streams).

Writing (:func:`open_output`): stdout, or ``-o PATH`` written to a temporary file in the same folder
and renamed into place at the end, so a failed run never leaves half a file at PATH; records
written before a failure are kept in ``PATH.partial``. ``.gz`` output is gzip with a fixed mtime,
so equal records give equal bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from .errors import Diagnostics, InputError, Place, PapertoolsError, json_type

GZIP_MAGIC = b"\x1f\x8b"
_DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True)
class Item:
    """One input record with where it came from."""

    index: int  # 0-based ordinal over all inputs (blank lines not counted)
    place: Place
    record: dict

    @property
    def default_id(self) -> str:
        return default_id(self.place)


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else str(path)


def default_id(place: Place) -> str:
    """``<file stem>:<line>`` (``stdin:<line>`` for standard input)."""
    if place.file == "<stdin>":
        stem = "stdin"
    else:
        name = Path(place.file).name
        for suffix in (".gz", ".jsonl", ".json", ".ndjson"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        stem = name or "input"
    return f"{stem}:{place.line}"


def record_id(item: Item) -> str:
    """The record's own ``id`` (a string, or an integer made a string), else ``<stem>:<line>``."""
    value = item.record.get("id")
    if value is None:
        return item.default_id
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"expected a string or an integer, got {json_type(value)}",
                         item.place.file, item.place.line, "id")
    return str(value)


@contextlib.contextmanager
def open_binary(path: str):
    """Open ``path`` (or stdin for ``-``) for reading bytes, decompressing gzip transparently."""
    name = display_name(path)
    if path == "-":
        raw = sys.stdin.buffer
        close = False
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror or exc}", name) from None
        close = True
    try:
        head = raw.read(2)  # works on pipes and on streams that cannot peek
        stream = io.BufferedReader(_Prefixed(head, raw))
        if head == GZIP_MAGIC or (path != "-" and str(path).endswith(".gz")):
            with gzip.GzipFile(fileobj=stream, mode="rb") as fh:
                yield fh
        else:
            yield stream
    finally:
        if close:
            raw.close()


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read) followed by the rest of ``raw``."""

    def __init__(self, head: bytes, raw):
        super().__init__()
        self._head, self._raw = head, raw
        self._read = getattr(raw, "read1", raw.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def parse_line(raw: bytes, place: Place) -> dict:
    """Parse one line into a dict or raise an :class:`InputError` naming the place."""
    raw = raw.rstrip(b"\r\n")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise InputError(
                f"not valid UTF-8 (byte 0x{raw[uexc.start]:02x} at column {uexc.start + 1})",
                place.file, place.line) from None
        raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}",
                         place.file, place.line) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number")
        raise InputError(f"expected a JSON object, got {kind}", place.file, place.line)
    return value


def read_records(paths: Iterable[str], diagnostics: Diagnostics | None = None) -> Iterator[Item]:
    """Yield every record of every path, in order, as :class:`Item`.

    Bad lines go to ``diagnostics.bad`` (which raises under ``--on-error fail``); without
    diagnostics they raise.
    """
    index = 0
    for path in paths or ["-"]:
        name = display_name(path)
        with open_binary(path) as fh:
            lineno = 0
            try:
                for raw in fh:
                    lineno += 1
                    if not raw.strip():
                        continue
                    place = Place(name, lineno)
                    try:
                        record = parse_line(raw, place)
                    except InputError as err:
                        index += 1
                        if diagnostics is None:
                            raise
                        diagnostics.bad(err)
                        continue
                    yield Item(index, place, record)
                    index += 1
            except (gzip.BadGzipFile, EOFError, OSError) as exc:
                raise InputError(f"cannot read: {exc}", name, lineno + 1 if lineno else None) \
                    from None


def dumps(record: dict) -> bytes:
    """One record as one JSONL line (UTF-8, compact, ``\\n``-terminated)."""
    return orjson.dumps(record, option=_DUMP_OPTIONS)


def loads(line: bytes | str):
    return orjson.loads(line)


class RecordWriter:
    """Writes JSONL lines to a binary stream; flushes per record when the stream is a terminal."""

    def __init__(self, stream, interactive: bool = False):
        self.stream = stream
        self.interactive = interactive
        self.count = 0

    def write(self, record: dict) -> None:
        self.write_line(dumps(record))

    def write_line(self, line: bytes) -> None:
        self.stream.write(line)
        self.count += 1
        if self.interactive:
            self.stream.flush()

    def write_lines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.write_line(line)


@contextlib.contextmanager
def open_output(path: str | None = None, *, tool: str = "") -> Iterator[RecordWriter]:
    """A :class:`RecordWriter` on stdout (``None`` or ``-``) or, atomically, on ``path``."""
    if path in (None, "-"):
        stream = sys.stdout.buffer
        writer = RecordWriter(stream, interactive=stream.isatty())
        yield writer
        stream.flush()
        return

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise PapertoolsError(f"cannot write: folder {str(folder)!r} does not exist", str(path))
    if _special(target):  # /dev/null, a FIFO: write through, never replace it with a file
        with open(target, "wb") as raw:
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) \
                if target.name.endswith(".gz") else raw
            yield RecordWriter(stream)
            stream.close()
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    raw = os.fdopen(fd, "wb")
    stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) \
        if target.name.endswith(".gz") else raw
    writer = RecordWriter(stream)
    try:
        yield writer
        stream.close()
        raw.close()
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(Exception):
            stream.close()
            raw.close()
        if writer.count:
            partial = f"{target}.partial"
            os.replace(tmp, partial)
            prefix = f"papertools {tool}: " if tool else "papertools: "
            print(f"{prefix}note: {writer.count} records written before the failure are in "
                  f"{partial}", file=sys.stderr)
        else:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _special(target: Path) -> bool:
    """True for an existing target that is not a regular file (a device such as /dev/null, a
    FIFO): atomic writing would rename a temporary file over it (root may do that to /dev)."""
    return target.exists() and not target.is_file() and not target.is_dir()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> None:
    """Write one pretty JSON document atomically (results files, checkpoints' metadata)."""
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if _special(target):
        with open(target, "wb") as fh:
            fh.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["Item", "RecordWriter", "default_id", "display_name", "dumps", "loads", "open_binary",
           "open_output", "parse_line", "read_records", "record_id", "write_json"]
