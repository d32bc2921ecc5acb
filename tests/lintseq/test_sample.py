"""LintSeq backward sampling: the paper's properties on every HumanEval program and on
generated programs, plus the pieces of the algorithm one by one."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertools.cli.lintseq.apply import replay
from papertools.cli.lintseq.linters import PyflakesLinter
from papertools.cli.lintseq.sample import (
    Program, Reject, candidate_lines, indentation, normalize_program, strip_fences)
from papertools.core.diff import is_insertion_only, paper_diff

from tests.lintseq.conftest import humaneval_programs

LINTER = PyflakesLinter()


def full_errors(text: str) -> list:
    """pyflakes errors with no shortcut at all (what every state is checked against)."""
    return LINTER.lint(text)


def check_sequence(program: Program, rounds: list[int], initial_errors: int = 0) -> list[str]:
    edits = program.edits(rounds)
    # 1. replaying the edits from the empty file gives the normalised program exactly
    assert replay(edits) == program.text
    # 2. every edit only inserts
    assert all(is_insertion_only(e) for e in edits)
    # 3. every intermediate state is free of linter errors (the original's excepted)
    for state in program.states(rounds):
        assert len(full_errors(state)) <= initial_errors, state
    # 4. every round deletes something, and rounds do not overlap
    seen = 0
    for mask in rounds:
        assert mask and not mask & seen
        seen |= mask
    return edits


@pytest.mark.parametrize("samples", [2])
def test_every_humaneval_program(samples):
    """HumanEval (164 programs): round trip, insertion-only, clean states, for 2 samples each."""
    sequences = 0
    for task in humaneval_programs():
        program = Program(normalize_program(task["program"]), LINTER)
        rng = random.Random(task["id"])
        for _ in range(samples):
            check_sequence(program, program.sample_rounds(rng))
            sequences += 1
    assert sequences == 164 * samples


def test_edits_match_the_released_diff_where_it_is_insertion_only(humaneval):
    """Where difflib on the released ``state.strip().splitlines()`` only inserts, our edit is
    byte-identical to it; count that this is the common case."""
    compared = identical = 0
    for task in humaneval[:60]:
        program = Program(normalize_program(task["program"]), LINTER)
        rounds = program.sample_rounds(random.Random(0))
        edits = program.edits(rounds)
        states = [program.text, *program.states(rounds)]
        if states[-1].strip():
            states.append("")
        states.reverse()
        released = [paper_diff(a, b) for a, b in zip(states, states[1:])]
        released = [d for d in released if d]  # an all-blank final state gives an empty diff
        assert len(released) == len(edits)
        for ours, theirs in zip(edits, released):
            if is_insertion_only(theirs):
                compared += 1
                assert ours == theirs
                identical += 1
    assert compared > 300 and identical == compared


PROGRAM_PARTS = st.sampled_from([
    "a = 1", "b = a + 1", "print(a, b)", "c = [a, b]", "import os", "x = os.sep",
    "def f(y):\n    z = y * 2\n    return z + a",
    "def g():\n    for i in range(3):\n        if i:\n            print(i)\n    return f(1)",
    "class K:\n    v = 3\n\n    def m(self):\n        return self.v + b",
    "if a:\n    d = 2\nelse:\n    d = 3",
    "while False:\n    break",
    "try:\n    e = 1 / a\nexcept ZeroDivisionError as err:\n    print(err)",
    "with open(__file__) as fh:\n    text = fh.read()",
    "# a comment", "", "TABLE = [\n    1,\n    2,\n]", "s = '''\nraw text = 1\n'''",
    "q = [k for k in c if k]", "r = lambda t: t + a", "print(f'{a} and {b}')",
    "def h(u: 'K') -> 'K':\n    return u",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PROGRAM_PARTS, min_size=1, max_size=10), seed=st.integers(0, 2**32))
def test_generated_programs(parts, seed):
    """Random programs made of real Python pieces: same properties; programs with initial
    errors are rejected by default and sampled with allow_initial_errors."""
    text = normalize_program("\n".join(parts))
    initial = full_errors(text) if text else []
    try:
        program = Program(text, LINTER)
    except Reject as why:
        assert initial or not candidate_lines(text.split("\n")), str(why)
        if initial and initial[0].code != "SyntaxError":
            program = Program(text, LINTER, allow_initial_errors=True)
            rounds = program.sample_rounds(random.Random(seed))
            assert replay(program.edits(rounds)) == text
        return
    assert not initial
    check_sequence(program, program.sample_rounds(random.Random(seed)))


# -- pieces ------------------------------------------------------------------------------------

def test_indentation_follows_the_released_rule():
    lines = ["def f(x):", "    if x:", "        y = (1,", "  )", "", "        return y", "    return 0"]
    indents, tab = indentation(lines)
    # a line with at most one non-space character inherits the previous indent
    assert indents == [0, 4, 8, 8, 8, 8, 4]
    assert tab == 4


def test_candidates_skip_comments_blanks_and_constant_bodies():
    lines = ["import os", "# note", "", "NAMES = [", "    'a',", "    'b',", "]", "x = NAMES",
             "Lower = [", "    1,", "]"]
    assert candidate_lines(lines) == [0, 3, 7, 8, 9, 10]


def test_children_and_weights():
    text = "def f(x):\n    if x:\n        return 1\n    return 0\ny = f(1)"
    program = Program(text, LINTER)
    assert program.children(0) == [1, 2, 3]
    assert program.children(1) == [2]
    assert program.children(2) == []
    assert program.weights == [1.0, 1.0, 2.0, 1.0, 1.0]


def test_deeper_lines_are_drawn_proportionally_more_often():
    """First-round draws follow the weights (1 per indent level, 1 at indent 0). Here line 4
    (weight 2) or line 3 (weight 1) gives round {3, 4} (an empty 'if b:' is a syntax error);
    line 1 or 2 gives {1, 2, 3, 4} (b undefined); line 0 gives everything."""
    text = "a = 1\nif a:\n    b = 2\n    if b:\n        c = 3"
    program = Program(text, LINTER)
    assert program.weights == [1.0, 1.0, 1.0, 1.0, 2.0]
    counts = {}
    trials = 3000
    for seed in range(trials):
        first = program.sample_rounds(random.Random(seed))[0]
        counts[first] = counts.get(first, 0) + 1
    expected = {0b11000: 3 / 6, 0b11110: 2 / 6, 0b11111: 1 / 6}
    assert set(counts) == set(expected)
    for mask, share in expected.items():
        assert abs(counts[mask] / trials - share) < 0.03, counts


def test_linter_cascade_deletes_dependent_lines():
    """Deleting 'a = 10' makes every later use of a undefined, so those lines go in the same
    round (the paper's example)."""
    text = "a = 10\nb = a + 1\nc = b * 2\nd = 5\nprint(d)"
    program = Program(text, LINTER)
    assert program.induced_deletion(0, 0) == 0b00111
    assert program.induced_deletion(3, 0) == 0b11000
    assert program.induced_deletion(0, 0b00110) == 0b00001  # b, c already gone: a goes alone


def test_syntax_error_names_the_header_line():
    """'expected an indented block after ... on line N': the header is deleted, as released."""
    text = "def f(x):\n    if x:\n        return 1\n    return 0"
    program = Program(text, LINTER)
    edit = program.induced_deletion(2, 0)  # delete 'return 1' alone: the if is left empty
    assert edit == (1 << 1) | (1 << 2)


def test_fences_and_normalisation():
    text = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```python\nx = f()\n```\n"
    assert strip_fences(text) == "def f():\n    return 1\n\n\nx = f()"  # released joining
    assert normalize_program("\r\n\r\nx = 1\r\ny = x  \r\n\n") == "x = 1\ny = x"
    assert strip_fences("no fences") == "no fences"


def test_rejects():
    with pytest.raises(Reject, match="syntax error on line 1"):
        Program("def f(:\n    pass", LINTER)
    with pytest.raises(Reject, match="already has linter errors: line 2: undefined name 'h'"):
        Program("def g():\n    return h(1)", LINTER)
    with pytest.raises(Reject, match="nothing to sample"):
        Program("# only\n# comments", LINTER)
    with pytest.raises(Reject, match="nothing to sample"):
        Program("", LINTER)


def test_initial_errors_are_ignored_when_allowed():
    text = "def g():\n    return h(1)\nx = g()\ny = x"
    program = Program(text, LINTER, allow_initial_errors=True)
    for seed in range(20):
        rounds = program.sample_rounds(random.Random(seed))
        check_sequence(program, rounds, initial_errors=1)


def test_random_chunk_ablation():
    """--linter none: chunks of randint(1, len - 1) random lines, every line a candidate."""
    text = "a = 1\n\n# c\nb = 2\nprint(a, b)"
    program = Program(text, None)
    for seed in range(50):
        rounds = program.sample_rounds(random.Random(seed))
        assert sum(bin(r).count("1") for r in rounds) == program.n
        assert bin(rounds[0]).count("1") < program.n
        assert replay(program.edits(rounds)) == text
