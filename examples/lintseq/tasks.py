#!/usr/bin/env python3
"""A procedurally generated family of small Python tasks for the LintSeq experiment.

No instruction-tuning code data installs offline, so the experiment (experiment.sh) trains on
tasks made here: each task instance is an instruction in plain English, a reference program (one
function of 4 to 11 lines) and tests. 31 templates (integer lists, integers, strings, dictionaries)
each take parameters (the function's and the argument's names, constants, operators, words), so
every template has hundreds of instances; the instruction states every parameter, so it determines
the program.

    python3 examples/lintseq/tasks.py generate --out-dir DIR [--train 3000] [--heldout 100]
    python3 examples/lintseq/tasks.py stats    # per template: instances, lines, characters
    python3 examples/lintseq/tasks.py show [--template NAME] [-n 3]

Outputs (JSONL, one record a line, byte-identical for a given --seed and sizes):

- train.jsonl: {"id", "template", "instruction", "program"}, the input of ``papertools lintseq
  sample`` and ``papertools lintseq format --baseline``.
- heldout.jsonl: HumanEval-style problems {"task_id", "template", "instruction", "prompt" (the def
  line and a docstring with one example), "test" (``def check(candidate):`` with asserts),
  "entry_point", "canonical_solution"}. Run a whole program against a problem as
  ``program + "\\n\\n" + test + "\\n\\ncheck(" + entry_point + ")\\n"``.

The split. An instance is a template with all its parameters: (template, function name,
argument name, the rest). Held-out problems are drawn first, evenly over the templates. Then no
training instance shares with a held-out problem either its behaviour (template and every
parameter but the names: what the function computes, under any name) or its naming (template,
function name and the template's main constants, whatever the operator and argument). So a
held-out function is never seen in training under any name, and no held-out combination of a
template, a function name and constants is seen either; the names, constants and operators
themselves all appear in training, in other combinations. (Two behaviours can still agree on
every input, e.g. "at least 13" and "greater than 12"; tests/lintseq/test_tasks.py bounds how
often a training program passes a held-out problem's tests.)

Each template is a class below: ``params`` draws the parameters, ``describe`` says in words what
the function returns, ``program`` writes the reference program, ``solve`` is an independent
one-line implementation (the tests' expected values come from it, so a test of this file can check
the programs against it), and ``inputs`` draws the test arguments. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import operator
import os
import random
import string
import sys
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Vocabulary shared by the templates.

CMP = {  # operator -> (words, function)
    ">": ("greater than", operator.gt),
    ">=": ("at least", operator.ge),
    "<": ("less than", operator.lt),
    "<=": ("at most", operator.le),
    "==": ("equal to", operator.eq),
    "!=": ("not equal to", operator.ne),
}
NEGATE = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
ORDER_OPS = [">", ">=", "<", "<="]
ALL_OPS = list(CMP)

LIST_ARGS = {"nums": "x", "values": "v", "numbers": "n", "xs": "x"}  # argument -> element name
INT_ARGS = ["n", "x", "num", "value"]
STR_ARGS = ["s", "text", "word", "string"]
TEXT_ARGS = ["text", "sentence", "line", "s"]  # split into words (never "word": the loop's name)
LETTERS = "aeiourstnl"  # letters that the test strings contain often
WORDS = ["apple", "tree", "sky", "banana", "go", "river", "stone", "a", "code", "python", "light",
         "moon", "sun", "is", "blue", "green", "sea", "rain", "to", "little", "house", "cat",
         "snow", "window", "at", "train", "lemon", "star", "salt", "ant", "elephant", "mountain",
         "keyboard", "adventure", "strawberry", "i", "o", "diamond", "kitchen"]
OPENERS = [
    "Write a function {sig} that {desc}.",
    "Write a Python function {sig} that {desc}.",
    "Implement {sig}, which {desc}.",
    "Create a function {sig} that {desc}.",
]


def q(text: str) -> str:
    """A string constant as it appears in programs and instructions."""
    return json.dumps(text)


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


# Test arguments ------------------------------------------------------------------------------


def ladder_sentence(rng: random.Random) -> str:
    """One word of each length from 1 to 10, in random order, one of them twice."""
    words = [rng.choice([w for w in WORDS if len(w) == n]) for n in range(1, 11)]
    words.append(rng.choice(words))
    rng.shuffle(words)
    return " ".join(words)


def int_list(rng: random.Random, lo: int, hi: int, n_max: int = 8, n_min: int = 1) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(n_min, n_max))]


def lists_around(rng: random.Random, t: int, n: int = 2) -> list:
    """Lists of integers around t: the empty list, fixed ones that tell neighbouring thresholds
    and operators apart, n random ones near t and one wide one."""
    out = [[], [t, t, t + 1, t - 1, t - 1, t - 1], [t - 10, t + 10, t - 20, t + 20], [t + 1, t + 3],
            [t - 3, t - 1], [t - 2, t - 1, t, t + 1, t + 2], [t, t + 2], [t - 2, t]]
    out += [int_list(rng, t - 6, t + 6) for _ in range(n)]
    return out + [int_list(rng, t - 25, t + 25, n_min=4)]


def sentence(rng: random.Random, n_max: int = 7, n_min: int = 1, caps: bool = False) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(n_min, n_max))]
    if caps:
        words = [w.capitalize() if rng.random() < 0.3 else w for w in words]
    return " ".join(words)


# --------------------------------------------------------------------------------------------
# The templates. Conventions: ``f`` is the function's name, ``a`` the argument's, ``p`` the
# parameters; every program takes exactly one argument.


class Template:
    name: str
    fnames: list[str]  # function names (neutral: the instruction says what the function does)
    args: list[str]  # argument names
    constants: tuple[str, ...] = ()  # the parameters held out together with the fname

    def params(self, rng: random.Random) -> dict:
        raise NotImplementedError

    def describe(self, p: dict, a: str) -> str:
        """What the function returns, starting with "returns"."""
        raise NotImplementedError

    def program(self, p: dict, f: str, a: str) -> str:
        raise NotImplementedError

    def solve(self, p: dict):
        """An independent implementation: a function of the one argument."""
        raise NotImplementedError

    def inputs(self, p: dict, rng: random.Random) -> list:
        raise NotImplementedError


class CountCmp(Template):
    name = "count_cmp"
    fnames = ["count_matching", "count_if", "how_many", "tally"]
    args = list(LIST_ARGS)
    constants = ("t",)

    def params(self, rng):
        return {"op": rng.choice(ALL_OPS), "t": rng.randint(0, 20)}

    def describe(self, p, a):
        return f"returns how many numbers in {a} are {CMP[p['op']][0]} {p['t']}"

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    count = 0",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            "            count += 1",
            "    return count")

    def solve(self, p):
        return lambda xs: sum(1 for x in xs if CMP[p["op"]][1](x, p["t"]))

    def inputs(self, p, rng):
        return lists_around(rng, p["t"])


class SumCmp(Template):
    name = "sum_cmp"
    fnames = ["sum_matching", "sum_if", "partial_sum", "total_of"]
    args = list(LIST_ARGS)
    constants = ("t",)

    def params(self, rng):
        return {"op": rng.choice(ALL_OPS), "t": rng.randint(1, 20)}

    def describe(self, p, a):
        return f"returns the sum of the numbers in {a} that are {CMP[p['op']][0]} {p['t']}"

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    total = 0",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            f"            total += {e}",
            "    return total")

    def solve(self, p):
        return lambda xs: sum(x for x in xs if CMP[p["op"]][1](x, p["t"]))

    def inputs(self, p, rng):
        return lists_around(rng, p["t"])


class FilterCmp(Template):
    name = "filter_cmp"
    fnames = ["keep", "select", "filter_values", "pick"]
    args = list(LIST_ARGS)
    constants = ("t",)

    def params(self, rng):
        return {"op": rng.choice(ALL_OPS), "t": rng.randint(0, 20)}

    def describe(self, p, a):
        return (f"returns the list of the numbers in {a} that are {CMP[p['op']][0]} {p['t']}, "
                "in their original order")

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    result = []",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            f"            result.append({e})",
            "    return result")

    def solve(self, p):
        return lambda xs: [x for x in xs if CMP[p["op"]][1](x, p["t"])]

    def inputs(self, p, rng):
        return lists_around(rng, p["t"])


class MapArith(Template):
    name = "map_arith"
    fnames = ["transform", "apply_all", "map_values", "convert"]
    args = list(LIST_ARGS)
    constants = ("c",)
    OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}

    def params(self, rng):
        return {"op": rng.choice(list(self.OPS)), "c": rng.randint(2, 12)}

    def describe(self, p, a):
        c = p["c"]
        return {"+": f"returns a new list with {c} added to each number in {a}",
                "-": f"returns a new list with {c} subtracted from each number in {a}",
                "*": f"returns a new list with each number in {a} multiplied by {c}"}[p["op"]]

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    result = []",
            f"    for {e} in {a}:",
            f"        result.append({e} {p['op']} {p['c']})",
            "    return result")

    def solve(self, p):
        return lambda xs: [self.OPS[p["op"]](x, p["c"]) for x in xs]

    def inputs(self, p, rng):
        return [[], [0]] + [int_list(rng, -10, 20, n_min=2) for _ in range(4)]


class FirstIndex(Template):
    name = "first_index"
    fnames = ["find_first", "first_index", "locate", "position_of"]
    args = list(LIST_ARGS)
    constants = ("t", "missing")

    def params(self, rng):
        return {"op": rng.choice(ALL_OPS), "t": rng.randint(0, 20),
                "missing": rng.choice([-1, None])}

    def describe(self, p, a):
        missing = "None" if p["missing"] is None else str(p["missing"])
        return (f"returns the index of the first number in {a} that is {CMP[p['op']][0]} "
                f"{p['t']}, or {missing} if there is none")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            f"    for i in range(len({a})):",
            f"        if {a}[i] {p['op']} {p['t']}:",
            "            return i",
            f"    return {p['missing']!r}")

    def solve(self, p):
        test = CMP[p["op"]][1]
        return lambda xs: next((i for i, x in enumerate(xs) if test(x, p["t"])), p["missing"])

    def inputs(self, p, rng):
        return lists_around(rng, p["t"]) + [[p["t"] + 50, p["t"] - 50]]


class AllAny(Template):
    name = "all_any"
    fnames = ["verify", "holds", "satisfies", "meets"]
    args = list(LIST_ARGS)
    constants = ("t", "mode")

    def params(self, rng):
        return {"mode": rng.choice(["all", "any"]), "op": rng.choice(ALL_OPS),
                "t": rng.randint(0, 20)}

    def describe(self, p, a):
        which = "every number" if p["mode"] == "all" else "at least one number"
        return f"returns True if {which} in {a} is {CMP[p['op']][0]} {p['t']}, and False otherwise"

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        if p["mode"] == "all":
            return lines(
                f"def {f}({a}):",
                f"    for {e} in {a}:",
                f"        if {e} {NEGATE[p['op']]} {p['t']}:",
                "            return False",
                "    return True")
        return lines(
            f"def {f}({a}):",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            "            return True",
            "    return False")

    def solve(self, p):
        test, agg = CMP[p["op"]][1], {"all": all, "any": any}[p["mode"]]
        return lambda xs: agg(test(x, p["t"]) for x in xs)

    def inputs(self, p, rng):
        t = p["t"]
        return lists_around(rng, t) + [[t, t]]


class ExtremeCmp(Template):
    name = "extreme_cmp"
    fnames = ["best_value", "extreme", "top_value", "pick_one"]
    args = list(LIST_ARGS)
    constants = ("kind", "t", "default")

    def params(self, rng):
        return {"kind": rng.choice(["largest", "smallest"]), "op": rng.choice(ORDER_OPS),
                "t": rng.randint(0, 20), "default": rng.choice([-1, 0, 100])}

    def describe(self, p, a):
        return (f"returns the {p['kind']} number in {a} that is {CMP[p['op']][0]} {p['t']}, "
                f"or {p['default']} if there is none")

    def program(self, p, f, a):
        e, better = LIST_ARGS[a], ">" if p["kind"] == "largest" else "<"
        return lines(
            f"def {f}({a}):",
            "    best = None",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            f"            if best is None or {e} {better} best:",
            f"                best = {e}",
            "    if best is None:",
            f"        return {p['default']}",
            "    return best")

    def solve(self, p):
        test, pick = CMP[p["op"]][1], max if p["kind"] == "largest" else min
        return lambda xs: pick((x for x in xs if test(x, p["t"])), default=p["default"])

    def inputs(self, p, rng):
        return lists_around(rng, p["t"])


class CountDivisible(Template):
    name = "count_divisible"
    fnames = ["count_multiples", "count_div", "num_divisible", "multiples"]
    args = list(LIST_ARGS)
    constants = ("k",)

    def params(self, rng):
        return {"k": rng.randint(2, 9), "negate": rng.choice([False, True])}

    def describe(self, p, a):
        negation = "not " if p["negate"] else ""
        return f"returns how many numbers in {a} are {negation}divisible by {p['k']}"

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    count = 0",
            f"    for {e} in {a}:",
            f"        if {e} % {p['k']} {'!=' if p['negate'] else '=='} 0:",
            "            count += 1",
            "    return count")

    def solve(self, p):
        return lambda xs: sum(1 for x in xs if (x % p["k"] == 0) != p["negate"])

    def inputs(self, p, rng):
        return [[], [0, p["k"], p["k"] + 1], list(range(1, 73))] + [int_list(rng, -5, 40)
                                                                      for _ in range(3)]


class AverageCmp(Template):
    name = "average_cmp"
    fnames = ["average_if", "mean_of", "avg_matching", "mean_value"]
    args = list(LIST_ARGS)
    constants = ("t",)

    def params(self, rng):
        return {"op": rng.choice(ORDER_OPS), "t": rng.randint(0, 20)}

    def describe(self, p, a):
        return (f"returns the average of the numbers in {a} that are {CMP[p['op']][0]} {p['t']}, "
                "or 0 if there are none")

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    total = 0",
            "    count = 0",
            f"    for {e} in {a}:",
            f"        if {e} {p['op']} {p['t']}:",
            f"            total += {e}",
            "            count += 1",
            "    if count == 0:",
            "        return 0",
            "    return total / count")

    def solve(self, p):
        def mean(xs):
            kept = [x for x in xs if CMP[p["op"]][1](x, p["t"])]
            return sum(kept) / len(kept) if kept else 0
        return mean

    def inputs(self, p, rng):
        return lists_around(rng, p["t"])


class ScalePositions(Template):
    name = "scale_positions"
    fnames = ["adjust", "alternate", "update_positions", "tweak"]
    args = list(LIST_ARGS)
    constants = ("parity", "c")

    def params(self, rng):
        return {"parity": rng.choice(["even", "odd"]), "op": rng.choice(["*", "+"]),
                "c": rng.randint(2, 9)}

    def describe(self, p, a):
        change = f"multiplied by {p['c']}" if p["op"] == "*" else f"increased by {p['c']}"
        return (f"returns a copy of {a} in which the numbers at {p['parity']} indices are {change} "
                "and the others are unchanged")

    def program(self, p, f, a):
        r = 0 if p["parity"] == "even" else 1
        return lines(
            f"def {f}({a}):",
            "    result = []",
            f"    for i in range(len({a})):",
            f"        if i % 2 == {r}:",
            f"            result.append({a}[i] {p['op']} {p['c']})",
            "        else:",
            f"            result.append({a}[i])",
            "    return result")

    def solve(self, p):
        r, op = (0 if p["parity"] == "even" else 1), {"*": operator.mul, "+": operator.add}[p["op"]]
        return lambda xs: [op(x, p["c"]) if i % 2 == r else x for i, x in enumerate(xs)]

    def inputs(self, p, rng):
        return [[], [1]] + [int_list(rng, -5, 20, n_min=2) for _ in range(4)]


class CountPairs(Template):
    name = "count_pairs"
    fnames = ["count_pairs", "pair_count", "pairs_with", "num_pairs"]
    args = list(LIST_ARGS)
    constants = ("t",)

    def params(self, rng):
        return {"op": rng.choice(["==", ">", "<"]), "t": rng.randint(0, 20)}

    def describe(self, p, a):
        return (f"returns how many pairs of numbers at two different positions in {a} have a sum "
                f"{CMP[p['op']][0]} {p['t']}")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    count = 0",
            f"    for i in range(len({a})):",
            f"        for j in range(i + 1, len({a})):",
            f"            if {a}[i] + {a}[j] {p['op']} {p['t']}:",
            "                count += 1",
            "    return count")

    def solve(self, p):
        test = CMP[p["op"]][1]
        return lambda xs: sum(1 for i in range(len(xs)) for j in range(len(xs))
                              if i < j and test(xs[i] + xs[j], p["t"]))

    def inputs(self, p, rng):
        h = p["t"] // 2
        k = p["t"] - h
        return [[], [h, k], [h - 1, h, h + 1, k - 1, k, k + 1]] + [int_list(rng, h - 6, h + 6)
                                                                   for _ in range(4)]


class RunningTotals(Template):
    name = "running_totals"
    fnames = ["running", "accumulate", "prefix_totals", "cumulative"]
    args = list(LIST_ARGS)
    constants = ("kind", "c")

    def params(self, rng):
        kind = rng.choice(["sum", "product"])
        return {"kind": kind, "c": rng.randint(0, 10) if kind == "sum" else rng.randint(1, 5)}

    def describe(self, p, a):
        return (f"returns the list of running {p['kind']}s of the numbers in {a}, "
                f"starting the {p['kind']} at {p['c']}")

    def program(self, p, f, a):
        e, op = LIST_ARGS[a], "+=" if p["kind"] == "sum" else "*="
        return lines(
            f"def {f}({a}):",
            "    totals = []",
            f"    total = {p['c']}",
            f"    for {e} in {a}:",
            f"        total {op} {e}",
            "        totals.append(total)",
            "    return totals")

    def solve(self, p):
        def run(xs):
            out, acc = [], p["c"]
            for x in xs:
                acc = acc + x if p["kind"] == "sum" else acc * x
                out.append(acc)
            return out
        return run

    def inputs(self, p, rng):
        return [[], [3]] + [int_list(rng, -3, 9, n_min=2) for _ in range(4)]


class Frequent(Template):
    name = "frequent"
    fnames = ["repeated", "frequent", "common_values", "duplicates"]
    args = list(LIST_ARGS)
    constants = ("k",)

    def params(self, rng):
        return {"op": rng.choice([">=", "==", ">", "<="]), "k": rng.randint(2, 5)}

    def describe(self, p, a):
        times = {">=": "at least", "==": "exactly", ">": "more than", "<=": "at most"}[p["op"]]
        return (f"returns the sorted list of the distinct numbers that appear {times} {p['k']} "
                f"times in {a}")

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            "    counts = {}",
            f"    for {e} in {a}:",
            f"        counts[{e}] = counts.get({e}, 0) + 1",
            "    result = []",
            f"    for {e} in counts:",
            f"        if counts[{e}] {p['op']} {p['k']}:",
            f"            result.append({e})",
            "    return sorted(result)")

    def solve(self, p):
        test = CMP[p["op"]][1]
        return lambda xs: sorted(x for x in set(xs) if test(xs.count(x), p["k"]))

    def inputs(self, p, rng):
        ladder = [v for v in range(1, 7) for _ in range(v)]  # v appears v times
        rng.shuffle(ladder)
        return [[], ladder] + [int_list(rng, 0, 4, n_max=14, n_min=4) for _ in range(4)]


class GroupByRemainder(Template):
    name = "group_remainder"
    fnames = ["by_remainder", "group_mod", "remainders", "mod_table"]
    args = list(LIST_ARGS)
    constants = ("k", "agg")

    def params(self, rng):
        return {"k": rng.randint(2, 9), "agg": rng.choice(["count", "sum"])}

    def describe(self, p, a):
        what = ("how many numbers have that remainder" if p["agg"] == "count"
                else "the sum of the numbers with that remainder")
        return (f"returns a dictionary that maps each remainder of the numbers in {a} divided "
                f"by {p['k']} to {what}")

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        v = "1" if p["agg"] == "count" else e
        return lines(
            f"def {f}({a}):",
            "    groups = {}",
            f"    for {e} in {a}:",
            f"        r = {e} % {p['k']}",
            "        if r in groups:",
            f"            groups[r] += {v}",
            "        else:",
            f"            groups[r] = {v}",
            "    return groups")

    def solve(self, p):
        k = p["k"]
        if p["agg"] == "count":
            return lambda xs: {r: sum(1 for x in xs if x % k == r) for r in {x % k for x in xs}}
        return lambda xs: {r: sum(x for x in xs if x % k == r) for r in {x % k for x in xs}}

    def inputs(self, p, rng):
        return [[], [p["k"]]] + [int_list(rng, 0, 30) for _ in range(4)]


class Affine(Template):
    name = "affine"
    fnames = ["compute", "calculate", "formula", "evaluate"]
    args = INT_ARGS
    constants = ("b", "m", "c")

    def params(self, rng):
        return {"b": rng.randint(1, 9), "m": rng.randint(2, 9), "c": rng.randint(1, 20)}

    def describe(self, p, a):
        return (f"returns the result of adding {p['b']} to {a}, multiplying by {p['m']}, "
                f"then subtracting {p['c']}")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            f"    result = {a} + {p['b']}",
            f"    result = result * {p['m']}",
            f"    result = result - {p['c']}",
            "    return result")

    def solve(self, p):
        return lambda x: (x + p["b"]) * p["m"] - p["c"]

    def inputs(self, p, rng):
        return [0, 1, -1] + rng.sample(range(2, 60), 3)


class SumDivisible(Template):
    name = "sum_divisible"
    fnames = ["sum_multiples", "sum_upto", "divisible_sum", "add_multiples"]
    args = INT_ARGS
    constants = ("k",)

    def params(self, rng):
        return {"k": rng.randint(2, 9), "negate": rng.choice([False, True])}

    def describe(self, p, a):
        return (f"returns the sum of the integers from 1 to {a} (inclusive) that are "
                f"{'not ' if p['negate'] else ''}divisible by {p['k']}")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    total = 0",
            f"    for i in range(1, {a} + 1):",
            f"        if i % {p['k']} {'!=' if p['negate'] else '=='} 0:",
            "            total += i",
            "    return total")

    def solve(self, p):
        return lambda n: sum(i for i in range(1, n + 1) if (i % p["k"] == 0) != p["negate"])

    def inputs(self, p, rng):
        return [0, 1, p["k"]] + rng.sample(range(p["k"] + 1, 70), 3)


class Power(Template):
    name = "power"
    fnames = ["power", "grow", "repeated_product", "scaled_power"]
    args = INT_ARGS
    constants = ("base", "c")

    def params(self, rng):
        return {"base": rng.randint(2, 7), "c": rng.randint(1, 9)}

    def describe(self, p, a):
        if p["c"] == 1:
            return f"returns {p['base']} raised to the power {a} ({a} is not negative)"
        return f"returns {p['c']} times {p['base']} raised to the power {a} ({a} is not negative)"

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            f"    result = {p['c']}",
            f"    for _ in range({a}):",
            f"        result *= {p['base']}",
            "    return result")

    def solve(self, p):
        return lambda n: p["c"] * p["base"] ** n

    def inputs(self, p, rng):
        return [0, 1, 2] + rng.sample(range(3, 13), 3)


class Clamp(Template):
    name = "clamp"
    fnames = ["clamp", "limit", "bound", "restrict"]
    args = INT_ARGS
    constants = ("lo", "hi")

    def params(self, rng):
        lo = rng.randint(-10, 10)
        return {"lo": lo, "hi": lo + rng.randint(1, 20)}

    def describe(self, p, a):
        return (f"returns {a} limited to the range from {p['lo']} to {p['hi']}: {p['lo']} if {a} "
                f"is below it, {p['hi']} if {a} is above it, else {a} itself")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            f"    if {a} < {p['lo']}:",
            f"        return {p['lo']}",
            f"    if {a} > {p['hi']}:",
            f"        return {p['hi']}",
            f"    return {a}")

    def solve(self, p):
        return lambda x: min(max(x, p["lo"]), p["hi"])

    def inputs(self, p, rng):
        lo, hi = p["lo"], p["hi"]
        return [lo - 5, lo - 1, lo, hi, hi + 1, hi + 5, rng.randint(lo, hi), rng.randint(-40, 40)]


class Classify(Template):
    name = "classify"
    fnames = ["classify", "label", "category", "describe_level"]
    args = INT_ARGS
    constants = ("t1", "t2", "labels")
    LABELS = [("low", "medium", "high"), ("small", "medium", "large"), ("cold", "warm", "hot"),
              ("short", "average", "tall"), ("few", "some", "many"), ("slow", "steady", "fast")]

    def params(self, rng):
        t1 = rng.randint(0, 30)
        return {"t1": t1, "t2": t1 + rng.randint(5, 30), "labels": list(rng.choice(self.LABELS))}

    def describe(self, p, a):
        w1, w2, w3 = map(q, p["labels"])
        return (f"returns {w1} if {a} is less than {p['t1']}, {w2} if it is less than {p['t2']}, "
                f"and {w3} otherwise")

    def program(self, p, f, a):
        w1, w2, w3 = map(q, p["labels"])
        return lines(
            f"def {f}({a}):",
            f"    if {a} < {p['t1']}:",
            f"        return {w1}",
            f"    elif {a} < {p['t2']}:",
            f"        return {w2}",
            "    else:",
            f"        return {w3}")

    def solve(self, p):
        w1, w2, w3 = p["labels"]
        return lambda x: w1 if x < p["t1"] else w2 if x < p["t2"] else w3

    def inputs(self, p, rng):
        t1, t2 = p["t1"], p["t2"]
        return [t1 - 1, t1, t2 - 1, t2, rng.randint(t1, t2), t2 + rng.randint(1, 20)]


class FizzBuzz(Template):
    name = "fizzbuzz"
    fnames = ["fizzbuzz", "speak", "say", "shout"]
    args = INT_ARGS
    constants = ("d1", "d2", "words")
    PAIRS = [(a, b) for a in range(2, 8) for b in range(2, 8) if a != b and math.gcd(a, b) == 1]
    WORDS = [("Fizz", "Buzz"), ("Foo", "Bar"), ("Ping", "Pong"), ("Tick", "Tock"), ("Hip", "Hop")]

    def params(self, rng):
        d1, d2 = rng.choice(self.PAIRS)
        return {"d1": d1, "d2": d2, "words": list(rng.choice(self.WORDS))}

    def describe(self, p, a):
        w1, w2 = p["words"]
        return (f"returns {q(w1 + w2)} if {a} is divisible by both {p['d1']} and {p['d2']}, "
                f"{q(w1)} if only by {p['d1']}, {q(w2)} if only by {p['d2']}, "
                f"and {a} as a string otherwise")

    def program(self, p, f, a):
        (w1, w2), d1, d2 = p["words"], p["d1"], p["d2"]
        return lines(
            f"def {f}({a}):",
            f"    if {a} % {d1} == 0 and {a} % {d2} == 0:",
            f"        return {q(w1 + w2)}",
            f"    if {a} % {d1} == 0:",
            f"        return {q(w1)}",
            f"    if {a} % {d2} == 0:",
            f"        return {q(w2)}",
            f"    return str({a})")

    def solve(self, p):
        (w1, w2), d1, d2 = p["words"], p["d1"], p["d2"]
        return lambda n: (w1 * (n % d1 == 0) + w2 * (n % d2 == 0)) or str(n)

    def inputs(self, p, rng):
        d1, d2 = p["d1"], p["d2"]
        return sorted({d1 * d2, rng.randint(1, 100), *range(1, 11)})


class DigitSum(Template):
    name = "digit_sum"
    fnames = ["digit_sum", "sum_digits", "add_digits", "digits_total"]
    args = INT_ARGS
    constants = ("d",)

    def params(self, rng):
        return {"op": rng.choice(ALL_OPS), "d": rng.randint(2, 8)}

    def describe(self, p, a):
        return (f"returns the sum of the decimal digits of {a} that are {CMP[p['op']][0]} "
                f"{p['d']} ({a} is not negative)")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    total = 0",
            f"    while {a} > 0:",
            f"        digit = {a} % 10",
            f"        if digit {p['op']} {p['d']}:",
            "            total += digit",
            f"        {a} //= 10",
            "    return total")

    def solve(self, p):
        return lambda n: sum(int(c) for c in str(n) if CMP[p["op"]][1](int(c), p["d"])) if n else 0

    def inputs(self, p, rng):
        return [0, p["d"], 1234567890] + [rng.randint(10, 99999) for _ in range(3)]


class CountDivisions(Template):
    name = "count_divisions"
    fnames = ["divide_out", "divide_count", "strip_factor", "reduce_by"]
    args = INT_ARGS
    constants = ("k",)

    def params(self, rng):
        return {"k": rng.randint(2, 9), "result": rng.choice(["count", "rest"])}

    def describe(self, p, a):
        if p["result"] == "count":
            return (f"returns how many times in a row {a} can be divided by {p['k']} with no "
                    f"remainder ({a} is positive)")
        return (f"returns what is left of {a} after dividing it by {p['k']} as long as the "
                f"division leaves no remainder ({a} is positive)")

    def program(self, p, f, a):
        if p["result"] == "count":
            return lines(
                f"def {f}({a}):",
                "    count = 0",
                f"    while {a} % {p['k']} == 0:",
                f"        {a} //= {p['k']}",
                "        count += 1",
                "    return count")
        return lines(
            f"def {f}({a}):",
            f"    while {a} % {p['k']} == 0:",
            f"        {a} //= {p['k']}",
            f"    return {a}")

    def solve(self, p):
        k = p["k"]

        def times(n):
            return next(j for j in range(64) if n % k ** (j + 1))
        if p["result"] == "count":
            return times
        return lambda n: n // k ** times(n)

    def inputs(self, p, rng):
        k = p["k"]
        return [1, k, k * k * k, 2 * k, 3 * k, 5 * k * k, 7 * k] + [
            k ** rng.randint(0, 4) * rng.randint(1, 20) for _ in range(2)]


class CountDivisors(Template):
    name = "count_divisors"
    fnames = ["count_divisors", "divisor_count", "num_divisors", "factors_of"]
    args = INT_ARGS
    constants = ("k",)

    def params(self, rng):
        return {"op": rng.choice(ORDER_OPS), "k": rng.randint(3, 10)}

    def describe(self, p, a):
        return f"returns how many divisors of {a} are {CMP[p['op']][0]} {p['k']} ({a} is positive)"

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    count = 0",
            f"    for i in range(1, {a} + 1):",
            f"        if {a} % i == 0 and i {p['op']} {p['k']}:",
            "            count += 1",
            "    return count")

    def solve(self, p):
        test = CMP[p["op"]][1]
        return lambda n: sum(1 for i in range(1, n + 1) if n % i == 0 and test(i, p["k"]))

    def inputs(self, p, rng):
        return [1, p["k"], 12, 2520] + rng.sample(range(13, 100), 2)  # 2520: 1..10 divide it


class CountChar(Template):
    name = "count_char"
    fnames = ["count_letter", "letter_count", "occurrences", "count_char"]
    args = STR_ARGS
    constants = ("c",)

    def params(self, rng):
        return {"c": rng.choice(LETTERS), "ignore_case": rng.choice([False, True])}

    def describe(self, p, a):
        tail = ", ignoring case" if p["ignore_case"] else ""
        return f"returns how many times the letter {q(p['c'])} appears in {a}{tail}"

    def program(self, p, f, a):
        source = f"{a}.lower()" if p["ignore_case"] else a
        return lines(
            f"def {f}({a}):",
            "    count = 0",
            f"    for ch in {source}:",
            f"        if ch == {q(p['c'])}:",
            "            count += 1",
            "    return count")

    def solve(self, p):
        return lambda s: (s.lower() if p["ignore_case"] else s).count(p["c"])

    def inputs(self, p, rng):
        c = p["c"]
        return ["", c + c.upper() + c] + [sentence(rng, caps=True) for _ in range(4)]


class ReplaceChar(Template):
    name = "replace_char"
    fnames = ["replace_letter", "mask", "swap_char", "scrub"]
    args = STR_ARGS
    constants = ("c", "by")

    def params(self, rng):
        return {"c": rng.choice(LETTERS), "by": rng.choice(["", "*", "-", "_", "#", "?"])}

    def describe(self, p, a):
        if p["by"] == "":
            return f"returns {a} with every {q(p['c'])} removed"
        return f"returns {a} with every {q(p['c'])} replaced by {q(p['by'])}"

    def program(self, p, f, a):
        c = q(p["c"])
        if p["by"] == "":
            return lines(
                f"def {f}({a}):",
                '    result = ""',
                f"    for ch in {a}:",
                f"        if ch != {c}:",
                "            result += ch",
                "    return result")
        return lines(
            f"def {f}({a}):",
            '    result = ""',
            f"    for ch in {a}:",
            f"        if ch == {c}:",
            f"            result += {q(p['by'])}",
            "        else:",
            "            result += ch",
            "    return result")

    def solve(self, p):
        return lambda s: s.replace(p["c"], p["by"])

    def inputs(self, p, rng):
        return ["", p["c"] * 3] + [sentence(rng) for _ in range(4)]


class WordLength(Template):
    name = "word_length"
    fnames = ["select_words", "words_by_length", "pick_words", "word_filter"]
    args = TEXT_ARGS
    constants = ("k",)
    PHRASE = {">": "longer than {k} letters", ">=": "at least {k} letters long",
              "<": "shorter than {k} letters", "<=": "at most {k} letters long",
              "==": "exactly {k} letters long"}

    def params(self, rng):
        return {"op": rng.choice(list(self.PHRASE)), "k": rng.randint(2, 7)}

    def describe(self, p, a):
        return (f"returns the list of the words of {a} (split on whitespace) that are "
                + self.PHRASE[p["op"]].format(k=p["k"]))

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    result = []",
            f"    for word in {a}.split():",
            f"        if len(word) {p['op']} {p['k']}:",
            "            result.append(word)",
            "    return result")

    def solve(self, p):
        return lambda s: [w for w in s.split() if CMP[p["op"]][1](len(w), p["k"])]

    def inputs(self, p, rng):
        return ["", ladder_sentence(rng)] + [sentence(rng, n_min=2) for _ in range(4)]


class JoinWords(Template):
    name = "join_words"
    fnames = ["rejoin", "join_words", "reformat", "rewrite"]
    args = TEXT_ARGS
    constants = ("reverse", "case", "sep")

    def params(self, rng):
        return {"reverse": rng.choice([False, True]),
                "case": rng.choice(["upper", "lower", "title"]),
                "sep": rng.choice(["-", ", ", "_", "+", "/", " "])}

    def describe(self, p, a):
        order = " in reverse order" if p["reverse"] else ""
        case = {"upper": "in upper case", "lower": "in lower case",
                "title": "with each word capitalized"}[p["case"]]
        return f"returns the words of {a}{order}, {case}, joined by {q(p['sep'])}"

    def program(self, p, f, a):
        call = {"upper": "upper", "lower": "lower", "title": "capitalize"}[p["case"]]
        rows = [f"def {f}({a}):", f"    words = {a}.split()"]
        if p["reverse"]:
            rows.append("    words.reverse()")
        rows += ["    result = []",
                 "    for word in words:",
                 f"        result.append(word.{call}())",
                 f"    return {q(p['sep'])}.join(result)"]
        return lines(*rows)

    def solve(self, p):
        def run(s):
            words = s.split()[::-1] if p["reverse"] else s.split()
            fix = {"upper": str.upper, "lower": str.lower, "title": str.capitalize}[p["case"]]
            return p["sep"].join(fix(w) for w in words)
        return run

    def inputs(self, p, rng):
        return ["", "one"] + [sentence(rng, n_min=2, caps=True) for _ in range(4)]


class RepeatWord(Template):
    name = "repeat_word"
    fnames = ["repeat", "echo", "duplicate", "chant"]
    args = ["word", "s", "text", "part"]
    constants = ("k", "sep")

    def params(self, rng):
        return {"k": rng.randint(2, 7), "sep": rng.choice([" ", "-", ", ", "+", "/", "|"])}

    def describe(self, p, a):
        return f"returns {a} repeated {p['k']} times, with {q(p['sep'])} between the copies"

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    parts = []",
            f"    for _ in range({p['k']}):",
            f"        parts.append({a})",
            f"    return {q(p['sep'])}.join(parts)")

    def solve(self, p):
        return lambda s: p["sep"].join([s] * p["k"])

    def inputs(self, p, rng):
        return ["", "ab"] + rng.sample(WORDS, 3)


class WordCounts(Template):
    name = "word_counts"
    fnames = ["word_counts", "count_words", "frequencies", "tally_words"]
    args = TEXT_ARGS
    constants = ("k",)

    def params(self, rng):
        return {"op": rng.choice([">=", ">"]), "k": rng.randint(1, 6)}

    def describe(self, p, a):
        letters = "1 letter" if p["k"] == 1 else f"{p['k']} letters"
        size = {">=": f"at least {letters} long", ">": f"longer than {letters}"}[p["op"]]
        return (f"returns a dictionary that maps each word of {a} that is {size} "
                "to the number of times it appears")

    def program(self, p, f, a):
        return lines(
            f"def {f}({a}):",
            "    counts = {}",
            f"    for word in {a}.split():",
            f"        if len(word) {p['op']} {p['k']}:",
            "            counts[word] = counts.get(word, 0) + 1",
            "    return counts")

    def solve(self, p):
        def run(s):
            words = [w for w in s.split() if CMP[p["op"]][1](len(w), p["k"])]
            return {w: words.count(w) for w in words}
        return run

    def inputs(self, p, rng):
        return ["", ladder_sentence(rng)] + [sentence(rng, n_max=10, n_min=2) + " "
                                             + sentence(rng, n_max=3) for _ in range(4)]


class Shift(Template):
    name = "shift_letters"
    fnames = ["shift", "rotate", "encode", "cipher"]
    args = ["s", "text", "message", "word"]
    constants = ("k", "back")

    def params(self, rng):
        return {"k": rng.randint(1, 25), "back": rng.choice([False, True])}

    def describe(self, p, a):
        way = "backward" if p["back"] else "forward"
        places = "1 place" if p["k"] == 1 else f"{p['k']} places"
        return (f"returns {a} with each lowercase letter shifted {places} {way} in the "
                "alphabet, wrapping around, and every other character unchanged")

    def program(self, p, f, a):
        sign = "-" if p["back"] else "+"
        return lines(
            f"def {f}({a}):",
            '    result = ""',
            f"    for ch in {a}:",
            "        if ch.islower():",
            '            code = ord(ch) - ord("a")',
            f"            code = (code {sign} {p['k']}) % 26",
            '            result += chr(code + ord("a"))',
            "        else:",
            "            result += ch",
            "    return result")

    def solve(self, p):
        k = -p["k"] if p["back"] else p["k"]
        table = str.maketrans(string.ascii_lowercase,
                              "".join(string.ascii_lowercase[(i + k) % 26] for i in range(26)))
        return lambda s: s.translate(table)

    def inputs(self, p, rng):
        return ["", "xyz abc!"] + [sentence(rng, caps=True) for _ in range(4)]


class MinMaxGap(Template):
    name = "spread"
    fnames = ["spread", "value_range", "gap", "span"]
    args = list(LIST_ARGS)
    constants = ("c", "default")

    def params(self, rng):
        op = rng.choice(["+", "*"])
        return {"c": rng.randint(1 if op == "+" else 2, 9), "op": op,
                "default": rng.choice([0, -1])}

    def describe(self, p, a):
        change = f"plus {p['c']}" if p["op"] == "+" else f"times {p['c']}"
        return (f"returns the difference between the largest and the smallest number in {a}, "
                f"{change}, or {p['default']} if {a} is empty")

    def program(self, p, f, a):
        e = LIST_ARGS[a]
        return lines(
            f"def {f}({a}):",
            f"    if not {a}:",
            f"        return {p['default']}",
            f"    low = {a}[0]",
            f"    high = {a}[0]",
            f"    for {e} in {a}:",
            f"        if {e} < low:",
            f"            low = {e}",
            f"        if {e} > high:",
            f"            high = {e}",
            f"    return (high - low) {p['op']} {p['c']}")

    def solve(self, p):
        op = {"+": operator.add, "*": operator.mul}[p["op"]]
        return lambda xs: op(max(xs) - min(xs), p["c"]) if xs else p["default"]

    def inputs(self, p, rng):
        return [[], [4]] + [int_list(rng, -10, 30, n_min=2) for _ in range(4)]


TEMPLATES: list[Template] = [
    CountCmp(), SumCmp(), FilterCmp(), MapArith(), FirstIndex(), AllAny(), ExtremeCmp(),
    CountDivisible(), AverageCmp(), ScalePositions(), CountPairs(), RunningTotals(), Frequent(),
    GroupByRemainder(), MinMaxGap(), Affine(), SumDivisible(), Power(), Clamp(), Classify(),
    FizzBuzz(), DigitSum(), CountDivisions(), CountDivisors(), CountChar(), ReplaceChar(),
    WordLength(), JoinWords(), RepeatWord(), WordCounts(), Shift(),
]
BY_NAME = {t.name: t for t in TEMPLATES}

# --------------------------------------------------------------------------------------------
# Instances and the split.


@dataclass(frozen=True)
class Instance:
    template: str
    fname: str
    arg: str
    params_json: str  # the parameters as canonical JSON (hashable, ordered)
    opener: int  # which sentence frame the instruction uses (surface only)

    @property
    def params(self) -> dict:
        return json.loads(self.params_json)

    @property
    def key(self) -> tuple:
        """Everything that determines the program."""
        return (self.template, self.fname, self.arg, self.params_json)

    @property
    def behaviour(self) -> tuple:
        """(template, parameters): what the function computes, whatever it is called."""
        return (self.template, self.params_json)

    @property
    def naming(self) -> tuple:
        """(template, function name, constants): a name with the template's constants."""
        p = self.params
        return (self.template, self.fname,
                json.dumps([p[k] for k in BY_NAME[self.template].constants]))

    @property
    def description(self) -> str:
        return BY_NAME[self.template].describe(self.params, self.arg)

    @property
    def instruction(self) -> str:
        sig = f"{self.fname}({self.arg})"
        return OPENERS[self.opener].format(sig=sig, desc=self.description)

    @property
    def program(self) -> str:
        return BY_NAME[self.template].program(self.params, self.fname, self.arg)

    def tests(self, seed: int) -> list[tuple]:
        """[(argument, expected)]: the arguments drawn from (seed, key), expected from ``solve``."""
        t, p = BY_NAME[self.template], self.params
        rng = random.Random(f"tests:{seed}:{json.dumps(self.key)}")
        solve, out, seen = t.solve(p), [], set()
        for arg in t.inputs(p, rng):
            if repr(arg) not in seen:
                seen.add(repr(arg))
                out.append((arg, solve(arg)))
        return out


