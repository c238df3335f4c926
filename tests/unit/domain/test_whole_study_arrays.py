"""The whole-study computation (every patient's series, curves and figures in one set of
arrays) equals, bit for bit, each patient computed alone. What the figures are is
test_definitions.py: both are checked against the readable definition there."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain import definitions
from taper_app.domain.doses import DoseRecord, daily_series, daily_series_many
from taper_app.domain.figures import (
    FigureSettings,
    analyse_cohort,
    compute_figures,
    deviation_episodes,
    taper_curves,
)
from taper_app.domain.schedule import ScheduleStep

from .builders import STANDARD

DRUGS = ("prednisone", "Dexamethasone", "methylprednisolone", "hydrocortisone")
FREQUENCIES = ("QD", "BID", "QOD", "QW", "ONCE", "once")
EPOCH = date(2024, 3, 1)


@st.composite
def records(draw: st.DrawFn, day1: date) -> DoseRecord:
    start = day1 + timedelta(days=draw(st.integers(-60, 420)))
    end = draw(st.one_of(st.none(), st.integers(-3, 200).map(
        lambda n: start + timedelta(days=n))))
    return DoseRecord(draw(st.sampled_from(DRUGS)), draw(st.integers(0, 80_000)),
                      draw(st.sampled_from(FREQUENCIES)), "PO", start, end,
                      draw(st.booleans()), None)


@st.composite
def patients(draw: st.DrawFn) -> tuple[list[DoseRecord], date, list[ScheduleStep], Decimal]:
    day1 = EPOCH + timedelta(days=draw(st.integers(0, 300)))
    doses = draw(st.lists(records(day1), max_size=25))
    steps = [ScheduleStep(day, Decimal(ug) / 1000) for day, ug in draw(st.lists(
        st.tuples(st.integers(-5, 400), st.integers(0, 60_000)), max_size=8))]
    if draw(st.booleans()):  # a schedule is in day order; the code must not depend on it
        steps.sort(key=lambda s: s.day)
    baseline = Decimal(draw(st.integers(1, 60_000))) / 1000
    return doses, day1, steps, baseline


figure_settings = st.builds(
    FigureSettings,
    target_reduction_pct=st.sampled_from([Decimal(50), Decimal("33.3")]),
    target_day=st.integers(1, 300),
    tolerance_mg=st.sampled_from([Decimal(0), Decimal("0.5")]),
    target_dose_mg=st.sampled_from([None, Decimal(5), Decimal("7.5")]))


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_curves(new, old) -> None:
    for name in old.__dataclass_fields__:  # baseline_cumulative too
        assert same_array(getattr(new, name), getattr(old, name)), name


def assert_same_series(new, old) -> None:
    assert (new.day1, new.first_date, new.as_of) == (old.day1, old.first_date, old.as_of)
    assert same_array(new.actual, old.actual)
    assert same_array(new.covered, old.covered)


@settings(max_examples=150, deadline=None)
@given(st.lists(patients(), min_size=1, max_size=6), figure_settings,
       st.integers(-40, 520))
def test_every_patient_at_once_equals_each_patient_alone(cohort, s, as_of_offset):
    as_of = EPOCH + timedelta(days=as_of_offset)
    series = daily_series_many([p[0] for p in cohort], STANDARD, [p[1] for p in cohort], as_of)
    results = analyse_cohort(series, [p[2] for p in cohort], [p[3] for p in cohort], s)
    for (doses, day1, steps, baseline), new_series, (curves, figures) in zip(
            cohort, series, results, strict=True):
        alone = daily_series(doses, STANDARD, day1, as_of)
        assert_same_series(new_series, alone)
        alone_curves = taper_curves(alone, steps, baseline, s)
        assert_same_curves(curves, alone_curves)
        assert compute_figures(alone, steps, baseline, s) == figures
        assert compute_figures(alone, steps, baseline, s, alone_curves) == figures


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 0, 1]), max_size=60))
def test_deviation_episodes_are_their_definition(values):
    deviation = np.array(values, dtype=np.int8)
    assert [(e.direction, e.first_day, e.last_day) for e in deviation_episodes(deviation)] == \
        list(definitions.deviation_episodes(values))


def test_no_patients_and_patients_without_days():
    assert analyse_cohort([], [], [], FigureSettings()) == []
    as_of = EPOCH
    later = EPOCH + timedelta(days=10)  # Day 1 after as_of: no days to count yet
    series = daily_series_many([[], []], STANDARD, [later, later], as_of)
    steps = [[ScheduleStep(1, Decimal(15))], []]
    results = analyse_cohort(series, steps, [Decimal(20), Decimal(20)], FigureSettings())
    for one, s, (curves, figures) in zip(series, steps, results, strict=True):
        alone = daily_series([], STANDARD, later, as_of)
        assert_same_series(one, alone)
        assert curves.study_days.size == 0
        assert figures == compute_figures(alone, s, Decimal(20), FigureSettings())
        defined = definitions.figures_by_definition([], s, Decimal(20), later, as_of,
                                                    FigureSettings(), STANDARD)
        assert defined.days == () and defined.scheduled_mg == figures.scheduled_mg
    assert results[0][1].scheduled_mg == 20.0 and results[0][1].target.status == "pending"
