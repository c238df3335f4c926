"""Milligram text is read exactly, and absurd text is refused with a message, never a crash."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taper_app.domain.units import QuantityError, decimal_point, parse_mg, parse_mg_text


@pytest.mark.parametrize("text", ["9e99999", "1e-99999", "-1e400000", "1" * 40, "0.0001"])
def test_absurd_or_too_fine_amounts_are_refused_with_a_message(text):
    with pytest.raises(QuantityError):
        parse_mg(text)


@pytest.mark.parametrize(("text", "words"), [
    ("1e3", "has an exponent"), ("1E3", "has an exponent"), ("1e1000000", "has an exponent"),
    ("1_0", "has an underscore"), ("-0", "has a minus sign"), ("-0.0", "has a minus sign"),
    ("-5", "-5 is negative"), ("+5", "has a plus sign"), ("١٠", "digits other than 0-9"),
    ("１０", "digits other than 0-9"), ("٢.٥", "digits other than 0-9"),
    ("7,5", "has a comma"), ("1,000", "no thousands separator"), ("7.", "is not a number"),
    (".5", "is not a number"), ("nan", "is not a number"), ("Infinity", "is not a number"),
    ("0x10", "is not a number"), ("1.2.3", "is not a number"), ("1 000", "is not a number"),
    ("2.5000001", "more than 3 decimals"), ("", "is empty"),
])
def test_only_plain_digits_with_a_point_and_3_decimals_are_amounts(text, words):
    """Python's Decimal and int accept 1e3, 1_0, -0 and other scripts' digits; no dose is
    written so, and each is refused saying what is wrong."""
    with pytest.raises(QuantityError, match=re.escape(words)):
        parse_mg_text(text)
    with pytest.raises(QuantityError):
        parse_mg(text)


def test_a_long_text_is_named_short_in_the_message():
    with pytest.raises(QuantityError) as caught:
        parse_mg("9" * 5000)
    assert len(str(caught.value)) < 100


@pytest.mark.parametrize(("text", "mg"), [("2.5", "2.5"), (" 20 ", "20"), ("0.75", "0.75"),
                                          ("1000", "1000"), ("0", "0"), ("007.250", "7.25"),
                                          ("2.5000", "2.5"), ("\t12.125\n", "12.125")])
def test_amounts_are_read_exactly(text, mg):
    assert parse_mg(text) == Decimal(mg)


@pytest.mark.parametrize(("typed", "read"), [("7,5", "7.5"), (" 10,25 ", "10.25"),
                                             ("1,000", "1,000"), ("7.5", "7.5"), ("x", "x")])
def test_a_forms_decimal_comma_becomes_a_point_and_nothing_else_changes(typed, read):
    assert decimal_point(typed) == read


@given(st.text(max_size=20))
def test_any_text_is_a_quantity_or_a_quantity_error(text):
    try:
        mg = parse_mg(text)
    except QuantityError as exc:
        assert str(exc)  # refused with a message, never another exception
    else:
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", text.strip())  # ASCII digits, a point
        assert mg == mg.quantize(Decimal("0.001")) and mg >= 0


@given(st.from_regex(r"\A[0-9]{1,9}(\.[0-9]{1,3})?\Z"))
def test_every_plain_amount_is_read_as_written(text):
    assert parse_mg(text) == Decimal(text)
