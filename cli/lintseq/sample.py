"""LintSeq backward sampling (Piterbarg, Pinto and Fergus, 2024), read top to bottom in run order.

For one program, one edit sequence is sampled backwards:

1. Split the (normalised) program on "\\n". Candidate lines are the non-blank, non-comment lines,
   minus the bodies of multi-line UPPERCASE constant definitions (only the opening line stays).
2. Weight each candidate: 1 at indent 0, ``indent / tab_width * indent_bias`` when indented
   (``tab_width`` is the first non-zero indent; a line with at most one non-space character
   inherits the previous line's indent). Deeper lines are proportionally more likely.
3. Each round draws one remaining candidate by weight, deletes it together with its indentation
   children (the following lines indented deeper than it), runs the linter on what is left, and
   deletes every line the linter flags (with their children), linting again until the program is
   clean. The lines deleted in a round make one edit.
4. Rounds go on until no candidate is left (or 512 rounds). Reversed, the states run from the
   empty file to the program; each consecutive pair becomes an insertion-only zero-context diff.

These are the released code's settings for data generation (``children_per_round=1, top_k=1,
max_population_size=1, max_depth=512, indent_bias_sampling_factor=1, ignore_comments=True,
ignore_global_defs=True, ignore_imports=False``), i.e. the paper's algorithm.

Whitespace. The program is normalised once (:func:`normalize_program`): the text inside
```` ```python ```` fences is kept when there are any (as the released code does), ``\\r\\n``
becomes ``\\n``, and leading and trailing whitespace of the whole program is stripped (the
released ``get_diff`` strips every state). A state is the program's remaining lines with the
blank lines at its two ends dropped; lines are never altered inside, so the edits replay to the
normalised program exactly and every edit only inserts. Where the released code's diff
(``difflib`` on ``state.strip().splitlines()``) is insertion-only on these states, ours is
byte-identical to it (:func:`papertools.core.diff.canonical_insertion_diff`).

Speed. Linting is the cost. Every state is linted through :class:`.fastlint.StateLinter`, which
caches results and skips the linter where an exact shortcut shows that the deletion cannot have
changed the answer; with or without it the rounds sampled are the same (see :mod:`.fastlint`).

The random-chunk ablation (``--linter none``) is the released ``random_chunked_trajectory``:
repeatedly delete ``randint(1, len(remaining) - 1)`` random lines (all lines are candidates)
until none remain, with no linter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from papertools.core.diff import canonical_insertion_diff

from .fastlint import Counters, StateLinter
from .linters import syntax_error

MAX_ROUNDS = 512  # the released max_depth
_FENCE = "```python"


class Reject(Exception):
    """The program cannot be sampled (syntax error, initial errors, nothing to sample)."""


def strip_fences(text: str) -> str:
    """Keep only the ```` ```python ```` fenced blocks when there are any (released behaviour)."""
    if _FENCE not in text:
        return text
    chunks, rest = [], text
    while _FENCE in rest:
        rest = rest[rest.find(_FENCE) + len(_FENCE):]
        end = rest.find("```")
        chunks.append(rest if end < 0 else rest[:end])
        rest = "" if end < 0 else rest[end + 3:]
    return "\n".join(chunks).strip()


def normalize_program(text: str) -> str:
    """Fences stripped, ``\\r\\n`` made ``\\n``, surrounding whitespace stripped."""
    return strip_fences(text).replace("\r\n", "\n").strip()


def indentation(lines: list[str]) -> tuple[list[int], int | None]:
    """Per-line indent (the released rule: a line with <= 1 non-space character inherits the
    previous indent) and the tab width (the first non-zero indent)."""
    indents, tab_width, current = [], None, 0
    for line in lines:
        body = line.lstrip()
        if len(body) > 1:
            current = len(line) - len(body)
        indents.append(current)
        if tab_width is None and current > 0:
            tab_width = current
    return indents, tab_width


