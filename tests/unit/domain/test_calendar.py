"""The calendar's daily doses against S(d) of the figures (domain.md §8): band, table,
fraction and QOD steps, and amendments. The calendar and the figures never disagree."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain.calendar import build_calendar
from taper_app.domain.equivalence import STANDARD_FACTORS
from taper_app.domain.protocol import DEFAULT_TABLETS
from taper_app.domain.schedule import (
    Amendment,
    ScheduleStep,
    TableStep,
    TableTemplate,
    amend_schedule,
    generate_schedule,
    scheduled_doses,
)
from taper_app.domain.studyday import date_of_day, study_day
from tests.unit.domain.builders import DAY1, FRACTION_26WK, STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK

D = Decimal
PREDNISONE = DEFAULT_TABLETS["prednisone"]
TEMPLATES = (STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK, FRACTION_26WK)
#: A table with every frequency a step may be written with.
EVERY_FREQUENCY = TableTemplate("every", "Every frequency", (
    TableStep(8, D(10), "BID"), TableStep(22, D(15)), TableStep(36, D(10), "QOD"),
    TableStep(50, D(35), "QW"), TableStep(71, D("2.5"), "TID"), TableStep(85, D(0))))


def calendar(steps, baseline, first_day, days, drug="prednisone", day1=DAY1):
    return build_calendar(steps, D(baseline), day1, date_of_day(first_day, day1), days, drug,
                          STANDARD_FACTORS[drug], DEFAULT_TABLETS.get(drug, ()))


def figures_s(steps, baseline, days: list[int]) -> list[float]:
    """S(d) as the figures compute it (the vectorised function every figure uses)."""
    return list(scheduled_doses(steps, float(baseline), np.array(days, dtype=np.int64)))


def check_against_figures(steps: list[ScheduleStep], baseline, first_day: int, days: int,
                          drug: str = "prednisone") -> None:
    """Every day: S(d) as printed equals the figures'; the drug's dose times its factor is
    S(d) on a daily step; on a QOD step it is 2 S(d) on the step's days and 0 between, so
    each pair of days averages S(d); a QW step's dose is 7 S(d) once a week."""
    cal = calendar(steps, baseline, first_day, days, drug)
    factor = STANDARD_FACTORS[drug]
    study_days = [line.study_day for line in cal.days]
    expected = figures_s(steps, baseline, study_days)
    for line, s in zip(cal.days, expected, strict=True):
        assert float(line.scheduled_peq_mg) == pytest.approx(s, abs=1e-9), line
        step = next((x for x in reversed(steps) if x.day <= line.study_day), None)
        frequency = step.frequency if step is not None else "QD"
        taken_peq = Fraction(line.dose_mg) * factor
        if frequency == "QOD":
            on = (line.study_day - step.day) % 2 == 0
            assert taken_peq == (2 * Fraction(line.scheduled_peq_mg) if on else 0), line
        elif frequency == "QW":
            on = (line.study_day - step.day) % 7 == 0
            assert taken_peq == (7 * Fraction(line.scheduled_peq_mg) if on else 0), line
        else:
            assert taken_peq == Fraction(line.scheduled_peq_mg), line


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
@pytest.mark.parametrize("baseline", ["5", "7.5", "12.5", "20", "25", "40"])
def test_each_template_s_of_d_over_the_first_year(template, baseline):
    steps = generate_schedule(template, D(baseline))
    check_against_figures(steps, baseline, 1, 365)


def test_the_qod_step_is_the_dose_on_alternate_days_and_none_between():
    steps = generate_schedule(TABLE_12WK, D(20))
    assert steps[-1] == ScheduleStep(71, D("2.5"), None, "QOD", D(5))
    cal = calendar(steps, 20, 69, 8)
    assert [(line.study_day, line.dose_mg, line.none) for line in cal.days] == [
        (69, 10, False), (70, 10, False), (71, 5, False), (72, 0, True), (73, 5, False),
        (74, 0, True), (75, 5, False), (76, 0, True)]
    assert [line.tablets.text() if line.tablets else None for line in cal.days[2:4]] == [
        "1 x 5 mg", ""]
    assert [line.new_dose for line in cal.days] == [False, False, True, False, False, False,
                                                     False, False]
    # Its figures stay half the dose each day.
    assert {line.scheduled_peq_mg for line in cal.days[2:]} == {D("2.5")}
    assert "every other day" in cal.days[2].note()
    assert cal.days[3].note() == "none today"


def test_a_calendar_starting_inside_a_qod_stretch_keeps_the_steps_parity():
    steps = generate_schedule(TABLE_12WK, D(20))
    cal = calendar(steps, 20, 72, 4)  # day 72 is a day off (71 was a dose day)
    assert [line.dose_mg for line in cal.days] == [0, 5, 0, 5]
    assert not any(line.new_dose for line in cal.days)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
@pytest.mark.parametrize(("day", "dose"), [(30, "15"), (60, "12.5"), (80, "20"), (120, "7.5"),
                                           (75, "5")])
def test_amended_schedules(template, day, dose):
    steps = generate_schedule(template, D(20))
    amended = amend_schedule(steps, template, D(20), Amendment(day, D(dose), "flare"), 1)
    check_against_figures(amended, 20, 1, 240)
    cal = calendar(amended, 20, day - 2, 5)
    assert cal.days[2].new_dose == (Fraction(cal.days[1].dose_mg) != Fraction(D(dose))
                                    or cal.days[1].every != 1)
    assert cal.days[2].dose_mg == D(dose)


