"""core.diff: the papers' zero-context diff, insertion-only diffs, and applying diffs."""

from __future__ import annotations

import difflib

import pytest
import unidiff
from hypothesis import given, settings
from hypothesis import strategies as st

from papertools.core.diff import (DiffError, apply_diff, canonical_insertion_diff, insertion_diff,
                                  is_insertion_only, paper_diff, parse_diff, unified_diff,
                                  with_headers)

PROPERTY = settings(max_examples=150, deadline=None)

# Small alphabets so that repeated lines (and so several alignments) are common; some lines look
# like diff syntax, to catch a parser that reads body text as structure.
TRICKY = ["a", "b", "c", "", " ", "    x = 1", "-", "+", "-a", "+b", "--- file1", "+++ file2",
          "@@ -1 +1 @@", "\\ No newline at end of file", "é", "a\r", "tab\there"]
lines = st.lists(st.sampled_from(TRICKY), max_size=12)
few_lines = st.lists(st.sampled_from(["a", "b", ""]), max_size=10)
# unidiff splits with str.splitlines (which also breaks on "\r"), so its alphabet has no "\r".
unidiff_lines = st.lists(st.sampled_from([t for t in TRICKY if "\r" not in t]), max_size=12)


def papers_expression(a, b):
    return "\n".join(list(difflib.unified_diff(a, b, n=0, fromfile="file1", tofile="file2",
                                               lineterm=""))[2:])


@st.composite
def insertions(draw, alphabet=("a", "b", "c", "")):
    """(old, new, inserted): ``new`` with the lines at sorted positions ``inserted`` removed."""
    new = draw(st.lists(st.sampled_from(list(alphabet)), max_size=12))
    inserted = sorted(draw(st.sets(st.integers(0, max(0, len(new) - 1)), max_size=len(new))))
    inserted = [i for i in inserted if i < len(new)]
    keep = set(range(len(new))) - set(inserted)
    old = [new[i] for i in sorted(keep)]
    return old, new, inserted


# -- the papers' diff --------------------------------------------------------------------------

@PROPERTY
@given(lines, lines)
def test_unified_diff_is_the_papers_expression(a, b):
    assert unified_diff(a, b) == papers_expression(a, b)


@PROPERTY
@given(lines, lines)
def test_apply_inverts_unified_diff(a, b):
    diff = unified_diff(a, b)
    assert apply_diff(a, diff) == b
    assert apply_diff(a, with_headers(diff)) == b  # header lines are tolerated


@PROPERTY
@given(unidiff_lines, unidiff_lines)
def test_with_headers_parses_with_unidiff(a, b):
    diff = unified_diff(a, b)
    patch = unidiff.PatchSet(with_headers(diff))
    ours = parse_diff(diff)
    assert len(patch) == 1
    hunks = list(patch[0])
    assert len(hunks) == len(ours)
    for theirs, mine in zip(hunks, ours):
        assert (theirs.source_start, theirs.source_length, theirs.target_start,
                theirs.target_length) == (mine.old_start, mine.old_len, mine.new_start, mine.new_len)
        assert [ln.value.removesuffix("\n") for ln in theirs if ln.is_removed] == \
            [body[1:] for body in mine.lines if body.startswith("-")]
        assert [ln.value.removesuffix("\n") for ln in theirs if ln.is_added] == \
            [body[1:] for body in mine.lines if body.startswith("+")]
        assert not [ln for ln in theirs if ln.is_context]
    removed = [ln.value.removesuffix("\n") for h in hunks for ln in h if ln.is_removed]
    added = [ln.value.removesuffix("\n") for h in hunks for ln in h if ln.is_added]
    assert len(b) == len(a) - len(removed) + len(added)


def test_unified_diff_known_value():
    assert unified_diff(["a", "b", "c"], ["a", "x", "c", "d"]) == \
        "@@ -2 +2 @@\n-b\n+x\n@@ -3,0 +4 @@\n+d"
    assert unified_diff([], ["x", "y"]) == "@@ -0,0 +1,2 @@\n+x\n+y"
    assert unified_diff(["x"], []) == "@@ -1 +0,0 @@\n-x"
    assert unified_diff(["same"], ["same"]) == ""


def test_paper_diff_strips_and_splits_whole_strings():
    assert paper_diff("  x\ny\n\n", "x\nz\n") == "@@ -2 +2 @@\n-y\n+z"
    assert paper_diff("\n\nfoo\n", "foo") == ""
    assert paper_diff("", "a\r\nb") == "@@ -0,0 +1,2 @@\n+a\n+b"