def candidate_lines(lines: list[str]) -> list[int]:
    """Non-blank, non-comment lines, without the bodies of multi-line UPPERCASE constants."""
    out, open_def = [], None
    for i, line in enumerate(lines):
        body = line.lstrip()
        if not body or body[0] == "#":
            continue
        end = line.rstrip()[-1]
        if open_def is None:
            out.append(i)
            if "=" in line and line[: line.find("=")].replace(" ", "").isupper() \
                    and end in "([":
                open_def = ")" if end == "(" else "]"
        elif end == open_def:
            open_def = None
    return out


@dataclass
class Program:
    """One normalised program, ready to be sampled many times."""

    text: str
    linter: object = None  # a linter from .linters, or None for the random-chunk ablation
    allow_initial_errors: bool = False
    indent_bias: float = 1.0
    cache: bool = True  # memoise linter results by state (off: the released code's behaviour)
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self):
        self.lines = self.text.split("\n")
        self.n = len(self.lines)
        self._children: dict[int, list[int]] = {}
        if self.linter is None:
            if not self.text:
                raise Reject("nothing to sample: the program is empty")
            return
        tree, error = syntax_error(self.text)
        if error is not None:
            raise Reject(f"syntax error on line {error.line}: {error.message}")
        self.checker = StateLinter(self.lines, tree, self.linter, self.cache, self.counters)
        initial = self.checker.errors(0, count=False)
        if initial and not self.allow_initial_errors:
            first = initial[0]
            more = f" (and {len(initial) - 1} more)" if len(initial) > 1 else ""
            raise Reject(f"the program already has linter errors: line {first[1] + 1}: "
                         f"{first[2]}{more}; --allow-initial-errors ignores them")
        self.checker.allow(initial)
        self.indents, self.tab_width = indentation(self.lines)
        self.candidates = candidate_lines(self.lines)
        if not self.candidates:
            raise Reject("nothing to sample: no code lines (only blank lines or comments)")
        self.weights = [
            1.0 if self.indents[i] == 0 else self.indents[i] / self.tab_width * self.indent_bias
            for i in range(self.n)]

    # -- the algorithm: backward rounds of deletions ---------------------------------------------

    def sample_rounds(self, rng: random.Random) -> list[int]:
        """One backward pass: the bitmask of lines deleted in each round, in deletion order."""
        if self.linter is None:
            return self._random_chunks(rng)
        deleted, rounds = 0, []
        remaining = list(self.candidates)
        weights = self.weights
        while remaining and len(rounds) < MAX_ROUNDS:
            total = sum(weights[c] for c in remaining)
            threshold, acc, pick = rng.random() * total, 0.0, remaining[-1]
            for c in remaining:
                acc += weights[c]
                if threshold < acc:
                    pick = c
                    break
            edit = self.induced_deletion(pick, deleted)
            rounds.append(edit)
            deleted |= edit
            remaining = [c for c in remaining if not edit >> c & 1]
        return rounds

    def induced_deletion(self, seed_line: int, deleted: int) -> int:
        """Delete ``seed_line`` and its children, then every line the linter flags (and their
        children), until the program lints clean. Returns the bitmask of lines deleted."""
        edit = 0
        affected = [seed_line]
        while affected:
            for line in affected:
                edit |= 1 << line
                for child in self.children(line):
                    edit |= 1 << child
            errors = self.checker.errors(deleted | edit, since_clean=edit & ~deleted)
            affected = sorted({e[1] for e in errors})
        return edit & ~deleted

    def children(self, line: int) -> list[int]:
        """Lines after ``line`` indented deeper than it, up to the first that is not."""
        got = self._children.get(line)
        if got is None:
            indents, target = self.indents, self.indents[line]
            got = []
            for j in range(line + 1, self.n):
                if indents[j] <= target:
                    break
                got.append(j)
            self._children[line] = got
        return got

    # -- reversed: the forward edit sequence -----------------------------------------------------

    def edits(self, rounds: list[int]) -> list[str]:
        """The forward edit sequence: insertion-only diffs from the empty file to the program."""
        states, deleted = [self._trim(0)], 0
        for mask in rounds:
            deleted |= mask
            states.append(self._trim(deleted))
        states.append([])
        states.reverse()
        diffs = []
        for old, new in zip(states, states[1:]):
            if old == new:
                continue
            old_set = set(old)
            inserted = [k for k, i in enumerate(new) if i not in old_set]
            diffs.append(canonical_insertion_diff([self.lines[i] for i in old],
                                                  [self.lines[i] for i in new], inserted))
        return diffs

    def _trim(self, deleted: int) -> list[int]:
        """Remaining line indices with the blank lines at both ends dropped."""
        kept = [i for i in range(self.n) if not deleted >> i & 1]
        lo, hi = 0, len(kept)
        while lo < hi and not self.lines[kept[lo]].strip():
            lo += 1
        while hi > lo and not self.lines[kept[hi - 1]].strip():
            hi -= 1
        return kept[lo:hi]

    def states(self, rounds: list[int]) -> list[str]:
        """The program text after each backward round (for checks and debugging)."""
        out, deleted = [], 0
        for mask in rounds:
            deleted |= mask
            out.append("\n".join(self.lines[i] for i in range(self.n) if not deleted >> i & 1))
        return out

    # -- the random-chunk ablation (--linter none) -----------------------------------------------

    def _random_chunks(self, rng: random.Random) -> list[int]:
        remaining, rounds = list(range(self.n)), []
        while remaining:
            size = len(remaining) if len(remaining) == 1 else rng.randrange(1, len(remaining))
            chunk = rng.sample(remaining, size)
            mask = 0
            for c in chunk:
                mask |= 1 << c
            rounds.append(mask)
            remaining = [c for c in remaining if not mask >> c & 1]
        return rounds


