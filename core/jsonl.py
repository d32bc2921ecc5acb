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
import errno
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


def read_unique(paths: Iterable[str], diagnostics: Diagnostics | None = None, *,
                what: str = "record", check=None, key=None,
                key_field: str = "id") -> Iterator[tuple[str, Item, object]]:
    """``(key, item, check(item))`` for every record, in order, keys unique (a corpus, items,
    queries, problems). ``check`` reads the fields the caller needs and raises
    :class:`InputError` for a bad record; the key is the record's id (:func:`record_id`) or
    ``key(item, value)``, read from ``key_field``. A bad or a repeated key is bad input too
    (naming where it first appeared). Bad records go to ``diagnostics`` (which raises under
    ``--on-error fail``) and are skipped; without diagnostics they raise."""
    seen: dict = {}
    for item in read_records(paths, diagnostics):
        try:
            value = check(item) if check else None
            rid = key(item, value) if key else record_id(item)
            if rid in seen:
                raise InputError(f"{what} {key_field} {rid!r} repeats (first at {seen[rid]})",
                                 item.place.file, item.place.line, key_field)
        except InputError as err:
            if diagnostics is None:
                raise
            diagnostics.bad(err)
            continue
        seen[rid] = item.place
        yield rid, item, value


def dumps(record: dict) -> bytes:
    """One record as one JSONL line (UTF-8, compact, ``\\n``-terminated)."""
    return orjson.dumps(record, option=_DUMP_OPTIONS)


def loads(line: bytes | str):
    return orjson.loads(line)


class RecordWriter:
    """Writes JSONL lines to a binary stream; flushes per record when the stream is a terminal.

    ``name`` is what an error says it could not write (``<stdout>``, or ``-o PATH`` as given): a
    failed write (a full disk) raises a :class:`PapertoolsError` naming it, not an ``OSError``."""

    def __init__(self, stream, interactive: bool = False, name: str = "<stdout>", raw=None):
        self.stream = stream
        self.raw = raw  # the file under a gzip stream, closed after it
        self.interactive = interactive
        self.name = name
        self.count = 0
        self.failed = False  # a write to the stream itself failed (what it holds may be torn)

    def write(self, record: dict) -> None:
        self.write_line(dumps(record))

    def write_line(self, line: bytes) -> None:
        try:
            self.stream.write(line)
            if self.interactive:
                self.stream.flush()
        except OSError as exc:
            raise self._failure(exc) from exc
        self.count += 1

    def write_lines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.write_line(line)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise self._failure(exc) from exc

    def close(self) -> None:
        try:
            self.stream.close()
            if self.raw is not None:
                self.raw.close()
        except OSError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: OSError) -> OSError | PapertoolsError:
        if isinstance(exc, BrokenPipeError):  # a closed pipe ends quietly (the root's business)
            return exc
        self.failed = True
        return write_error(exc, self.name)


def stdout_log():
    """A training log's echo: ``log(record)`` writes the record as one JSONL line on standard
    output and flushes it, so a reader of the pipe sees each record as it is logged."""
    import sys

    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())

    def log(record: dict) -> None:
        out.write(record)
        out.flush()

    return log


def write_error(exc: OSError, name) -> PapertoolsError:
    """``NAME: No space left on device``: a failed write as one line for the user."""
    return PapertoolsError(exc.strerror or str(exc), str(name))


@contextlib.contextmanager
def open_output(path: str | None = None, *, tool: str = "") -> Iterator[RecordWriter]:
    """A :class:`RecordWriter` on stdout (``None`` or ``-``) or, atomically, on ``path``.

    ``path`` is written as :func:`atomic_path` writes. A run that fails after writing records
    keeps them in ``PATH.partial`` (whole lines only, when the write itself failed) and says so;
    one that completes removes a ``PATH.partial`` left by an earlier failed run."""
    if path in (None, "-"):
        stream = sys.stdout.buffer
        writer = RecordWriter(stream, interactive=stream.isatty())
        yield writer
        writer.flush()
        return

    target = target_of(path)
    if not target.parent.is_dir():
        folder = target.parent if os.path.islink(path) else Path(path).parent
        raise PapertoolsError(f"cannot write: folder {str(folder)!r} does not exist", str(path))
    gz = target.name.endswith(".gz")
    if is_special(target):  # /dev/null, a FIFO: write through, never replace it with a file
        try:
            raw = open(target, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise write_error(exc, path) from exc
        writer = _file_writer(raw, gz, path)
        try:
            yield writer
            writer.close()
        finally:
            with contextlib.suppress(OSError):  # after a failed write: that error is the one
                raw.close()
        return
    file = AtomicFile(path)
    raw = open(file.tmp, "wb")  # noqa: SIM115 - closed below
    writer = _file_writer(raw, gz, path)
    try:
        yield writer
        writer.close()
        file.commit()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            writer.stream.close()
        with contextlib.suppress(Exception):
            raw.close()
        kept = _keep_partial(file, writer, gz) if writer.count else None
        if not kept:
            file.discard()
            raise
        shown = file.partial if os.path.islink(path) else f"{path}.partial"
        note = f"{kept} written before the failure are in {shown}"
        if writer.failed and isinstance(exc, PapertoolsError):  # one line: the error and the note
            raise PapertoolsError(f"{exc.message} ({note})", exc.file, exc.line,
                                  exc.field) from exc
        prefix = f"papertools {tool}: " if tool else "papertools: "
        print(f"{prefix}note: {note}", file=sys.stderr)
        raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(file.partial)  # an earlier failed run's records: this run has written them all


def _file_writer(raw, gz: bool, path) -> RecordWriter:
    if not gz:
        return RecordWriter(raw, name=str(path))
    stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)  # equal records, bytes
    return RecordWriter(stream, name=str(path), raw=raw)


