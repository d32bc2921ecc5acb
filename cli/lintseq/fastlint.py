"""LintSeq's linter calls, made cheap: the states of one program are linted through a cache and
three exact shortcuts, so the sampler (:mod:`.sample`) can ask after every deletion.

Linting is the cost of LintSeq, and most of its calls cannot find anything new:

- results are cached per program by the set of deleted lines (its samples share states);
- a deletion that removes only whole single-line statements, whole compound statements, comment
  or blank lines, or lines inside a multi-line string, and binds no name still mentioned
  anywhere in what remains, can introduce no pyflakes error: only the parse is checked;
- when such a deletion also leaves no block empty, it cannot break the parse either: no check.

These facts come from the original program's AST (:class:`LineFacts`) and hold for states that
still parse as the original does, which is checked first: a multi-line statement, header or
decorated definition is whole or gone, and so is a compound statement's header with its
clauses (a lone ``else``, ``except`` or ``case`` would join another statement). A deletion
that takes a star import, or a line inside a string that pyflakes parses as code (an
annotation, an argument of ``cast``), goes to the linter; words are compared as the parser
reads identifiers (NFKC). A program holding a kind of syntax node that was not audited for
these facts (:data:`KNOWN_NODES`: Python 3.11's; PEP 695's type statements are newer) is linted
without shortcuts. The shortcuts are exact: tests/lintseq/test_fastlint.py samples every kind
of syntax and a body of installed modules with and without them and gets the same rounds.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass

from .linters import LintError, syntax_error

# Identifier-like words. Outside strings and comments, every non-ASCII character of a program is
# part of an identifier, which the parser reads in NFKC form (PEP 3131).
_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")


@dataclass
class Counters:
    """Where the linter calls of a program's samples went. The parts add up:
    ``lint_calls == cache_hits + empty + no_parse + parse_only + linter_runs``; the check of the
    original program before sampling is not counted."""

    lint_calls: int = 0  # logical linter calls the algorithm makes (the released code's count)
    cache_hits: int = 0  # a state seen before (by any sample of the program)
    empty: int = 0  # the empty program: clean without a look
    no_parse: int = 0  # settled without even parsing (exact: see StateLinter.shortcut)
    parse_only: int = 0  # settled by a parse alone (exact: see StateLinter.shortcut)
    linter_runs: int = 0  # the linter ran ...
    syntax_errors: int = 0  # ... of which stopped at a syntax error (a parse, no pyflakes run)


# --------------------------------------------------------------------------------------------
# Linting a state: the cache, then the shortcuts, then the linter.


class StateLinter:
    """The linter over the states of one program (the program minus a set of deleted lines,
    a bitmask), through the cache and the shortcuts."""

    def __init__(self, lines: list[str], tree: ast.Module, linter, cache: bool = True,
                 counters: Counters | None = None):
        self.lines, self.n, self.linter, self.cache = lines, len(lines), linter, cache
        self.counters = counters if counters is not None else Counters()
        self.facts = line_facts(lines, tree) if linter.supports_fast_path else None
        self.words = words_of("\n".join(lines))
        self.expected: frozenset = frozenset()
        self._cache: dict[int, tuple] = {}

    def allow(self, initial: list[tuple]) -> None:
        """Errors of the original program that every state may keep (--allow-initial-errors)."""
        self.expected = frozenset((e[0], e[1], e[3]) for e in initial)
        self._cache.clear()

    def errors(self, deleted: int, count: bool = True, since_clean: int = 0) -> list[tuple]:
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
        shortcut = self.shortcut(since_clean, deleted, remaining) if since_clean else None
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

    def shortcut(self, since_clean: int, deleted: int, remaining: list[int]) -> str | None:
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