def draw(template: Template, rng: random.Random) -> Instance:
    p = template.params(rng)
    return Instance(template.name, rng.choice(template.fnames), rng.choice(template.args),
                    json.dumps(p, sort_keys=True), rng.randrange(len(OPENERS)))


def generate(seed: int = 0, n_train: int = 3000, n_heldout: int = 100,
             templates: list[Template] | None = None) -> tuple[list[Instance], list[Instance]]:
    """(train, heldout) instances. Held-out problems go round the templates in order; training
    instances are drawn uniformly over templates, skipping repeats and any instance that shares
    a held-out problem's behaviour or naming."""
    templates = templates or TEMPLATES
    rng = random.Random(seed)
    heldout: list[Instance] = []
    held: set = set()  # behaviours and namings of the held-out problems
    tries = 0
    while len(heldout) < n_heldout:
        inst = draw(templates[len(heldout) % len(templates)], rng)
        tries += 1
        if tries > 1000 * (n_heldout + 1):
            raise ValueError("cannot draw that many distinct held-out problems")
        if inst.behaviour in held or inst.naming in held:
            continue
        held.update([inst.behaviour, inst.naming])
        heldout.append(inst)
    train: list[Instance] = []
    keys: set = set()
    tries = 0
    while len(train) < n_train:
        inst = draw(rng.choice(templates), rng)
        tries += 1
        if tries > 1000 * (n_train + 1):
            raise ValueError("cannot draw that many distinct training programs")
        if inst.key in keys or inst.behaviour in held or inst.naming in held:
            continue
        keys.add(inst.key)
        train.append(inst)
    return train, heldout