def test_twice_amended_table_keeps_the_qod_step_after_the_amendment():
    steps = generate_schedule(TABLE_12WK, D(20))
    once = amend_schedule(steps, TABLE_12WK, D(20), Amendment(50, D(12), "flare"), 1)
    assert once[-1] == ScheduleStep(71, D("2.5"), 1, "QOD", D(5))
    twice = amend_schedule(once, TABLE_12WK, D(20), Amendment(60, D(8), "again"), 2)
    check_against_figures(twice, 20, 40, 60)


def test_every_frequency_a_step_may_have():
    steps = generate_schedule(EVERY_FREQUENCY, D(20))
    check_against_figures(steps, 20, 1, 120)
    cal = calendar(steps, 20, 8, 1)
    (bid,) = cal.days
    assert (bid.dose_mg, bid.times, bid.tablets.text()) == (20, 2, "1 x 10 mg")
    assert bid.note() == "new dose from today; 10 mg twice a day"
    weekly = calendar(steps, 20, 50, 8).days
    assert [line.dose_mg for line in weekly] == [35, 0, 0, 0, 0, 0, 0, 35]
    assert weekly[0].tablets.text() == "1 x 20 mg + 1 x 10 mg + 1 x 5 mg"
    tid = calendar(steps, 20, 71, 1).days[0]
    assert (tid.dose_mg, tid.times, tid.tablets.text()) == (D("7.5"), 3, "1 x 2.5 mg")
    zero = calendar(steps, 20, 85, 2).days
    assert [(line.none, line.new_dose, line.tablets.text()) for line in zero] == [
        (True, True, ""), (True, False, "")]


@pytest.mark.parametrize("drug", ["prednisolone", "methylprednisolone", "dexamethasone",
                                  "hydrocortisone", "deflazacort", "triamcinolone"])
def test_another_drug_is_s_of_d_divided_by_its_factor(drug):
    for template in TEMPLATES:
        steps = generate_schedule(template, D(20))
        check_against_figures(steps, 20, 1, 200, drug)


def test_methylprednisolone_tablets_and_doses_no_tablet_makes():
    steps = [ScheduleStep(1, D(20)), ScheduleStep(15, D(15)), ScheduleStep(29, D("12.5")),
             ScheduleStep(43, D("1.25"))]
    days = calendar(steps, 20, 1, 43, "methylprednisolone").days
    assert (days[0].dose_mg, days[0].tablets.text()) == (16, "1 x 16 mg")
    assert (days[14].dose_mg, days[14].tablets.text()) == (12, "1 x 8 mg + 1 x 4 mg")
    assert (days[28].dose_mg, days[28].tablets.text()) == (10, "1 x 8 mg + 1 x 2 mg")
    # 1.25 mg PEQ is 1 mg methylprednisolone: the smallest tablet is 2 mg
    assert (days[42].dose_mg, days[42].tablets, days[42].new_dose) == (1, None, True)
    assert "ask your study nurse" in days[42].note()


def test_a_drug_with_no_strengths_asks_the_nurse_every_day():
    cal = calendar([ScheduleStep(1, D(10))], 10, 1, 3, "triamcinolone")
    assert [line.dose_mg for line in cal.days] == [8, 8, 8]
    assert cal.days_to_ask == cal.days
    assert "ask your study nurse" in cal.days[0].note()


def test_an_inexact_dose_of_the_drug_is_never_rounded_into_tablets():
    # A protocol factor of 3 makes 10 mg PEQ 3.333... mg of the drug.
    cal = build_calendar([ScheduleStep(1, D(10))], D(10), DAY1, DAY1, 2, "x", Fraction(3),
                         (D(1), D("0.5")))
    assert not cal.days[0].exact
    assert cal.days[0].tablets is None
    assert cal.days[0].dose_mg == D("3.333")


def test_before_day_1_and_before_the_first_step_the_dose_is_the_baseline():
    steps = generate_schedule(STEPDOWN_A, D(20))
    first = DAY1 - timedelta(days=3)
    cal = build_calendar(steps, D(20), DAY1, first, 5, "prednisone", Fraction(1), PREDNISONE)
    assert [line.study_day for line in cal.days] == [-3, -2, -1, 1, 2]
    assert {line.dose_mg for line in cal.days} == {20}
    assert not any(line.new_dose for line in cal.days)


@settings(max_examples=150, deadline=None)
@given(template=st.sampled_from((*TEMPLATES, EVERY_FREQUENCY)),
       baseline_halves=st.integers(min_value=10, max_value=80),
       amendments=st.lists(st.tuples(st.integers(2, 300), st.integers(0, 60)), max_size=3),
       first_day=st.integers(-10, 400), weeks=st.integers(1, 8),
       drug=st.sampled_from(sorted(STANDARD_FACTORS)),
       day1=st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_property_calendar_and_figures_never_disagree(template, baseline_halves, amendments,
                                                      first_day, weeks, drug, day1):
    baseline = D(baseline_halves) / 2
    steps = generate_schedule(template, baseline)
    for seq, (day, halves) in enumerate(sorted(amendments), start=1):
        steps = amend_schedule(steps, template, baseline, Amendment(day, D(halves) / 2, "r"),
                               seq)
    if first_day == 0:
        first_day = 1
    cal = build_calendar(steps, baseline, day1, date_of_day(first_day, day1), 7 * weeks, drug,
                         STANDARD_FACTORS[drug], DEFAULT_TABLETS.get(drug, ()))
    expected = figures_s(steps, baseline, [line.study_day for line in cal.days])
    for offset, (line, s) in enumerate(zip(cal.days, expected, strict=True)):
        assert line.date == date_of_day(first_day, day1) + timedelta(days=offset)
        assert line.study_day == study_day(line.date, day1)
        assert float(line.scheduled_peq_mg) == pytest.approx(s, abs=1e-9)
        if line.tablets is not None:
            assert line.tablets.total_mg * line.times == line.dose_mg
