"""The zero-context unified diff that LintSeq and diff history share.

The papers' format is Python's ``difflib.unified_diff(a, b, n=0, fromfile="file1",
tofile="file2", lineterm="")`` with the two header lines (``--- file1``, ``+++ file2``) dropped and
the rest joined by ``"\\n"``: hunk headers ``@@ -a,b +c,d @@`` followed by ``-``/``+`` lines and no
context. Put the two header lines back (:func:`with_headers`) and any unified-diff parser
(``unidiff``, ``patch``) reads it.

Here a text is a list of lines (split on ``"\\n"`` only). :func:`unified_diff` is that call;
:func:`paper_diff` is the papers' own ``get_diff`` on whole strings (which first applies
``.strip().splitlines()``, so it loses leading and trailing whitespace); :func:`insertion_diff`
builds an insertion-only diff from known inserted positions; :func:`apply_diff` applies any of
them, checking every removed line.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

HEADER = "--- file1\n+++ file2\n"
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class DiffError(ValueError):
    """A diff that does not parse or does not apply."""


@dataclass
class Hunk:
    old_start: int  # difflib/GNU numbering: 1-based first line, or the line before when old_len=0
    old_len: int
    new_start: int
    new_len: int
    lines: list[str] = field(default_factory=list)  # body lines with their '-', '+' or ' ' prefix


def _range(start: int, stop: int) -> str:
    """difflib's ``_format_range_unified``: 0-based half-open range to ``a,b`` text."""
    beginning = start + 1
    length = stop - start
    if length == 1:
        return str(beginning)
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def unified_diff(a: list[str], b: list[str]) -> str:
    """The papers' diff of two line lists: zero context, header lines dropped, ``\\n``-joined."""
    out = difflib.unified_diff(a, b, n=0, fromfile="file1", tofile="file2", lineterm="")
    return "\n".join(list(out)[2:])


def paper_diff(a: str, b: str) -> str:
    """The released ``get_diff(a, b)`` of LintSeq and diff history, on whole strings."""
    return unified_diff(a.strip().splitlines(), b.strip().splitlines())


def with_headers(diff: str) -> str:
    """The diff with its two header lines put back, as ``unidiff.PatchSet`` and ``patch`` expect."""
    return HEADER + diff + ("\n" if diff and not diff.endswith("\n") else "")


def insertion_diff(new: list[str], inserted: list[int]) -> str:
    """The zero-context diff that inserts ``new[i] for i in inserted`` (sorted, 0-based in ``new``).

    The old text is ``new`` without those lines; runs of consecutive positions become one hunk,
    exactly as difflib numbers and groups them.
    """
    hunks = []
    before = 0  # inserted lines seen before the current run
    i = 0
    while i < len(inserted):
        start = inserted[i]
        j = i
        while j + 1 < len(inserted) and inserted[j + 1] == inserted[j] + 1:
            j += 1
        stop = inserted[j] + 1
        old_pos = start - before
        hunks.append(f"@@ -{_range(old_pos, old_pos)} +{_range(start, stop)} @@")
        hunks.extend("+" + new[k] for k in range(start, stop))
        before += stop - start
        i = j + 1
    return "\n".join(hunks)


def _embedding_is_unique(old: list[str], new: list[str]) -> bool:
    """Whether ``old`` occurs in ``new`` as a subsequence in exactly one way."""
    left, j = [], 0
    for line in old:
        while j < len(new) and new[j] != line:
            j += 1
        if j == len(new):
            return False  # not a subsequence at all
        left.append(j)
        j += 1
    j = len(new) - 1
    for k in range(len(old) - 1, -1, -1):
        while new[j] != old[k]:
            j -= 1
        if left[k] != j:
            return False
        j -= 1
    return True


def canonical_insertion_diff(old: list[str], new: list[str], inserted: list[int]) -> str:
    """An insertion-only diff from ``old`` to ``new``, byte-identical to :func:`unified_diff`
    whenever that one is insertion-only.

    ``inserted`` are the positions in ``new`` of the lines that ``old`` lacks. Where ``old``
    embeds in ``new`` in one way only, those positions are the only insertion-only answer, so
    difflib (when insertion-only) agrees; where repeated lines allow several alignments, difflib
    is asked and its answer kept if it only inserts.
    """
    if not _embedding_is_unique(old, new):
        theirs = unified_diff(old, new)
        if is_insertion_only(theirs):
            return theirs
    return insertion_diff(new, inserted)


def parse_diff(diff: str) -> list[Hunk]:
    """Parse a zero-context (or any unified) diff without its header lines."""
    hunks: list[Hunk] = []
    if not diff:
        return hunks
    lines = diff.split("\n")
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.startswith(("--- ", "+++ ")) and not hunks and k < 2:
            k += 1  # tolerate the header lines
            continue
        match = _HUNK.match(line)
        if not match:
            if line == "" and k == len(lines) - 1:
                break  # a trailing newline
            raise DiffError(f"line {k + 1}: expected a hunk header '@@ -a,b +c,d @@', got {line[:60]!r}")
        a, b, c, d = match.groups()
        hunk = Hunk(int(a), 1 if b is None else int(b), int(c), 1 if d is None else int(d))
        k += 1
        need_old, need_new = hunk.old_len, hunk.new_len
        while need_old or need_new:
            if k >= len(lines):
                raise DiffError(f"hunk {len(hunks) + 1}: the diff ends inside the hunk "
                                f"({need_old} old and {need_new} new lines missing)")
            body = lines[k]
            tag = body[:1]
            if tag == "+" and need_new:
                need_new -= 1
            elif tag == "-" and need_old:
                need_old -= 1
            elif tag == " " and need_old and need_new:
                need_old -= 1
                need_new -= 1
            elif body.startswith("\\"):
                k += 1  # "\ No newline at end of file"
                continue
            else:
                raise DiffError(f"hunk {len(hunks) + 1}: line {k + 1} {body[:60]!r} does not fit "
                                f"the header {line!r}")
            hunk.lines.append(body)
            k += 1
        hunks.append(hunk)
    return hunks


def is_insertion_only(diff: str) -> bool:
    return all(h.old_len == 0 for h in parse_diff(diff))


def apply_diff(old: list[str], diff: str) -> list[str]:
    """Apply ``diff`` to the lines ``old``; every removed or context line must match."""
    out: list[str] = []
    pos = 0  # next unread 0-based line of old
    for number, hunk in enumerate(parse_diff(diff), 1):
        start = hunk.old_start if hunk.old_len == 0 else hunk.old_start - 1
        if start < pos or start > len(old):
            raise DiffError(f"hunk {number}: starts at old line {hunk.old_start}, but the text has "
                            f"{len(old)} lines" if start > len(old) else
                            f"hunk {number}: overlaps or precedes the previous hunk")
        out.extend(old[pos:start])
        pos = start
        for body in hunk.lines:
            tag, text = body[:1], body[1:]
            if tag == "+":
                out.append(text)
                continue
            if pos >= len(old) or old[pos] != text:
                got = old[pos] if pos < len(old) else "<end of text>"
                raise DiffError(f"hunk {number}: line {pos + 1} is {got[:60]!r}, the diff expects "
                                f"{text[:60]!r}")
            if tag == " ":
                out.append(text)
            pos += 1
    out.extend(old[pos:])
    return out
