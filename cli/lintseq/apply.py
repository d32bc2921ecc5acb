"""Replay edit sequences into programs, and compare them with the programs they came from."""

from __future__ import annotations

from papertools.core.diff import DiffError, apply_diff


def replay(edits: list[str]) -> str:
    """Apply every edit in order, starting from the empty file; raise DiffError naming the edit."""
    lines: list[str] = []
    for number, edit in enumerate(edits, 1):
        try:
            lines = apply_diff(lines, edit)
        except DiffError as err:
            raise DiffError(f"edit {number}: {err}") from None
    return "\n".join(lines)


def first_mismatch(expected: str, got: str) -> str | None:
    """``None`` when equal, else where the two texts first differ, in words."""
    if expected == got:
        return None
    want, have = expected.split("\n"), got.split("\n")
    for number, (a, b) in enumerate(zip(want, have), 1):
        if a != b:
            return f"line {number}: expected {a!r}, got {b!r}"
    if len(have) < len(want):
        return f"line {len(have) + 1}: expected {want[len(have)]!r}, got the end of the program"
    return f"line {len(want) + 1}: expected the end of the program, got {have[len(want)]!r}"