def _keep_partial(file: AtomicFile, writer: RecordWriter, gz: bool) -> str | None:
    """Move what was written to ``PATH.partial`` and say what it holds; None when nothing was
    kept. After a failed write (a full disk) a plain file is cut to its last whole line; a gzip
    stream cut short keeps what reached the disk."""
    what = f"{writer.count} records"
    try:
        if writer.failed and gz:
            what = "the compressed records"
            if not os.path.getsize(file.tmp):
                return None
        elif writer.failed:
            count = _cut_to_whole_lines(file.tmp)
            what = f"{count} records"
            if not count:
                return None
        file.keep_partial()
    except (OSError, PapertoolsError):
        return None
    return what


def _cut_to_whole_lines(path: str) -> int:
    """Truncate ``path`` after its last ``\\n``; the number of lines left."""
    lines = size = 0
    with open(path, "r+b") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            end = chunk.rfind(b"\n")
            if end >= 0:
                size = fh.tell() - len(chunk) + end + 1
        fh.truncate(size)
    return lines


# -- writing a file atomically ------------------------------------------------------------------
# Every file papertools writes under a final name goes through AtomicFile: a temporary file beside
# the target, renamed over it when complete, so no reader ever sees half a file.

def target_of(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` lands in: a symbolic link's final target (dangling or not),
    so writing through a link updates what it points to and the link stays."""
    return Path(os.path.realpath(path))


def is_special(target: Path) -> bool:
    """True for an existing target that is not a regular file (a device such as /dev/null, a
    FIFO): atomic writing would rename a temporary file over it (root may do that to /dev)."""
    return target.exists() and not target.is_file() and not target.is_dir()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    """An existing file's permission bits; for a new file what ``open`` gives (0666 less the
    umask), not the 0600 of a temporary file."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


class AtomicFile:
    """A temporary file beside ``path``'s target (:func:`target_of`), created empty.

    :meth:`commit` gives it the target's mode (an existing file's, else the umask's) and renames
    it over the target; :meth:`keep_partial` renames it to ``TARGET.partial`` instead;
    :meth:`discard` removes it. Failures of the file system (no such folder, no permission, a full
    disk) are :class:`PapertoolsError` naming ``path``."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self.target = target_of(path)
        self.partial = f"{self.target}.partial"
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp",
                                            dir=self.target.parent)
        except OSError as exc:
            raise write_error(exc, self.path) from exc
        os.close(fd)

    def commit(self) -> None:
        self._rename(self.target)

    def keep_partial(self) -> None:
        self._rename(self.partial)

    def _rename(self, name) -> None:
        try:
            os.chmod(self.tmp, _mode_for(self.target))
            os.replace(self.tmp, name)
        except OSError as exc:
            raise write_error(exc, self.path) from exc

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


# errno values that say writing the file failed (rather than something else in the block)
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """The path of an empty temporary file beside ``path``'s target, for the block to write
    (``np.save``, ``faiss.write_index``, sqlite...); renamed over the target when the block ends
    without error, removed when it fails, so a final name never holds half a file.

    Writing follows a symbolic link to its target and keeps an existing file's mode. A full disk
    while the block writes is a :class:`PapertoolsError` naming ``path``."""
    file = AtomicFile(path)
    try:
        yield file.tmp
        file.commit()
    except BaseException as exc:
        file.discard()
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError) and (
                exc.errno in _WRITE_ERRNOS or exc.filename == file.tmp):
            raise write_error(exc, path) from exc
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`); a device or FIFO at ``path``
    is written through instead."""
    target = target_of(path)
    if is_special(target):
        try:
            with open(target, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise write_error(exc, path) from exc
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write one pretty JSON document atomically (results files, checkpoints' metadata); the
    folder is created when missing."""
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    target_of(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


__all__ = ["AtomicFile", "Item", "RecordWriter", "atomic_path", "default_id", "display_name",
           "dumps", "is_special", "loads", "open_binary", "open_output", "parse_line",
           "read_records", "read_unique", "record_id", "stdout_log", "target_of", "write_atomic",
           "write_error", "write_json"]
