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

Speed. Linting is the cost, and three exact shortcuts avoid linting what cannot have changed
(:meth:`Program._shortcut`; a property test checks them against full pyflakes):

- results are cached per program by the set of deleted lines (its samples share states);
- a deletion that removes only whole single-line statements, whole compound statements, comment
  or blank lines, or lines inside a multi-line string, and binds no name still mentioned
  anywhere in what remains, can introduce no pyflakes error: only the parse is checked;
- when such a deletion also leaves no block empty, it cannot break the parse either: no check.

These facts come from the original program's AST (:class:`LineFacts`) and hold for states that
still parse as the original does, which is checked first.

The random-chunk ablation (``--linter none``) is the released ``random_chunked_trajectory``:
repeatedly delete ``randint(1, len(remaining) - 1)`` random lines (all lines are candidates)
until none remain, with no linter.
"""

from __future__ import annotations

import ast
import random
import re
import unicodedata
from dataclasses import dataclass, field

from papertools.core.diff import canonical_insertion_diff

from .linters import LintError, syntax_error

MAX_ROUNDS = 512  # the released max_depth
# Identifier-like words. Outside strings and comments, every non-ASCII character of a program is
# part of an identifier, which the parser reads in NFKC form (PEP 3131).
_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")
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


# --------------------------------------------------------------------------------------------
# Per-program facts, computed once and shared by all samples of the program.


# Every kind of node in Python 3.11's syntax trees; each was checked for what its lines may
# bind, hold or open. A program with any other kind (PEP 695's type statements and parameters
# of Python 3.12, or later additions) is linted without shortcuts.
KNOWN_NODES = frozenset("""
    Add And AnnAssign Assert Assign AsyncFor AsyncFunctionDef AsyncWith Attribute AugAssign
    Await BinOp BitAnd BitOr BitXor BoolOp Break Call ClassDef Compare Constant Continue Del
    Delete Dict DictComp Div Eq ExceptHandler Expr FloorDiv For FormattedValue FunctionDef
    GeneratorExp Global Gt GtE If IfExp Import ImportFrom In Invert Is IsNot JoinedStr LShift
    Lambda List ListComp Load Lt LtE MatMult Match MatchAs MatchClass MatchMapping MatchOr
    MatchSequence MatchSingleton MatchStar MatchValue Mod Module Mult Name NamedExpr Nonlocal
    Not NotEq NotIn Or Pass Pow RShift Raise Return Set SetComp Slice Starred Store Sub
    Subscript Try TryStar Tuple UAdd USub UnaryOp While With Yield YieldFrom alias arg
    arguments comprehension keyword match_case withitem""".split())


def line_facts(lines: list[str], tree: ast.AST) -> LineFacts | None:
    """The program's :class:`LineFacts`, or None when its tree holds a kind of node that is not
    in :data:`KNOWN_NODES` (then every state is linted)."""
    for node in ast.walk(tree):
        if type(node).__name__ not in KNOWN_NODES:
            return None
    return LineFacts(lines, tree)


class LineFacts:
    """What deleting each line can do, from the original program's AST.

    ``safe[i]``: deleting line i (alone or with other safe lines) can change the program only by
    removing whole simple statements, comments, blank lines or string contents; such a
    deletion keeps a clean program parseable unless it empties a block (``block_of``,
    ``block_anchors``); ``binds[i]``:
    the names bound on line i; ``words[i]``: every identifier-like word on line i (code, strings
    and comments alike, so string annotations, ``__all__`` and type comments count).
    """

    def __init__(self, lines: list[str], tree: ast.Module):
        n = len(lines)
        self.words = [words_of(line) for line in lines]
        self.binds: list[frozenset] = [frozenset()] * n
        in_multiline = [False] * n  # inside a multi-line simple statement
        whole_stmt = [False] * n  # holds complete single-line simple statements
        string_inside = [False] * n  # strictly inside a multi-line plain string literal
        unsafe = [False] * n  # headers, clauses, decorators, f-strings, __future__ imports
        binds: dict[int, set] = {}
        # Blocks (bodies of compound statements): the anchor line of each of their statements,
        # and for each single-line statement, its block. A clean state has no empty block.
        self.block_of: dict[int, int] = {}
        self.block_anchors: list[list[int]] = []
        # Units: the lines of each multi-line statement or header. The parse of what remains
        # matches the original's ("intact" states, the only ones these facts speak of) when every
        # unit is either all there but for lines inside its strings, or gone entirely.
        spans: list[tuple[int, int]] = []
        # Compound statements as a whole: (all their lines, anchor line, names they bind in the
        # enclosing scope). Deleting one entirely is like deleting a simple statement.
        compounds = []
        # Compound statements' header and clause lines (else, except, finally, case, ...): one
        # left without its header would join another statement.
        clauses = []
        # Strings that pyflakes parses as code (annotations, arguments of calls such as cast or
        # TypeVar): their contents are not free to delete.
        parsed_strings = {id(node) for root in _parsed_string_roots(tree)
                          for node in ast.walk(root) if isinstance(node, ast.Constant)}

        for node in ast.walk(tree):
            if not isinstance(node, ast.Module):
                for attr in ("body", "orelse", "finalbody"):
                    stmts = getattr(node, attr, None)
                    if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                        block = len(self.block_anchors)
                        self.block_anchors.append([st.lineno - 1 for st in stmts])
                        for st in stmts:
                            if st.lineno == st.end_lineno or _is_compound(st):
                                self.block_of[st.lineno - 1] = block
            if isinstance(node, ast.stmt) and _is_compound(node) or \
                    isinstance(node, (ast.ExceptHandler, ast.match_case)):
                start, body_start = _header(node, lines)
                first = start
                for deco in getattr(node, "decorator_list", ()):
                    first = min(first, deco.lineno - 1)
                for i in range(first, min(body_start, n - 1) + 1):
                    unsafe[i] = True
                header_end = body_start - 1 if body_start > start else body_start
                if header_end > first:  # decorators included: one left alone decorates another
                    spans.append((first, header_end))
                if isinstance(node, ast.stmt):
                    mask = 0
                    for i in range(first, node.end_lineno):
                        mask |= 1 << i
                    compounds.append((mask, node.lineno - 1, frozenset(_scope_bindings(node))))
                    clauses.append((start, node.end_lineno - 1, _clause_indents(node, lines)))
            elif isinstance(node, ast.stmt):
                first, last = node.lineno - 1, node.end_lineno - 1
                if first == last:
                    if not in_multiline[first]:
                        whole_stmt[first] = True
                else:
                    spans.append((first, last))
                    for i in range(first, last + 1):
                        in_multiline[i] = True
                        whole_stmt[i] = False
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    unsafe[first] = True
                for name in _bound_names(node):
                    binds.setdefault(first, set()).add(name)
            elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) \
                    and node.end_lineno > node.lineno and id(node) not in parsed_strings:
                for i in range(node.lineno, node.end_lineno - 1):
                    string_inside[i] = True
            elif isinstance(node, ast.JoinedStr) and node.end_lineno > node.lineno:
                for i in range(node.lineno - 1, node.end_lineno):
                    unsafe[i] = True  # f-string fields may hold anything

        compounds.sort(key=lambda c: -c[0].bit_count())  # outermost first
        self.compounds = compounds
        self.units = []  # (all lines, lines outside string contents) of each span
        for first, last in spans:
            whole = core = 0
            for i in range(first, last + 1):
                whole |= 1 << i
                if not string_inside[i]:
                    core |= 1 << i
            self.units.append((whole, core))
        for first, last, indents in clauses:
            mask = 0
            for i in range(first, last + 1):
                body = lines[i].lstrip()
                if body and body[0] != "#" and not string_inside[i] \
                        and len(lines[i]) - len(body) in indents:
                    mask |= 1 << i
            if mask & (mask - 1):  # two lines or more
                self.units.append((mask, mask))

        self.safe = []
        for i, line in enumerate(lines):
            stripped = line.strip()
            if unsafe[i] or (_is_clause_line(stripped) and not string_inside[i]):
                ok = False
            elif string_inside[i]:
                ok = True
            elif in_multiline[i]:
                ok = False
            elif whole_stmt[i]:
                ok = True
            else:  # blank or comment lines between statements
                ok = not stripped or stripped.startswith("#")
            self.safe.append(ok)
            if ok and not string_inside[i]:
                self.binds[i] = frozenset(binds.get(i, ()))


def words_of(text: str) -> frozenset:
    """Every identifier-like word of ``text``, as the parser would name it."""
    return frozenset(word if word.isascii() else unicodedata.normalize("NFKC", word)
                     for word in _WORD.findall(text))


def _is_compound(node: ast.stmt) -> bool:
    return hasattr(node, "body") or isinstance(node, ast.Match)


def _header(node: ast.AST, lines: list[str]) -> tuple[int, int]:
    """The first line of a compound statement or clause (decorators aside) and the first line
    of its body (of its first case, for a match statement)."""
    if isinstance(node, ast.match_case):  # no position of its own: its pattern's, and the
        start = node.pattern.lineno - 1  # lines continued onto it ("case \\")
        while start > 0 and lines[start - 1].endswith("\\"):
            start -= 1
    else:
        start = node.lineno - 1
    if isinstance(node, ast.Match):
        return start, _header(node.cases[0], lines)[0]
    return start, node.body[0].lineno - 1


def _clause_indents(node: ast.stmt, lines: list[str]) -> tuple[int, ...]:
    """The indents of a compound statement's header and clause lines."""
    def indent(line: int) -> int:
        return len(lines[line]) - len(lines[line].lstrip())

    if isinstance(node, ast.Match):
        return indent(node.lineno - 1), indent(_header(node.cases[0], lines)[0])
    return (indent(node.lineno - 1),)


