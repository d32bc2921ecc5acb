"""Energy algebra: the expression language over models' energies.

A name stands for a model's energy E (its density is p = exp(-E)). Operators, loosest first:

    a | b        mixture (disjunction): E = -(1/tau) logsumexp(log pi_a - tau E_a, log pi_b - tau E_b)
    0.3:a | 0.7:b  mixture weights pi (default equal; all or none given; 0 drops an operand)
    a + b        product of densities (conjunction): energies add
    a - b        energies subtract (with weights: 1.3*a - 0.3*b is the paper's negation)
    w*a, a*w     tempering: E = w E_a (w*a with w = 2 is the density squared); w/b too: a/2
    -a, (...)    unary minus, parentheses

    expr    := mixture
    mixture := part ('|' part)*
    part    := [NUMBER ':'] sum
    sum     := ['+'|'-'] term (('+'|'-') term)*
    term    := factor (('*'|'/') factor)*        at most one factor that is not a number
    factor  := NUMBER | NAME | '(' expr ')'

Linear expressions (no '|') work with score models too; a mixture needs energies.
Errors name the column: ``ExprError("column 5: ...")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ExprError(ValueError):
    """A malformed expression; the message names the column (1-based)."""


@dataclass(frozen=True)
class Name:
    name: str
    pos: int = 0

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Linear:
    """sum_i coef_i * E_i"""

    terms: tuple  # ((coef, node), ...)

    def __str__(self) -> str:
        out = ""
        for i, (coef, node) in enumerate(self.terms):
            text = f"({node})" if isinstance(node, (Linear, Mixture)) else str(node)
            body = text if abs(coef) == 1 else f"{_num(abs(coef))}*{text}"
            if i == 0:
                out = ("-" if coef < 0 else "") + body
            else:
                out += (" - " if coef < 0 else " + ") + body
        return out


@dataclass(frozen=True)
class Mixture:
    parts: tuple  # (node, ...)
    given: tuple | None = None  # weights as written, or None (equal)

    def weights(self) -> list[float]:
        if self.given is None:
            return [1.0 / len(self.parts)] * len(self.parts)
        total = sum(self.given)
        return [w / total for w in self.given]

    def __str__(self) -> str:
        texts = [f"({p})" if isinstance(p, Mixture) else str(p) for p in self.parts]
        if self.given is not None:
            texts = [f"{_num(w)}:{t}" for w, t in zip(self.given, texts)]
        return " | ".join(texts)


Node = Name | Linear | Mixture


def _num(x: float) -> str:
    return f"{x:g}"


_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|"
                    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/|:()]))")


def tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            rest = text[pos:].lstrip()
            if not rest:
                break
            col = len(text) - len(rest) + 1
            raise ExprError(f"column {col}: unexpected character {rest[0]!r}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok, want: str):
        kind, value, col = tok
        found = "the end" if kind == "end" else repr(value)
        raise ExprError(f"column {col}: expected {want}, found {found}")

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise ExprError("column 1: empty expression")
        node = self.mixture()
        if self.peek()[0] != "end":
            self.fail(self.peek(), "an operator (+ - * / |) or the end")
        return node

    def mixture(self) -> Node:
        parts, weights = [], []
        while True:
            weight = None
            kind, value, col = self.peek()
            if kind == "num" and self.tokens[self.i + 1][1] == ":":
                self.take()
                self.take()
                weight = float(value)
            parts.append(self.sum())
            weights.append((weight, col))
            if self.peek()[1] != "|":
                break
            self.take()
        given = [w for w, _ in weights if w is not None]
        if len(parts) == 1:
            if given:
                raise ExprError(f"column {weights[0][1]}: a weight 'w:' belongs to a mixture "
                                "operand (w:a | v:b)")
            return parts[0]
        if given and len(given) != len(parts):
            missing = next(c for w, c in weights if w is None)
            raise ExprError(f"column {missing}: give every mixture operand a weight, or none")
        if given and sum(given) <= 0:
            raise ExprError(f"column {weights[0][1]}: mixture weights must not all be 0")
        return Mixture(tuple(parts), tuple(given) if given else None)

    def sum(self) -> Node:
        terms = []
        sign = 1.0
        if self.peek()[1] in "+-" and self.peek()[0] == "op":
            sign = -1.0 if self.take()[1] == "-" else 1.0
        terms += _scaled(self.term(), sign)
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            sign = -1.0 if self.take()[1] == "-" else 1.0
            terms += _scaled(self.term(), sign)
        if len(terms) == 1 and terms[0][0] == 1.0:
            return terms[0][1]
        return Linear(tuple(terms))

    def term(self):
        coef, node, first = 1.0, None, self.peek()
        op = "*"
        while True:
            tok = self.peek()
            kind, value, col = tok
            if kind == "num":
                self.take()
                number = float(value)
                if op == "/":
                    if number == 0:
                        raise ExprError(f"column {col}: division by zero")
                    number = 1.0 / number
                coef *= number
            elif kind == "name" or value == "(":
                if op == "/":
                    raise ExprError(f"column {col}: '/' divides by a number only")
                if node is not None:
                    raise ExprError(f"column {col}: '*' multiplies an energy by a number; the "
                                    "product of two densities is '+' (energies add)")
                if kind == "name":
                    self.take()
                    node = Name(value, col)
                else:
                    self.take()
                    node = self.mixture()
                    if self.peek()[1] != ")":
                        self.fail(self.peek(), "')'")
                    self.take()
            else:
                self.fail(tok, "a name, a number or '('")
            if self.peek()[0] == "op" and self.peek()[1] in "*/":
                op = self.take()[1]
                continue
            break
        if node is None:
            raise ExprError(f"column {first[2]}: a term needs a model name, not just a number")
        return coef, node


def _scaled(term, sign):
    coef, node = term
    coef *= sign
    if isinstance(node, Linear):  # flatten: 2*(a + b) -> 2*a + 2*b
        return [(coef * c, n) for c, n in node.terms]
    return [(coef, node)]


def parse(text: str) -> Node:
    """Parse an energy-algebra expression (see the module docstring)."""
    return _Parser(text).parse()


def name_nodes(node: Node):
    """Every Name node, left to right."""
    if isinstance(node, Name):
        yield node
    elif isinstance(node, Linear):
        for _, child in node.terms:
            yield from name_nodes(child)
    else:
        for child in node.parts:
            yield from name_nodes(child)


def names(node: Node) -> list[str]:
    """Names in order of first appearance."""
    return list(name_positions(node))


def name_positions(node: Node) -> dict[str, int]:
    """Each name's first column."""
    out: dict[str, int] = {}
    for leaf in name_nodes(node):
        out.setdefault(leaf.name, leaf.pos)
    return out


