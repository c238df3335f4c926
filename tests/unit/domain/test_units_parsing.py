"""Milligram text is read exactly, and absurd text is refused with a message, never a crash."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taper_app.domain.units import QuantityError, parse_mg


@pytest.mark.parametrize("text", ["9e99999", "1e-99999", "-1e400000", "1" * 40, "0.0001"])
def test_absurd_or_too_fine_amounts_are_refused_with_a_message(text):
    with pytest.raises(QuantityError):
        parse_mg(text)


@pytest.mark.parametrize(("text", "mg"), [("2.5", "2.5"), (" 20 ", "20"), ("0.75", "0.75"),
                                          ("1e3", "1000"), ("0", "0")])
def test_amounts_are_read_exactly(text, mg):
    assert parse_mg(text) == Decimal(mg)


@given(st.text(max_size=20))
def test_any_text_is_a_quantity_or_a_quantity_error(text):
    try:
        mg = parse_mg(text)
    except QuantityError as exc:
        assert str(exc)  # refused with a message, never another exception
    else:
        assert mg == mg.quantize(Decimal("0.001"))
