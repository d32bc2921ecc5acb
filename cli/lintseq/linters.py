"""Linters for LintSeq: what counts as an error after a deletion.

- ``pyflakes`` (default, in-process): syntax errors and the pyflakes messages that mean the
  program cannot compile or run as written: undefined names (``UndefinedName``,
  ``UndefinedLocal``, ``UndefinedExport``), ``return``/``yield`` outside a function,
  ``break``/``continue`` outside a loop, and the other compile-time errors listed in
  :data:`PYFLAKES_ERRORS`. Warnings (unused imports or variables, redefinitions) are not errors,
  as W messages are not in the released code.
- ``pylint`` (the released code's linter, ``pip install 'papertools[pylint]'``): pylint with the
  released options on a temporary file, in-process; every E and F message plus W0311
  (bad-indentation) and W0231 (super-init-not-called).

Line numbers are 1-based in the linted text. For a syntax error whose message names another line
("expected an indented block after 'if' statement on line 3"), that line is the error's line, as
the released code re-parses it.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tempfile
import warnings
from typing import NamedTuple

_ON_LINE = re.compile(r"on line (\d+)")

PYFLAKES_ERRORS = frozenset({
    "UndefinedName", "UndefinedLocal", "UndefinedExport",
    "ReturnOutsideFunction", "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop",
    "DefaultExceptNotLast", "DuplicateArgument", "TwoStarredExpressions",
    "TooManyExpressionsInStarredAssignment", "ImportStarNotPermitted", "LateFutureImport",
    "FutureFeatureNotDefined", "ForwardAnnotationSyntaxError",
})


class LintError(NamedTuple):
    line: int  # 1-based line in the linted text
    code: str  # "SyntaxError", a pyflakes message class, or a pylint msg_id
    message: str
    symbol: str = ""  # the name involved, when there is one (to recognise an error across states)


def syntax_error(text: str) -> tuple[ast.Module | None, LintError | None]:
    """Parse ``text``; return (tree, None) or (None, the syntax error as a LintError)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(text, "<lintseq>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True), None
    except SyntaxError as exc:
        message = exc.msg or "invalid syntax"
        line = exc.lineno or 1
        named = _ON_LINE.search(message)
        if named:
            line = int(named.group(1))
        return None, LintError(line, "SyntaxError", message)
    except ValueError as exc:  # e.g. a NUL byte
        line = text[: text.find("\0")].count("\n") + 1 if "\0" in text else 1
        return None, LintError(line, "SyntaxError", str(exc))
    except (RecursionError, MemoryError):
        return None, LintError(1, "SyntaxError", "too deeply nested to parse")


class PyflakesLinter:
    name = "pyflakes"
    supports_fast_path = True

    def __init__(self):
        from pyflakes import checker

        self._module = checker
        self._builtins = frozenset(checker.builtin_vars)

    def check_tree(self, tree: ast.Module, words: frozenset | None = None) -> list[LintError]:
        """pyflakes on a parsed tree. ``words``: every identifier-like word of the text (or of a
        text it was cut from); builtins outside it cannot matter, and pyflakes binds every
        builtin for every check, which is a third of its cost on short programs."""
        module = self._module
        if words is not None:
            module.builtin_vars = self._builtins & words
        try:
            messages = module.Checker(tree, "<lintseq>").messages
        finally:
            module.builtin_vars = self._builtins
        errors = []
        for msg in messages:
            code = type(msg).__name__
            if code in PYFLAKES_ERRORS:
                args = msg.message_args
                symbol = args[0] if args and isinstance(args[0], str) else ""
                errors.append(LintError(msg.lineno, code, msg.message % args, symbol))
        return errors

    def lint(self, text: str, words: frozenset | None = None) -> list[LintError]:
        tree, error = syntax_error(text)
        if error is not None:
            return [error]
        return self.check_tree(tree, words)


class PylintLinter:
    """pylint with the released code's options, run in this process on a temporary file."""

    name = "pylint"
    supports_fast_path = False
    OPTIONS = ("--disable=C,R", "--reports=n", "--score=n", "--unsafe-load-any-extension=y",
               "--generated-members=cv2.*", "--msg-template={C}|{msg_id}|{line}|{column}|{msg}")
    WARNINGS_AS_ERRORS = ("W0311", "W0231")

    def __init__(self):
        try:
            import astroid
            from pylint.lint import Run
            from pylint.reporters.text import TextReporter
        except ImportError:
            from papertools.core.errors import PapertoolsError

            raise PapertoolsError("--linter pylint needs pylint: pip install 'papertools[pylint]'") \
                from None
        self._astroid, self._run, self._reporter = astroid, Run, TextReporter
        self._tmp = tempfile.TemporaryDirectory(prefix="lintseq-pylint-")  # removed at exit
        self._dir = self._tmp.name
        self._count = 0

    def lint(self, text: str) -> list[LintError]:
        self._count += 1
        module = f"lintseq_{os.getpid()}_{self._count}"
        path = os.path.join(self._dir, module + ".py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        out = io.StringIO()
        try:
            self._run([*self.OPTIONS, path], reporter=self._reporter(out), exit=False)
        finally:
            os.unlink(path)
            self._astroid.MANAGER.astroid_cache.pop(module, None)
        return self.parse_output(out.getvalue())

    @classmethod
    def parse_output(cls, output: str) -> list[LintError]:
        errors = []
        for row in output.splitlines():
            parts = row.split("|", 4)
            if len(parts) != 5:
                continue
            category, msg_id, line, _column, msg = parts
            if category not in ("E", "F") and msg_id not in cls.WARNINGS_AS_ERRORS:
                continue
            named = _ON_LINE.search(msg) if msg_id == "E0001" else None
            number = int(named.group(1)) if named else int(line) if line.isdigit() else 1
            code = "SyntaxError" if msg_id == "E0001" else msg_id
            errors.append(LintError(number, code, msg))
        return errors


def make_linter(name: str):
    if name == "pyflakes":
        return PyflakesLinter()
    if name == "pylint":
        return PylintLinter()
    raise ValueError(f"unknown linter {name!r}")