def has_mixture(node: Node) -> bool:
    if isinstance(node, Mixture):
        return True
    if isinstance(node, Linear):
        return any(has_mixture(c) for _, c in node.terms)
    return False


def linear_weights(node: Node) -> dict[str, float] | None:
    """For a linear expression, the total coefficient of each name; None if it has a mixture."""
    if has_mixture(node):
        return None
    out: dict[str, float] = {}

    def walk(n, scale):
        if isinstance(n, Name):
            out[n.name] = out.get(n.name, 0.0) + scale
        else:
            for coef, child in n.terms:
                walk(child, scale * coef)

    walk(node, 1.0)
    return out


def rename(node: Node, mapping: dict[str, str]) -> Node:
    """The same expression with names replaced (e.g. model names by the toy sets they learned)."""
    if isinstance(node, Name):
        return Name(mapping.get(node.name, node.name), node.pos)
    if isinstance(node, Linear):
        return Linear(tuple((c, rename(n, mapping)) for c, n in node.terms))
    return Mixture(tuple(rename(p, mapping) for p in node.parts), node.given)


def check_names(node: Node, bound, what: str = "model") -> None:
    """Raise an ExprError for the first name that is not in ``bound``."""
    for name, col in name_positions(node).items():
        if name not in bound:
            known = ", ".join(sorted(bound)) or "none"
            raise ExprError(f"column {col}: unknown {what} {name!r} (known: {known})")
