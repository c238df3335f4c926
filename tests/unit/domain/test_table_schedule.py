"""Table templates: published step tables and fractions of baseline (domain.md §4.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taper_app.domain.schedule import TableStep, TableTemplate, generate_schedule

from .builders import FRACTION_26WK, TABLE_12WK

D = Decimal

def pairs(template, baseline) -> list[tuple[int, Decimal]]:
    return [(s.day, s.dose_mg) for s in generate_schedule(template, D(baseline))]


def test_table_steps_are_the_published_doses_whatever_the_baseline():
    assert pairs(TABLE_12WK, 20) == [(15, D(15)), (43, D(10)), (71, D("2.5"))]
    assert pairs(TABLE_12WK, 40) == pairs(TABLE_12WK, 20)


def test_5_mg_every_other_day_is_a_daily_peq_of_2_5():
    assert TableStep(71, D(5), "QOD").daily_mg(D(20), D("0.5")) == D("2.5")


@pytest.mark.parametrize(("mg", "frequency", "daily"), [
    ("5", "QD", "5"),
    ("5", "BID", "10"),
    ("2.5", "TID", "7.5"),
    ("1", "QID", "4"),
    ("35", "QW", "5"),
    ("7", "QW", "1"),
    ("10", "QW", "1.429"),   # 10/7 stored to the microgram
])
def test_table_dose_times_frequency_is_the_daily_peq(mg, frequency, daily):
    assert TableStep(1, D(mg), frequency).daily_mg(D(20), D("0.5")) == D(daily)


def test_fraction_rows_are_baseline_times_fraction_rounded_to_round_to_mg():
    # B = 17: 13.6 -> 13.5, 10.2 -> 10, 8.5 -> 8.5, 6.8 -> 7.
    assert pairs(FRACTION_26WK, 17) == [(29, D("13.5")), (57, D(10)), (99, D("8.5")),
                                        (141, D(7))]


def test_fraction_rows_round_halves_up():
    # 12.5 * 0.5 = 6.25: halves up to 6.5 (banker's rounding would give 6).
    t = TableTemplate("f", "f", (TableStep(29, fraction=D("0.5")),))
    assert pairs(t, "12.5") == [(29, D("6.5"))]


def test_fraction_rows_use_the_templates_round_to_mg():
    t = TableTemplate("f", "f", (TableStep(29, fraction=D("0.3")),), round_to_mg=D("2.5"))
    # 22 * 0.3 = 6.6 -> nearest multiple of 2.5 is 7.5.
    assert pairs(t, 22) == [(29, D("7.5"))]


def test_fraction_and_dose_rows_can_be_mixed():
    t = TableTemplate("m", "m", (TableStep(8, fraction=D("0.5")), TableStep(29, D(0))))
    assert pairs(t, 30) == [(8, D(15)), (29, D(0))]


def test_table_steps_are_ordered_by_day():
    t = TableTemplate("u", "u", (TableStep(43, D(10)), TableStep(15, D(15))))
    assert [day for day, _ in pairs(t, 20)] == [15, 43]


def test_table_steps_are_template_steps_not_amendments():
    assert all(s.amendment_seq is None for s in generate_schedule(TABLE_12WK, D(20)))


def test_table_schedule_needs_a_positive_baseline():
    with pytest.raises(ValueError, match="baseline"):
        generate_schedule(TABLE_12WK, D(0))