# --------------------------------------------------------------------------------------------
# Records.


def train_record(inst: Instance, index: int) -> dict:
    return {"id": f"train/{index}", "template": inst.template, "instruction": inst.instruction,
            "program": inst.program}


def check_source(inst: Instance, seed: int) -> str:
    rows = ["def check(candidate):"]
    for arg, expected in inst.tests(seed):
        if isinstance(expected, float):
            rows.append(f"    assert abs(candidate({arg!r}) - {expected!r}) < 1e-6")
        else:
            rows.append(f"    assert candidate({arg!r}) == {expected!r}")
    return "\n".join(rows) + "\n"


def heldout_record(inst: Instance, index: int, seed: int) -> dict:
    program = inst.program
    def_line, body = program.split("\n", 1)
    doc = inst.description
    doc = "Return" + doc[len("returns"):] + "."
    arg, expected = inst.tests(seed)[-1]
    prompt = (f'{def_line}\n    """{doc}\n'
              f'    >>> {inst.fname}({arg!r})\n    {expected!r}\n    """\n')
    return {"task_id": f"heldout/{index}", "template": inst.template,
            "instruction": inst.instruction, "prompt": prompt, "canonical_solution": body,
            "test": check_source(inst, seed), "entry_point": inst.fname}


def dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def write_jsonl(path: str, records) -> int:
    """Atomically: to PATH.tmp, renamed at the end."""
    tmp, n = path + ".tmp", 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(dumps(record) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


# --------------------------------------------------------------------------------------------
# Command line.


def cmd_generate(args) -> None:
    train, heldout = generate(args.seed, args.train, args.heldout)
    os.makedirs(args.out_dir, exist_ok=True)
    train_path = os.path.join(args.out_dir, "train.jsonl")
    heldout_path = os.path.join(args.out_dir, "heldout.jsonl")
    write_jsonl(train_path, (train_record(x, i) for i, x in enumerate(train)))
    write_jsonl(heldout_path, (heldout_record(x, i, args.seed) for i, x in enumerate(heldout)))
    chars = sum(len(x.program) for x in train) / max(1, len(train))
    print(f"tasks: {len(train)} training programs ({chars:.0f} characters each on average) in "
          f"{train_path}; {len(heldout)} held-out problems in {heldout_path}; "
          f"{len({x.template for x in train})} templates, seed {args.seed}", file=sys.stderr)


def cmd_stats(args) -> None:
    train, heldout = generate(args.seed, args.train, args.heldout)
    print(f"{'template':<18} {'train':>6} {'held':>5} {'lines':>6} {'chars':>6}  example function")
    for t in TEMPLATES:
        mine = [x for x in train if x.template == t.name]
        held = sum(1 for x in heldout if x.template == t.name)
        n_lines = sum(x.program.count("\n") for x in mine) / max(1, len(mine))
        chars = sum(len(x.program) for x in mine) / max(1, len(mine))
        example = mine[0].fname + "(" + mine[0].arg + ")" if mine else ""
        print(f"{t.name:<18} {len(mine):>6} {held:>5} {n_lines:>6.1f} {chars:>6.0f}  {example}")
    all_lines = [x.program.count("\n") for x in train]
    print(f"{len(TEMPLATES)} templates; {len(train)} training programs, {len(heldout)} held-out; "
          f"lines {min(all_lines)}-{max(all_lines)}, "
          f"{sum(len(x.program) for x in train) / len(train):.0f} characters per program, "
          f"{sum(len(x.instruction) for x in train) / len(train):.0f} per instruction")


def cmd_show(args) -> None:
    train, heldout = generate(args.seed, args.train, args.heldout)
    pool = heldout if args.heldout_only else train
    shown = 0
    for inst in pool:
        if args.template and inst.template != args.template:
            continue
        print(f"# {inst.template}\n{inst.instruction}\n{inst.program}")
        shown += 1
        if shown >= args.n:
            break


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0, help="Seed of everything (default 0).")
    common.add_argument("--train", type=int, default=3000, help="Training programs (default 3000).")
    common.add_argument("--heldout", type=int, default=100, help="Held-out problems (default 100).")
    gen = sub.add_parser("generate", parents=[common], help="Write train.jsonl and heldout.jsonl.")
    gen.add_argument("--out-dir", required=True, help="Folder for the two files.")
    gen.set_defaults(run=cmd_generate)
    st = sub.add_parser("stats", parents=[common],
                        help="Instances, lines, characters per template.")
    st.set_defaults(run=cmd_stats)
    show = sub.add_parser("show", parents=[common], help="Print a few instances.")
    show.add_argument("--template", choices=sorted(BY_NAME), help="Only this template.")
    show.add_argument("-n", type=int, default=3, help="How many (default 3).")
    show.add_argument("--heldout-only", action="store_true", help="From the held-out problems.")
    show.set_defaults(run=cmd_show)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
