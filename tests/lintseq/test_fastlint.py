"""The fast path's exact shortcuts against the plain linter: one program per kind of statement,
clause, pattern and expression in Python's grammar, and a body of real code (parseable,
linter-clean modules of the standard library and the installed packages)."""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import random
import re
import sysconfig

import pytest

from papertools.cli.lintseq.apply import replay
from papertools.cli.lintseq.linters import PyflakesLinter, syntax_error
from papertools.cli.lintseq.fastlint import line_facts
from papertools.cli.lintseq.sample import Program, Reject, normalize_program
from papertools.core.diff import is_insertion_only

from tests.lintseq.conftest import humaneval_programs

LINTER = PyflakesLinter()


class PlainPyflakes:
    """pyflakes with no shortcut: the fast path must decide every state as this does."""

    name = "pyflakes-plain"
    supports_fast_path = False

    def lint(self, text):
        return LINTER.lint(text)


def fast_and_plain_agree(text: str, seeds) -> Program:
    """Sample with the fast path and with plain pyflakes (no cache, no shortcut): the same rounds
    and the same logical linter calls; every sequence replays to the program and only inserts."""
    fast = Program(text, LINTER)
    plain = Program(text, PlainPyflakes(), cache=False)
    for seed in seeds:
        rounds = fast.sample_rounds(random.Random(seed))
        assert rounds == plain.sample_rounds(random.Random(seed)), (seed, text)
        edits = fast.edits(rounds)
        assert replay(edits) == fast.text
        assert all(is_insertion_only(e) for e in edits)
    assert fast.counters.lint_calls == plain.counters.lint_calls
    return fast


def shortcuts_agree(program: Program, trials: int, seed: int = 1) -> int:
    """From clean states on sampled paths, delete a few more lines (or a whole compound
    statement): wherever a shortcut decides, full pyflakes agrees. Returns how many decided."""
    rng = random.Random(seed)
    n, decided = program.n, 0
    facts = program.checker.facts
    if facts is None:
        return 0
    for trial in range(trials):
        clean = 0
        rounds = program.sample_rounds(random.Random(trial))
        for mask in rounds[: rng.randrange(len(rounds) + 1)]:
            clean |= mask
        remaining = [i for i in range(n) if not clean >> i & 1]
        if not remaining:
            continue
        extra = 0
        for i in rng.sample(remaining, rng.randint(1, min(4, len(remaining)))):
            extra |= 1 << i
        if facts.compounds and rng.random() < 0.5:
            extra = rng.choice(facts.compounds)[0] & ~clean or extra
        left = [i for i in remaining if not extra >> i & 1]
        shortcut = program.checker.shortcut(extra, clean | extra, left)
        if shortcut is None:
            continue
        decided += 1
        state = "\n".join(program.lines[i] for i in left)
        errors = LINTER.lint(state)
        if shortcut == "parse":
            assert not errors or errors[0].code == "SyntaxError", (state, errors)
        else:
            assert errors == [], (state, errors)
    return decided


# -- small programs ----------------------------------------------------------------------------

TRICKY = [
    "for i in range(3): print(i)\nprint(i)",
    "from __future__ import annotations\n\ndef f(x: Later) -> Later:\n    return x\n\nclass Later:\n    pass",
    "__all__ = ['thing']\nthing = 1",
    "def f(a: 'Thing'):\n    return a\nThing = int",
    "q = [(a, c)\n     for a in range(2)\n     for c in range(a)]",
    "x = 1\ndef f():\n    global x\n    x = 2\n    return x\nprint(x)",
    "x = 1\nprint(f'{x}')\ny = f'''\n{x}\n'''",
    's = """\nx = 1\n"""\nt = """\n# """\nprint(s, t)',
    "import os\n@staticmethod\ndef f():\n    return os\nf()",
    "y = 1  # type: int\nz = y",
    "a = b = 1\nc = a; d = b\nprint(c, d)",
    "try:\n    import json\nexcept ImportError: json = None\nprint(json)",
    "with open('f') as fh: data = fh.read()\nprint(data)",
    "def init():\n    global CONFIG\n    CONFIG = 1\n\nprint(CONFIG)",
    "for k in range(3):\n    v = k\nprint(v)",
    "if True:\n    def helper():\n        return 1\nprint(helper())",
    "class A:\n    x = 1\n\nclass B(A):\n    pass\nprint(B)",
    "try:\n    import json\nexcept ImportError:\n    json = None\nelse:\n    pass\nprint(json)",
    "def f(a=(w := 2)):\n    return a\nprint(w)",
    "import os\nif os.sep:\n    y = [z for z in os.sep]\nelif y := 3:\n    pass\nprint(y)",
]


