"""The energy-algebra parser: precedence, canonical forms, weights, and errors with columns."""

import pytest

from papertools.cli.compose_sample.expr import (ExprError, Linear, Mixture, Name, check_names,
                                                has_mixture, linear_weights, names, parse, rename)


@pytest.mark.parametrize("text,canonical,weights", [
    ("a + b", "a + b", {"a": 1, "b": 1}),
    ("1.3*a - 0.3*b", "1.3*a - 0.3*b", {"a": 1.3, "b": -0.3}),
    ("a*2", "2*a", {"a": 2}),
    ("a/4", "0.25*a", {"a": 0.25}),
    ("-a", "-a", {"a": -1}),
    ("2*(a + b) - b", "2*a + 2*b - b", {"a": 2, "b": 1}),
    ("a + a", "a + a", {"a": 2}),
    ("  ring+bar ", "ring + bar", {"ring": 1, "bar": 1}),
    ("1e-1*a", "0.1*a", {"a": 0.1}),
])
def test_linear_expressions(text, canonical, weights):
    node = parse(text)
    assert str(node) == canonical
    assert linear_weights(node) == pytest.approx(weights)
    assert not has_mixture(node)


def test_mixture_binds_loosest_and_takes_weights():
    node = parse("a + b | c")
    assert isinstance(node, Mixture)
    assert isinstance(node.parts[0], Linear) and node.parts[1] == Name("c", 9)
    assert node.weights() == [0.5, 0.5]
    weighted = parse("0.2:a | 0.6:(b + c)")
    assert weighted.weights() == pytest.approx([0.25, 0.75])
    assert str(weighted) == "0.2:a | 0.6:b + c"
    assert linear_weights(weighted) is None and has_mixture(parse("2*(a | b) + c"))
    assert parse("0:a | 1:b").weights() == [0.0, 1.0]


def test_names_and_rename():
    node = parse("1.3*box - 0.3*small | box")
    assert names(node) == ["box", "small"]
    assert str(rename(node, {"small": "small_box"})) == "1.3*box - 0.3*small_box | box"


@pytest.mark.parametrize("text,message", [
    ("", "column 1: empty expression"),
    ("a +", "column 4: expected a name, a number or '(', found the end"),
    ("a * b", "column 5: '*' multiplies an energy by a number"),
    ("a $ b", "column 3: unexpected character '$'"),
    ("(a + b", "column 7: expected ')', found the end"),
    ("a b", "column 3: expected an operator"),
    ("3", "column 1: a term needs a model name"),
    ("0.5:a", "column 1: a weight 'w:' belongs to a mixture operand"),
    ("0.5:a | b", "column 9: give every mixture operand a weight, or none"),
    ("0:a | 0:b", "mixture weights must not all be 0"),
    ("a / b", "column 5: '/' divides by a number only"),
    ("a/0", "column 3: division by zero"),
])
def test_errors_name_the_column(text, message):
    with pytest.raises(ExprError) as err:
        parse(text)
    assert message in str(err.value)


def test_unknown_name():
    with pytest.raises(ExprError, match=r"column 5: unknown model 'c' \(known: a, b\)"):
        check_names(parse("a + c"), {"a": 1, "b": 2})