# --------------------------------------------------------------------------------------------
# Records: one input record in, its sampled sequences out (the unit of parallel work).


@dataclass(frozen=True)
class SampleConfig:
    samples: int = 1
    seed: int = 0
    linter: str = "pyflakes"  # pyflakes | pylint | none
    allow_initial_errors: bool = False
    code_field: str = "program"
    instruction_field: str = "instruction"


@dataclass
class SampleResult:
    lines: list  # JSONL lines (bytes), one per sequence
    counters: Counters | None = None
    reject: str | None = None
    error: Exception | None = None  # an InputError for the diagnostics policy


_LINTERS: dict = {}


def _linter(name: str):
    if name == "none":
        return None
    if name not in _LINTERS:
        from .linters import make_linter

        _LINTERS[name] = make_linter(name)
    return _LINTERS[name]


def sample_record(config: SampleConfig, item) -> SampleResult:
    """Sample ``config.samples`` edit sequences for one input record (an ``Item``)."""
    from papertools.core.errors import InputError, field
    from papertools.core.jsonl import record_id
    from papertools.core.seed import python_rng

    record, place = item.record, item.place
    try:
        code = field(record, config.code_field, str, place=place)
        instruction = field(record, config.instruction_field, str, place=place, required=False,
                            default="")
        source_id = record_id(item)
    except InputError as err:
        return SampleResult([], error=err)
    try:
        program = Program(normalize_program(code), _linter(config.linter),
                          allow_initial_errors=config.allow_initial_errors)
    except Reject as why:
        return SampleResult([], reject=str(why))
    rng = python_rng(config.seed, item.index)
    return SampleResult(sequences(program, record, source_id, instruction, rng, config.samples),
                        counters=program.counters)


def sequences(program: Program, record: dict, source_id: str, instruction: str,
              rng: random.Random, samples: int) -> list[bytes]:
    """``samples`` sequences of ``program`` as output lines (the record's fields kept)."""
    from papertools.core.jsonl import dumps

    lines = []
    for s in range(samples):
        before = program.counters.lint_calls
        rounds = program.sample_rounds(rng)
        edits = program.edits(rounds)
        out = dict(record)
        out.update(id=f"{source_id}:{s}", source_id=source_id, sample=s, instruction=instruction,
                   edits=edits, n_edits=len(edits), n_lines=program.n,
                   lint_calls=program.counters.lint_calls - before)
        lines.append(dumps(out))
    return lines
