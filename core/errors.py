"""Errors and exit codes shared by every tool.

One exception type, :class:`InputError`, carries a place (file, line, field) and a message.
The root command turns it into one line on stderr::

    papertools <tool>: error: <file>:<line>: <field>: <message>

and exit status 1. Usage errors are click's and exit 2. A closed output pipe ends quietly.

:class:`Diagnostics` is the per-run policy object: ``--on-error fail|skip`` for bad input and
``--strict`` for rejects (well-formed records the method cannot use).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1  # bad data, a failed check, or a failed run
EXIT_USAGE = 2  # click's usage errors


class PapertoolsError(Exception):
    """A failure a user can act on: reported as one line, no traceback (unless --debug)."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def __reduce__(self):  # keep the place when crossing process boundaries (pool, Ray)
        return (type(self), (self.message, self.file, self.line, self.field))

    @property
    def place(self) -> str:
        """``file:line: field: `` (each part only when known)."""
        parts = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts)

    def __str__(self) -> str:
        place = self.place
        return f"{place}: {self.message}" if place else self.message


class InputError(PapertoolsError):
    """Bad input: not JSON, not an object, a missing or mistyped field, bytes that are not UTF-8."""


class RejectError(PapertoolsError):
    """A well-formed record the method cannot use; a failure only under --strict."""


@dataclass(frozen=True)
class Place:
    """Where a record came from: the file name as the user gave it and its 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def field(record: dict, name: str, kind: type | tuple = str, *, place: Place | None = None,
          required: bool = True, default=None):
    """Return ``record[name]`` checked against ``kind``, or raise an :class:`InputError`."""
    file, line = (place.file, place.line) if place else (None, None)
    if name not in record or (record[name] is None and not required):
        if required:
            raise InputError("missing field", file, line, name)
        return default
    value = record[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    accepted = kinds + ((int,) if float in kinds else ())  # JSON has one number type
    if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in kinds):
        want = " or ".join(_json_kind(k.__name__) for k in kinds)
        raise InputError(f"expected {want}, got {json_type(value)}", file, line, name)
    return value


def _json_kind(python_name: str) -> str:
    return {"str": "a string", "int": "an integer", "float": "a number", "list": "an array",
            "dict": "an object", "bool": "a boolean"}.get(python_name, python_name)


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Diagnostics:
    """Counts and reports bad records and rejects for one run of one tool.

    - ``bad(err)``: bad input. ``on_error="fail"`` raises it; ``"skip"`` prints a warning,
      counts it, and the run ends with exit status 1 (see :meth:`exit_code`).
    - ``reject(msg, place)``: a record the method cannot use; printed and counted, exit 0,
      unless ``strict``, where it is treated as bad input.
    """

    def __init__(self, tool: str, on_error: str = "fail", strict: bool = False,
                 quiet: bool = False, stream=None):
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
        self.tool = tool
        self.on_error = on_error
        self.strict = strict
        self.quiet = quiet
        self.stream = stream
        self.bad_count = 0
        self.reject_count = 0
        self.failed_checks = 0

    def _print(self, kind: str, text: str) -> None:
        stream = self.stream or sys.stderr
        print(f"papertools {self.tool}: {kind}: {text}", file=stream, flush=True)

    def bad(self, err: PapertoolsError) -> None:
        if self.on_error == "fail":
            raise err
        self.bad_count += 1
        self._print("error", f"{err} (skipped)")

    def reject(self, message: str, place: Place | None = None, **where) -> None:
        err = RejectError(message, place.file if place else None, place.line if place else None,
                          **where)
        if self.strict:
            self.bad(err)
            return
        self.reject_count += 1
        if not self.quiet:
            self._print("reject", str(err))

    def check_failed(self, message: str, place: Place | None = None) -> None:
        """A failed check (e.g. ``apply --check``): always reported, run exits 1 at the end."""
        self.failed_checks += 1
        err = PapertoolsError(message, place.file if place else None, place.line if place else None)
        self._print("mismatch", str(err))

    def exit_code(self) -> int:
        return EXIT_FAILURE if (self.bad_count or self.failed_checks) else EXIT_OK
