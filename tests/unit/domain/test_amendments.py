"""Amendments: a flare, hold or re-escalation from study day D, then the taper resumes (§4.3)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from taper_app.domain.schedule import (
    Amendment,
    amend_schedule,
    generate_schedule,
    scheduled_doses,
)

from .builders import (
    FRACTION_26WK,
    STEPDOWN_A,
    STEPDOWN_SLOW,
    TABLE_12WK,
    dose,
    figures_as_of,
)

D = Decimal


def amend(steps, template, baseline, day, mg, seq=1):
    return amend_schedule(steps, template, D(baseline),
                          Amendment(day, D(mg), "flare: worse MMT-8 on two visits"), seq)


def triples(steps):
    return [(s.day, s.dose_mg, s.amendment_seq) for s in steps]


def test_band_amendment_keeps_earlier_steps_and_resumes_one_interval_after_d():
    original = generate_schedule(STEPDOWN_A, D(20))
    amended = amend(original, STEPDOWN_A, 20, 60, 20)
    expected = [(29, D(16), None), (43, D(13), None), (57, D("10.5"), None), (60, D(20), 1),
                # band(20) is the 20 %/14-day band: the taper resumes on Day 60 + 14.
                (74, D(16), 1), (88, D(13), 1), (102, D("10.5"), 1), (116, D(10), 1)]
    expected += [(144 + 28 * i, D(9 - i), 1) for i in range(10)]
    assert triples(amended) == expected


def test_band_amendment_interval_comes_from_the_band_of_the_new_dose():
    # X = 10 lies in the 1 mg / 28-day band: next step on Day 100 + 28.
    amended = amend(generate_schedule(STEPDOWN_A, D(20)), STEPDOWN_A, 20, 100, 10)
    assert triples(amended)[4:8] == [(99, D(9), None), (100, D(10), 1), (128, D(9), 1),
                                     (156, D(8), 1)]


def test_band_amendment_on_a_step_day_replaces_that_step():
    original = generate_schedule(STEPDOWN_A, D(20))
    amended = amend(original, STEPDOWN_A, 20, 57, "12")
    assert triples(amended)[:4] == [(29, D(16), None), (43, D(13), None), (57, D(12), 1),
                                    # 12 * 0.8 = 9.6 -> 9.5, but never below the 10 mg band.
                                    (71, D(10), 1)]


def test_band_amendment_to_zero_ends_the_taper():
    original = generate_schedule(STEPDOWN_A, D(20))
    assert triples(amend(original, STEPDOWN_A, 20, 50, 0)) == [
        (29, D(16), None), (43, D(13), None), (50, D(0), 1)]


def test_band_amendment_at_the_floor_holds_the_floor():
    original = generate_schedule(STEPDOWN_SLOW, D(20))
    assert triples(amend(original, STEPDOWN_SLOW, 20, 60, 5)) == [
        (43, D("17.5"), None), (57, D(15), None), (60, D(5), 1)]


def test_band_amendment_before_the_taper_starts_drops_every_template_step():
    original = generate_schedule(STEPDOWN_A, D(20))
    amended = amend(original, STEPDOWN_A, 20, 10, 15)
    # 15 -> 12 (Day 24) -> 9.6, rounded 9.5, held at the 10 mg band (Day 38) -> 9 (Day 66).
    assert triples(amended)[:4] == [(10, D(15), 1), (24, D(12), 1), (38, D(10), 1),
                                    (66, D(9), 1)]


def test_table_amendment_continues_with_later_steps_below_the_new_dose():
    original = generate_schedule(TABLE_12WK, D(20))
    amended = amend(original, TABLE_12WK, 20, 50, 15)
    assert triples(amended) == [(15, D(15), None), (43, D(10), None), (50, D(15), 1),
                                (71, D("2.5"), 1)]


def test_table_amendment_skips_later_steps_that_are_not_below_the_new_dose():
    original = generate_schedule(TABLE_12WK, D(20))
    amended = amend(original, TABLE_12WK, 20, 20, 10)
    # The Day 43 step (10 mg) is not below X = 10 and is dropped.
    assert triples(amended) == [(15, D(15), None), (20, D(10), 1), (71, D("2.5"), 1)]


def test_table_amendment_below_every_later_step_holds_the_new_dose():
    original = generate_schedule(TABLE_12WK, D(20))
    assert triples(amend(original, TABLE_12WK, 20, 50, 2)) == [
        (15, D(15), None), (43, D(10), None), (50, D(2), 1)]


def test_table_amendment_uses_fraction_rows_of_the_patients_baseline():
    original = generate_schedule(FRACTION_26WK, D(17))
    amended = amend(original, FRACTION_26WK, 17, 60, 12)
    # Later rows: Day 99 8.5 and Day 141 7 (B = 17) are below 12.
    assert triples(amended) == [(29, D("13.5"), None), (57, D(10), None), (60, D(12), 1),
                                (99, D("8.5"), 1), (141, D(7), 1)]


def test_a_later_amendment_builds_on_the_earlier_one():
    first = amend(generate_schedule(STEPDOWN_A, D(20)), STEPDOWN_A, 20, 60, 20, seq=1)
    second = amend(first, STEPDOWN_A, 20, 80, 16, seq=2)
    assert triples(second)[:7] == [(29, D(16), None), (43, D(13), None), (57, D("10.5"), None),
                                   (60, D(20), 1), (74, D(16), 1), (80, D(16), 2),
                                   (94, D(13), 2)]


def test_an_amendment_before_an_earlier_one_replaces_it_from_its_day():
    first = amend(generate_schedule(STEPDOWN_A, D(20)), STEPDOWN_A, 20, 60, 20, seq=1)
    second = amend(first, STEPDOWN_A, 20, 50, 13, seq=2)
    assert all(s.amendment_seq != 1 for s in second)
    assert triples(second)[:4] == [(29, D(16), None), (43, D(13), None), (50, D(13), 2),
                                   (64, D("10.5"), 2)]


def test_amended_schedule_days_stay_in_order_for_the_scheduled_dose():
    amended = amend(generate_schedule(STEPDOWN_A, D(20)), STEPDOWN_A, 20, 60, 20)
    days = [s.day for s in amended]
    assert days == sorted(days)
    s = scheduled_doses(amended, 20.0, np.array([59, 60, 73, 74]))
    assert s.tolist() == [10.5, 20.0, 20.0, 16.0]


def test_a_patient_who_follows_the_amended_schedule_has_no_deviation():
    amended = amend(generate_schedule(TABLE_12WK, D(20)), TABLE_12WK, 20, 50, 15)
    records = [dose("prednisone", "20", 1, 14), dose("prednisone", "15", 15, 42),
               dose("prednisone", "10", 43, 49), dose("prednisone", "15", 50, 70),
               dose("prednisone", "5", 71, frequency="QOD")]
    f = figures_as_of(records, 20, 90, amended)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)
    assert f.scheduled_cumulative_mg == f.cumulative_mg