@pytest.mark.parametrize("text", TRICKY + [t["program"] for t in humaneval_programs()[:40]])
def test_shortcuts_agree_with_pyflakes(text):
    """From clean states, wherever a shortcut decides, full pyflakes agrees (random deletion
    sets, many of them)."""
    program = Program(normalize_program(text), LINTER)
    decided = shortcuts_agree(program, trials=120)
    assert decided or not program.checker.facts.compounds or program.n < 3


def test_cache_and_shortcuts_do_not_change_results(humaneval):
    """The shortcuts are exact: with and without them the sampled rounds are identical, and
    they save linter runs."""
    for task in humaneval[:25]:
        fast = fast_and_plain_agree(normalize_program(task["program"]), range(3))
        assert fast.counters.linter_runs < fast.counters.lint_calls


# -- one program per kind ----------------------------------------------------------------------

KINDS = {
    "match (the issue's program)":
        "def f(x):\n    match x:\n        case 1:\n            return 1\n        case _:\n"
        "            return 2\n",
    "match, every pattern":
        "import enum\n\n\nclass Color(enum.Enum):\n    RED = 1\n\n\nclass Point:\n"
        "    __match_args__ = ('x', 'y')\n\n    def __init__(self, x, y):\n        self.x = x\n"
        "        self.y = y\n\n\ndef describe(value):\n    match value:\n"
        "        case None | True | False:\n            kind = 'singleton'\n"
        "        case 0 | 1.5 | -2 | 3 + 4j | 'text' | b'bytes':\n            kind = 'literal'\n"
        "        case Color.RED:\n            kind = 'dotted'\n"
        "        case [first, *rest] if rest:\n            kind = f'list {first} {rest}'\n"
        "        case (a, b, _):\n            kind = f'triple {a} {b}'\n"
        "        case {'key': inner, **others}:\n            kind = f'map {inner} {others}'\n"
        "        case Point(x=0, y=py) | Point(0, py):\n            kind = f'on the axis {py}'\n"
        "        case Point(px, py) as point:\n            kind = f'point {px} {py} {point}'\n"
        "        case str() | bytes() as textual if (\n                len(textual) > 3\n"
        "                and textual\n        ):\n            kind = 'long'\n"
        "        case [*_]:\n            kind = 'sequence'\n"
        "        case _:\n            kind = 'other'\n    return kind\n\n\n"
        "print(describe([1, 2]), describe(Point(0, 3)))\n",
    "match nested and one-line":
        "def g(cmd):\n    match cmd.split():\n        case ['go', direction]: return direction\n"
        "        case ['look']:\n            match len(cmd):\n                case 4:\n"
        "                    return 'short'\n                case n:\n                    return n\n"
        "    return None\n\n\nmatch = {'match': 1}\ncase = match['match']\nprint(g('go north'), case)\n",
    "try/except* and try/finally":
        "def run(tasks):\n    results = []\n    try:\n        for task in tasks:\n"
        "            results.append(task())\n    except* ValueError as group:\n"
        "        results.append(len(group.exceptions))\n    except* (TypeError, KeyError):\n"
        "        pass\n    else:\n        results.append('ok')\n    finally:\n"
        "        results.append('done')\n    try:\n        del results[0]\n"
        "    except IndexError:\n        raise RuntimeError('empty') from None\n    return results\n",
    "async def, for, with, await, comprehensions":
        "import asyncio\nimport contextlib\n\n\n@contextlib.asynccontextmanager\n"
        "async def opened(name):\n    yield name\n\n\nasync def ticks(n):\n"
        "    for i in range(n):\n        await asyncio.sleep(0)\n        yield i\n\n\n"
        "async def main():\n    total = 0\n    async with opened('x') as a, opened('y') as b:\n"
        "        async for tick in ticks(3):\n            total += tick\n        else:\n"
        "            total += len(a + b)\n    squares = [t * t async for t in ticks(2)]\n"
        "    return total, squares, await asyncio.sleep(0, result=1)\n\n\n"
        "print(asyncio.run(main()))\n",
    "walrus":
        "import re\n\n\ndef first_number(lines):\n    if (m := re.search(r'\\d+', lines[0])):\n"
        "        return int(m.group())\n    while (chunk := lines.pop()):\n"
        "        if any((found := w).isdigit() for w in chunk.split()):\n"
        "            return found\n    return [y for x in lines if (y := x.strip())]\n\n\n"
        "print(first_number(['a 1']), m if (m := 2) else 0)\n",
    "decorators and classes":
        "import functools\n\n\ndef trace(fn):\n    @functools.wraps(fn)\n"
        "    def inner(*args, **kwargs):\n        return fn(*args, **kwargs)\n    return inner\n\n\n"
        "@trace\n@functools.lru_cache(\n    maxsize=None,\n)\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\n"
        "class Base:\n    pass\n\n\n@functools.total_ordering\nclass Num(Base, metaclass=type):\n"
        "    '''A number.'''\n    value: int = 0\n\n    @property\n    def double(self):\n"
        "        return self.value * 2\n\n    def __lt__(self, other):\n"
        "        return self.value < other.value\n\n    @staticmethod\n    def make(v): return Num()\n\n\n"
        "print(fib(10), Num.make(1).double)\n",
    "f-strings":
        "name, width = 'x', 10\nplain = f'{name}'\nnested = f\"{name!r:>{width}} {f'{width:03d}'}\"\n"
        "multi = f'''\n{name}\n{width=}\n'''\njoined = (f'{name}'\n          f'{width}' 'tail')\n"
        "print(plain, nested, multi, joined, f'{\"quoted\"}' f'{{literal}}')\n",
    "scopes: global, nonlocal, lambda, comprehensions":
        "counter = 0\n\n\ndef bump():\n    global counter\n    counter += 1\n    return counter\n\n\n"
        "def outer():\n    total = 0\n\n    def inner(step=1):\n        nonlocal total\n"
        "        total += step\n        return total\n    return inner\n\n\n"
        "square = lambda v, *a, k=1, **kw: v * v\nevens = {n: [m for m in range(n)] for n in range(5) if n % 2 == 0}\n"
        "gen = (s for s in 'abc')\nunique = {c for c in 'hello'}\nprint(bump(), outer()(), square(3), evens, list(gen), unique)\n",
    "simple statements":
        "from __future__ import annotations\nimport os.path as osp, sys\nfrom collections import (\n"
        "    OrderedDict,\n    defaultdict as dd,\n)\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from typing import Any\nvalue: Any = 1\nx = y = [1, 2, 3]\n"
        "first, *middle, last = x\nx[0] += 1\nx[1:2] = [5]\ndel x[0], y[-1]\nassert x, 'empty'\n"
        "pair: 'tuple[int, int]'\nnothing = ...\n"
        "while False:\n    break\nelse:\n    pass\nfor i in range(3):\n    if i:\n        continue\n"
        "else:\n    i = None\nwith open(osp.__file__) as a, open(sys.argv[0]) as b:\n    pass\n"
        "with (\n    open(__file__) as c,\n    open(__file__) as d,\n):\n    pass\n"
        "doc = '''\n    text = 1\n'''\nraw = rb'\\x00' b'more'\nprint(OrderedDict(), dd(int), first, middle, last, a, b, c, d, doc, raw)\n"
        "def gen():\n    yield from range(2)\n    x = yield\n    return x\n"
        "if 1: pass\nelif 2: pass\nelse: pass\n"
        "try:\n    import json\nexcept ImportError:\n    json = None\nprint(json, gen, value if value else x)\n",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_samples_and_the_fast_path_is_exact(kind):
    """Each kind of syntax: samples without error, replays exactly, decides every state as plain
    pyflakes does, and each shortcut taken from a random clean state is right."""
    text = normalize_program(KINDS[kind])
    assert LINTER.lint(text) == [], "the program must be linter-clean"
    program = fast_and_plain_agree(text, range(6))
    assert program.checker.facts is not None  # every kind of this Python's grammar is known
    assert shortcuts_agree(program, trials=60) > 0


@pytest.mark.skipif(not hasattr(ast, "TypeAlias"), reason="type statements need Python 3.12")
def test_type_statements_fall_back_to_the_plain_linter():
    """Node kinds the fast path does not know (PEP 695 type aliases and parameters, Python 3.12)
    turn its shortcuts off for the program: the plain linter decides every state."""
    text = ("type Pair[T] = tuple[T, T]\n\n\ndef swap[T](p: Pair[T]) -> Pair[T]:\n"
            "    return p[1], p[0]\n\n\nclass Box[T]:\n    item: T\n\n\nprint(swap((1, 2)), Box)")
    program = fast_and_plain_agree(text, range(4))
    assert program.checker.facts is None


# States where a shortcut once decided wrongly: (program, lines deleted before the last clean
# state, lines deleted since). Each shortcut must agree with pyflakes on what is left.
WRONG_BEFORE = {
    "a star import hid a name": ("from os.path import *\nprint(join)", [], [0]),
    "a decorator left alone decorated the next definition": (
        "import functools\n\n@functools.cache\ndef a():\n    return 1\n\n@functools.cache\n"
        "def b():\n    return 2", [3, 4], [6, 7, 8]),
    "an except clause left alone joined the try before it": (
        "try:\n    a = 1\nexcept ValueError:\n    a = 2\ntry:\n    b = 3\nexcept KeyError:\n"
        "    b = 4\nprint(a)", [2, 3, 4, 5], [6, 7]),
    "a case clause left alone joined the match before it": (
        "def f(v):\n    match v:\n        case 1:\n            r = 1\n        case _:\n"
        "            r = 0\n    w = 2\n    match w:\n        case 2:\n            r = 2\n"
        "        case _:\n            pass\n    return r", [4, 5, 6, 7], [10, 11]),
    "an else clause left alone joined the if before it (HumanEval/150)": (
        "def f(n):\n    'doc'\n    if n == 1:\n        return 0\n    for i in range(n):\n"
        "        pass\n    else:\n        return 1", [4, 5], [2, 3]),
    "a name written outside ASCII": ("café = 1\nprint(café)", [], [0]),
    "a name written in another normal form": ("file = 1\nprint(ﬁle)", [], [0]),
    "a string annotation on several lines": ('x: """\nint\n""" = 1\nprint(x)', [], [1]),
    "a string argument of cast": (
        'from typing import cast\nx = cast("""\nint\n""", 1)\nprint(x)', [], [2]),
}


@pytest.mark.parametrize("case", list(WRONG_BEFORE))
def test_shortcuts_that_were_wrong(case):
    text, before, since = WRONG_BEFORE[case]
    program = Program(text, LINTER)
    clean = sum(1 << i for i in before)
    assert LINTER.lint("\n".join(program.lines[i] for i in range(program.n) if i not in before)) \
        == [], "the state before must be clean"
    extra = sum(1 << i for i in since)
    left = [i for i in range(program.n) if not (clean | extra) >> i & 1]
    shortcut = program.checker.shortcut(extra, clean | extra, left)
    errors = LINTER.lint("\n".join(program.lines[i] for i in left))
    if shortcut == "clean":
        assert errors == []
    elif shortcut == "parse":
        assert not errors or errors[0].code == "SyntaxError"


def test_unknown_node_kinds_turn_the_shortcuts_off():
    """Parsed with type comments, a tree holds TypeIgnore nodes, which the line facts do not
    know: no facts, so every state goes to the linter."""
    text = "import os  # type: ignore\nprint(os)"
    lines = text.split("\n")
    assert line_facts(lines, ast.parse(text)) is not None
    assert line_facts(lines, ast.parse(text, type_comments=True)) is None


# -- real code ---------------------------------------------------------------------------------

MODULES = 200  # modules in the body of real code
MAX_BYTES = 6000  # a bound on a module's size (sampling costs about its lines squared)
# Rare kinds: every module of the bounded size that holds one joins too.
EXTRA_KINDS = ("Match", "TryStar", "AsyncFor", "AsyncWith")
RARE = re.compile(r"^[ \t]*(match\b|except\s*\*)|\basync\s+(for|with)\b", re.M)  # maybe one


@functools.lru_cache(maxsize=1)
def real_modules() -> list[tuple[str, str]]:
    """(path, normalised text) of linter-clean modules from the standard library and the
    installed packages, at most MAX_BYTES: MODULES of them in a fixed order (the hash of the
    path under its root), plus every other one holding a rare kind of syntax."""
    paths = sysconfig.get_paths()
    stdlib, purelib = paths["stdlib"], paths["purelib"]
    found = []
    for root in dict.fromkeys([stdlib, purelib]):
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if os.path.join(folder, d) != purelib)
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and os.path.isfile(path) \
                        and os.path.getsize(path) <= MAX_BYTES:
                    key = hashlib.sha256(os.path.relpath(path, root).encode()).hexdigest()
                    found.append((key, path))
    found.sort()
    chosen, rare = [], []
    for _key, path in found:
        try:
            with open(path, encoding="utf-8") as fh:
                text = normalize_program(fh.read())
        except (UnicodeDecodeError, OSError):
            continue
        if text.count("\n") < 5 or len(chosen) >= MODULES and not RARE.search(text):
            continue
        tree, error = syntax_error(text)
        if error or LINTER.check_tree(tree):
            continue
        if len(chosen) >= MODULES and not any(
                type(node).__name__ in EXTRA_KINDS for node in ast.walk(tree)):
            continue
        (chosen if len(chosen) < MODULES else rare).append((path, text))
    return chosen + rare


def test_real_code_samples_and_replays_exactly():
    """Every module samples without error, and its sequence replays to it exactly."""
    modules = real_modules()
    assert len(modules) >= MODULES
    kinds = set()
    for index, (path, text) in enumerate(modules):
        kinds.update(type(node).__name__ for node in ast.walk(syntax_error(text)[0]))
        try:
            program = Program(text, LINTER)
        except Reject:
            continue
        rounds = program.sample_rounds(random.Random(index))
        assert replay(program.edits(rounds)) == program.text, path
    assert {"Match", "MatchClass", "AsyncFor", "AsyncWith", "NamedExpr", "JoinedStr"} <= kinds


def test_real_code_fast_path_agrees_with_the_plain_linter():
    """On a share of the modules (the plain path is slow), the fast path samples the same rounds
    as plain pyflakes, and its shortcuts from random clean states are right."""
    modules = real_modules()
    decided = 0
    for index, (path, text) in enumerate(modules[::4]):
        try:
            program = fast_and_plain_agree(text, [index])
        except Reject:
            continue
        decided += shortcuts_agree(program, trials=4, seed=index)
    assert decided > 50