@PROPERTY
@given(st.text(alphabet="ab \n\t", max_size=30), st.text(alphabet="ab \n\t", max_size=30))
def test_paper_diff_is_unified_diff_of_stripped_lines(a, b):
    diff = paper_diff(a, b)
    assert diff == unified_diff(a.strip().splitlines(), b.strip().splitlines())
    assert apply_diff(a.strip().splitlines(), diff) == b.strip().splitlines()


# -- insertion-only diffs ----------------------------------------------------------------------

@PROPERTY
@given(insertions(alphabet=TRICKY))
def test_insertion_diff_applies_and_only_inserts(case):
    old, new, inserted = case
    diff = insertion_diff(new, inserted)
    assert is_insertion_only(diff)
    assert apply_diff(old, diff) == new
    added = [body[1:] for h in parse_diff(diff) for body in h.lines]
    assert added == [new[i] for i in inserted]


def test_insertion_diff_groups_runs_like_difflib():
    new = ["a", "X", "Y", "b", "Z"]
    assert insertion_diff(new, [1, 2, 4]) == "@@ -1,0 +2,2 @@\n+X\n+Y\n@@ -2,0 +5 @@\n+Z"
    assert insertion_diff(new, [1, 2, 4]) == unified_diff(["a", "b"], new)
    assert insertion_diff(["a"], []) == ""


@settings(max_examples=300, deadline=None)
@given(insertions())
def test_canonical_insertion_diff(case):
    old, new, inserted = case
    diff = canonical_insertion_diff(old, new, inserted)
    assert is_insertion_only(diff)
    assert apply_diff(old, diff) == new
    theirs = unified_diff(old, new)
    if is_insertion_only(theirs):
        assert diff == theirs


def test_canonical_insertion_diff_follows_difflib_on_ambiguous_alignments():
    # "a" can be the first or the second line of new; difflib chooses, and we must match it.
    old, new = ["a"], ["a", "a"]
    for inserted in ([0], [1]):
        assert canonical_insertion_diff(old, new, inserted) == unified_diff(old, new)


# -- applying and its errors -------------------------------------------------------------------

def test_apply_accepts_context_lines_of_ordinary_diffs():
    old = ["a", "b", "c", "d"]
    new = ["a", "b", "C", "d"]
    ordinary = "\n".join(difflib.unified_diff(old, new, n=1, lineterm=""))
    assert apply_diff(old, ordinary) == new


@pytest.mark.parametrize("old, diff, message", [
    (["a"], "@@ bad @@\n-a", "line 1: expected a hunk header"),
    (["a"], "-a", "line 1: expected a hunk header"),
    (["a", "b"], "@@ -1,2 +0,0 @@\n-a", "hunk 1: the diff ends inside the hunk"),
    (["a"], "@@ -1 +0,0 @@\n+a", "hunk 1: line 2 '+a' does not fit"),
    (["a"], "@@ -1 +0,0 @@\n-b", "hunk 1: line 1 is 'a', the diff expects 'b'"),
    (["a"], "@@ -1 +1 @@\n-a\n+A\n@@ -1 +1 @@\n-a\n+A",
     "hunk 2: overlaps or precedes the previous hunk"),
    (["a", "b"], "@@ -2 +2 @@\n-b\n+B\n@@ -1 +1 @@\n-a\n+A",
     "hunk 2: overlaps or precedes the previous hunk"),
    (["a"], "@@ -5,0 +6 @@\n+x", "hunk 1: starts at old line 5, but the text has 1 lines"),
    (["a"], "@@ -2 +1,0 @@\n-b", "hunk 1: line 2 is '<end of text>', the diff expects 'b'"),
])
def test_apply_errors(old, diff, message):
    with pytest.raises(DiffError) as info:
        apply_diff(old, diff)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


@PROPERTY
@given(lines, lines, st.data())
def test_apply_detects_any_changed_removed_line(a, b, data):
    diff = unified_diff(a, b)
    removed = [k for k, body in enumerate(diff.split("\n")) if body.startswith("-")]
    if not removed:
        return
    k = data.draw(st.sampled_from(removed))
    body = diff.split("\n")
    body[k] = "-" + body[k][1:] + "!"
    with pytest.raises(DiffError):
        apply_diff(a, "\n".join(body))
