"""core.errors: the field() checker's messages, places that survive pickling, and Diagnostics."""

from __future__ import annotations

import io
import pickle

import pytest

from papertools.core.errors import (EXIT_FAILURE, EXIT_OK, Diagnostics, InputError,
                                    PapertoolsError, Place, RejectError, field)

PLACE = Place("data.jsonl", 7)


def field_error(record, name, kind=str, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        field(record, name, kind, place=PLACE, **kw)
    return info.value


# -- field() -----------------------------------------------------------------------------------

def test_field_returns_checked_values():
    record = {"s": "x", "n": 3, "l": [1], "b": False, "f": 0.5, "d": {}}
    assert field(record, "s") == "x"
    assert field(record, "n", int) == 3
    assert field(record, "l", list) == [1]
    assert field(record, "b", bool) is False
    assert field(record, "f", float) == 0.5
    assert field(record, "d", dict) == {}
    assert field(record, "n", (int, str)) == 3


def test_field_missing():
    err = field_error({"other": 1}, "program")
    assert (err.file, err.line, err.field, err.message) == ("data.jsonl", 7, "program",
                                                            "missing field")
    assert str(err) == "data.jsonl:7: field 'program': missing field"


def test_field_optional_gives_default_when_missing_or_null():
    assert field({}, "x", str, required=False, default="d") == "d"
    assert field({"x": None}, "x", str, required=False, default="d") == "d"
    assert field({"x": "v"}, "x", str, required=False, default="d") == "v"


@pytest.mark.parametrize("value, kind, message", [
    (3, str, "expected a string, got a number"),
    (None, str, "expected a string, got null"),
    ("3", int, "expected an integer, got a string"),
    (2.5, int, "expected an integer, got a number"),
    (True, int, "expected an integer, got a boolean"),
    ({"a": 1}, list, "expected an array, got an object"),
    ("a", list, "expected an array, got a string"),
    (1, bool, "expected a boolean, got a number"),
    ([1], dict, "expected an object, got an array"),
    (True, float, "expected a number, got a boolean"),
])
def test_field_wrong_type_messages(value, kind, message):
    err = field_error({"x": value}, "x", kind)
    assert err.message == message
    assert str(err) == f"data.jsonl:7: field 'x': {message}"


def test_field_without_place():
    with pytest.raises(InputError) as info:
        field({}, "x")
    assert str(info.value) == "field 'x': missing field"


def test_field_tuple_kinds_are_named_in_json_terms():
    err = field_error({"x": "s"}, "x", (int, list))
    assert err.message == "expected an integer or an array, got a string"


def test_field_bool_is_not_an_integer_inside_a_tuple_either():
    err = field_error({"x": True}, "x", (int, str))
    assert err.message == "expected an integer or a string, got a boolean"


def test_field_float_accepts_json_integers():
    """JSON has one number type: 1 is as good a number as 1.0 (bools still are not)."""
    assert field({"reward": 1}, "reward", float) == 1


# -- the exception type ------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [PapertoolsError, InputError, RejectError])
def test_errors_pickle_with_their_place(cls):
    err = cls("bad thing", "in.jsonl", 12, "edits")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.message, back.file, back.line, back.field) == ("bad thing", "in.jsonl", 12, "edits")
    assert str(back) == str(err) == "in.jsonl:12: field 'edits': bad thing"
    assert back.exit_code == EXIT_FAILURE


def test_place_parts_only_when_known():
    assert str(PapertoolsError("m")) == "m"
    assert str(PapertoolsError("m", "f")) == "f: m"
    assert str(PapertoolsError("m", "f", 3)) == "f:3: m"
    assert str(PapertoolsError("m", field="id")) == "field 'id': m"
    assert str(Place("a.jsonl", 9)) == "a.jsonl:9"
    assert issubclass(InputError, PapertoolsError) and issubclass(RejectError, PapertoolsError)


# -- Diagnostics -------------------------------------------------------------------------------

def diagnostics(**kw):
    stream = io.StringIO()
    return Diagnostics("demo", stream=stream, **kw), stream


def test_bad_fails_by_default():
    diag, stream = diagnostics()
    err = InputError("nope", "f", 1)
    with pytest.raises(InputError) as info:
        diag.bad(err)
    assert info.value is err
    assert stream.getvalue() == ""
    assert diag.bad_count == 0


def test_bad_skip_counts_reports_and_exits_1():
    diag, stream = diagnostics(on_error="skip")
    diag.bad(InputError("nope", "f", 1))
    diag.bad(InputError("worse", "f", 4, "x"))
    assert diag.bad_count == 2
    assert stream.getvalue() == ("papertools demo: error: f:1: nope (skipped)\n"
                                 "papertools demo: error: f:4: field 'x': worse (skipped)\n")
    assert diag.exit_code() == EXIT_FAILURE


def test_reject_is_reported_counted_and_exit_0():
    diag, stream = diagnostics()
    diag.reject("syntax error", Place("p.jsonl", 3))
    diag.reject("empty program", Place("p.jsonl", 5), field="program")
    assert diag.reject_count == 2
    assert stream.getvalue() == ("papertools demo: reject: p.jsonl:3: syntax error\n"
                                 "papertools demo: reject: p.jsonl:5: field 'program': "
                                 "empty program\n")
    assert diag.exit_code() == EXIT_OK


def test_reject_quiet_counts_silently():
    diag, stream = diagnostics(quiet=True)
    diag.reject("syntax error", Place("p.jsonl", 3))
    assert diag.reject_count == 1
    assert stream.getvalue() == ""
    assert diag.exit_code() == EXIT_OK


def test_strict_reject_fails():
    diag, _ = diagnostics(strict=True)
    with pytest.raises(RejectError) as info:
        diag.reject("syntax error", Place("p.jsonl", 3))
    assert str(info.value) == "p.jsonl:3: syntax error"


def test_strict_reject_with_skip_is_a_skipped_error():
    diag, stream = diagnostics(strict=True, on_error="skip")
    diag.reject("syntax error", Place("p.jsonl", 3))
    assert (diag.bad_count, diag.reject_count) == (1, 0)
    assert stream.getvalue() == "papertools demo: error: p.jsonl:3: syntax error (skipped)\n"
    assert diag.exit_code() == EXIT_FAILURE


def test_check_failed_always_reported_and_exit_1():
    diag, stream = diagnostics(quiet=True)
    diag.check_failed("line 3 differs", Place("s.jsonl", 2))
    assert diag.failed_checks == 1
    assert stream.getvalue() == "papertools demo: mismatch: s.jsonl:2: line 3 differs\n"
    assert diag.exit_code() == EXIT_FAILURE


def test_on_error_is_checked():
    with pytest.raises(ValueError):
        Diagnostics("demo", on_error="ignore")