def _parsed_string_roots(tree: ast.Module):
    """The expressions in which pyflakes may parse a string as code."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.arg, ast.AnnAssign)) and node.annotation is not None:
            yield node.annotation
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            yield node.returns
        elif isinstance(node, ast.Call):
            yield from node.args
            yield from (keyword.value for keyword in node.keywords)


def _is_clause_line(stripped: str) -> bool:
    return stripped.startswith(("else", "elif", "except", "finally", "case"))


def _bound_names(stmt: ast.stmt):
    for node in ast.walk(stmt):
        yield from _direct_bindings(node)


def _scope_bindings(node: ast.AST) -> set:
    """Names a compound statement binds in its enclosing scope (over-approximated: arguments,
    comprehension targets and every global/nonlocal declaration count too)."""
    names: set = set()

    def visit(n: ast.AST, same_scope: bool) -> None:
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            names.update(n.names)
        nested = isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
        if same_scope:
            names.update(_direct_bindings(n))
        for name, value in ast.iter_fields(n):
            inner = same_scope and not (nested and name == "body")
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, inner)

    visit(node, True)
    return names


def _direct_bindings(node: ast.AST):
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield node.id
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0]
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        yield node.name
    elif isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest


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
class Counters:
    """Where the linter calls of a program's samples went. The parts add up:
    ``lint_calls == cache_hits + empty + no_parse + parse_only + linter_runs``; the check of the
    original program before sampling is not counted."""

    lint_calls: int = 0  # logical linter calls the algorithm makes (the released code's count)
    cache_hits: int = 0  # a state seen before (by any sample of the program)
    empty: int = 0  # the empty program: clean without a look
    no_parse: int = 0  # settled without even parsing (exact: see Program._shortcut)
    parse_only: int = 0  # settled by a parse alone (exact: see Program._shortcut)
    linter_runs: int = 0  # the linter ran ...
    syntax_errors: int = 0  # ... of which stopped at a syntax error (a parse, no pyflakes run)


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
        self._cache: dict[int, tuple] = {}
        self._children: dict[int, list[int]] = {}
        self.expected: frozenset = frozenset()
        if self.linter is None:
            if not self.text:
                raise Reject("nothing to sample: the program is empty")
            return
        tree, error = syntax_error(self.text)
        if error is not None:
            raise Reject(f"syntax error on line {error.line}: {error.message}")
        self.facts = line_facts(self.lines, tree) if self.linter.supports_fast_path else None
        self.words = words_of(self.text)
        initial = self._lint(0, count=False)
        if initial and not self.allow_initial_errors:
            first = initial[0]
            more = f" (and {len(initial) - 1} more)" if len(initial) > 1 else ""
            raise Reject(f"the program already has linter errors: line {first[1] + 1}: "
                         f"{first[2]}{more}; --allow-initial-errors ignores them")
        self.expected = frozenset((e[0], e[1], e[3]) for e in initial)
        self._cache.clear()
        self.indents, self.tab_width = indentation(self.lines)
        self.candidates = candidate_lines(self.lines)
        if not self.candidates:
            raise Reject("nothing to sample: no code lines (only blank lines or comments)")
        self.weights = [
            1.0 if self.indents[i] == 0 else self.indents[i] / self.tab_width * self.indent_bias
            for i in range(self.n)]

    # -- linting with the two exact shortcuts ---------------------------------------------

    def _lint(self, deleted: int, count: bool = True, since_clean: int = 0) -> list[tuple]:
        """Errors of the program minus the lines in the bitmask ``deleted``, as tuples
        (code, original line index, message, symbol), minus the allowed initial errors.

        ``since_clean``: the lines deleted since the last state known to lint clean.
        """
        counters = self.counters if count else Counters()
        counters.lint_calls += 1
        hit = self._cache.get(deleted) if self.cache else None
        if hit is not None:
            counters.cache_hits += 1
            return list(hit)
        remaining = [i for i in range(self.n) if not deleted >> i & 1]
        if not remaining:
            counters.empty += 1
            return []
        text = "\n".join([self.lines[i] for i in remaining])
        raw: list[LintError]
        shortcut = self._shortcut(since_clean, deleted, remaining) if since_clean else None
        if shortcut == "clean":
            counters.no_parse += 1
            raw = []
        elif shortcut == "parse":
            counters.parse_only += 1
            _, error = syntax_error(text)
            raw = [error] if error else []
        else:
            counters.linter_runs += 1
            raw = self.linter.lint(text, self.words) if self.facts else self.linter.lint(text)
            if raw and raw[0].code == "SyntaxError":
                counters.syntax_errors += 1
        errors = []
        for err in raw:
            line = min(max(err.line, 1), len(remaining))  # a syntax error at EOF: the last line
            item = (err.code, remaining[line - 1], err.message, err.symbol)
            if (item[0], item[1], item[3]) not in self.expected:
                errors.append(item)
        self._cache[deleted] = tuple(errors)
        return errors

    def _shortcut(self, since_clean: int, deleted: int, remaining: list[int]) -> str | None:
        """How little checking the state needs, given the last clean state lost ``since_clean``
        (only when that clean state is intact: see :class:`LineFacts`):

        - ``None``: run the linter;
        - ``"parse"``: only safe lines went and no name they bind is mentioned any more, so
          pyflakes can find nothing new; only the parse can fail;
        - ``"clean"``: besides, no block lost its last statement, so the parse cannot fail.
        """
        facts = self.facts
        if facts is None:
            return None
        before = deleted & ~since_clean
        for whole, core in facts.units:  # the clean state must parse as the original does:
            if before & core and before & whole != whole:  # each unit whole, or wholly gone
                return None
        safe, binds, block_of = facts.safe, facts.binds, facts.block_of
        unsafe, safe_lines = 0, []
        i, mask = 0, since_clean
        while mask:
            if mask & 1:
                if safe[i]:
                    safe_lines.append(i)
                else:
                    unsafe |= 1 << i
            mask >>= 1
            i += 1
        bound, blocks, covered = set(), set(), 0
        if unsafe:  # allowed only inside compound statements deleted as a whole
            for lines, anchor, names in facts.compounds:
                if lines & unsafe and lines & deleted == lines and lines & ~covered:
                    covered |= lines
                    bound |= names
                    if anchor in block_of:
                        blocks.add(block_of[anchor])
            if unsafe & ~covered:
                return None
        for i in safe_lines:
            if not covered >> i & 1:
                bound |= binds[i]
                if i in block_of:
                    blocks.add(block_of[i])
        if "*" in bound:  # a star import hid undefined names: only pyflakes can tell
            return None
        if bound:
            words = facts.words
            for r in remaining:
                if not bound.isdisjoint(words[r]):
                    return None
        for block in blocks:
            if all(deleted >> a & 1 for a in facts.block_anchors[block]):
                return "parse"
        return "clean"

    # -- the algorithm -----------------------------------------------------------------------

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
            errors = self._lint(deleted | edit, since_clean=edit & ~deleted)
            affected = sorted({e[1] for e in errors})
        return edit & ~deleted

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
