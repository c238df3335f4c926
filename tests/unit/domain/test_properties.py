"""Properties of the engine that must hold for any records, schedule or template (hypothesis)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain.doses import DoseRecord
from taper_app.domain.equivalence import FREQUENCIES, STANDARD_FACTORS, per_day
from taper_app.domain.figures import FigureSettings, PatientFigures
from taper_app.domain.schedule import (
    Band,
    BandTemplate,
    ScheduleStep,
    TableStep,
    TableTemplate,
    generate_schedule,
)
from taper_app.domain.units import UG_PER_MG

from .builders import DAY1, STANDARD, dose, figures_as_of, follow, on, series_as_of

D = Decimal
FAST = settings(max_examples=60, deadline=None)

# --- Strategies -----------------------------------------------------------------------------

half_mg = st.integers(min_value=0, max_value=200).map(lambda n: D(n) / 2)      # 0 .. 100 mg
positive_half_mg = st.integers(min_value=1, max_value=200).map(lambda n: D(n) / 2)
study_days = st.integers(min_value=-15, max_value=90).filter(lambda d: d != 0)


@st.composite
def dose_records(draw) -> DoseRecord:
    frequency = draw(st.sampled_from(FREQUENCIES))
    start = DAY1 + timedelta(days=draw(st.integers(min_value=-15, max_value=80)))
    if frequency == "ONCE" or draw(st.booleans()):
        end = None
    else:
        end = start + timedelta(days=draw(st.integers(min_value=0, max_value=60)))
    return DoseRecord(
        drug=draw(st.sampled_from(sorted(STANDARD_FACTORS))),
        dose_ug=int(draw(half_mg) * UG_PER_MG),
        frequency=frequency,
        route="IV" if frequency == "ONCE" else "PO",
        start_date=start,
        end_date=end,
        voided=draw(st.integers(min_value=0, max_value=5)) == 0,
    )


@st.composite
def schedules(draw) -> list[ScheduleStep]:
    days = draw(st.lists(st.integers(min_value=1, max_value=90), max_size=6, unique=True))
    return [ScheduleStep(day, draw(half_mg)) for day in sorted(days)]


@st.composite
def figure_settings(draw) -> FigureSettings:
    return FigureSettings(
        target_reduction_pct=D(draw(st.integers(min_value=0, max_value=100))),
        target_day=draw(st.integers(min_value=1, max_value=90)),
        tolerance_mg=draw(st.integers(min_value=0, max_value=4).map(lambda n: D(n) / 2)),
        target_dose_mg=draw(st.none() | half_mg),
    )


@st.composite
def band_templates(draw) -> BandTemplate:
    aboves = draw(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=3,
                           unique=True))
    bands = []
    for above in aboves:
        interval = draw(st.integers(min_value=1, max_value=35))
        if draw(st.booleans()):
            step = D(draw(st.integers(min_value=1, max_value=20))) / 2
            bands.append(Band(D(above), interval, step_mg=step))
        else:
            pct = D(draw(st.integers(min_value=5, max_value=60)))
            bands.append(Band(D(above), interval, step_pct=pct))
    return BandTemplate(
        "generated", "generated", draw(st.integers(min_value=1, max_value=60)), tuple(bands),
        round_to_mg=D(draw(st.sampled_from(["0.1", "0.25", "0.5", "1", "2.5"]))),
        floor_mg=D(draw(st.integers(min_value=0, max_value=20))) / 2,
    )


@st.composite
def table_templates(draw) -> TableTemplate:
    days = draw(st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=8,
                         unique=True))
    steps = []
    for day in days:
        if draw(st.booleans()):
            fraction = D(draw(st.integers(min_value=0, max_value=100))) / 100
            steps.append(TableStep(day, fraction=fraction))
        else:
            frequency = draw(st.sampled_from(["QD", "BID", "TID", "QID", "QOD", "QW"]))
            steps.append(TableStep(day, draw(half_mg), frequency))
    return TableTemplate("generated", "generated", tuple(steps),
                         D(draw(st.sampled_from(["0.25", "0.5", "1"]))))


# --- Helpers ---------------------------------------------------------------------------------

def exact_cumulative(records: list[DoseRecord], as_of_day: int) -> Fraction:
    """Σ A(d) over Day 1..as_of, straight from the records, in exact arithmetic."""
    as_of = on(as_of_day)
    total = Fraction(0)
    for r in records:
        if r.voided:
            continue
        last = r.start_date if r.frequency == "ONCE" else (r.end_date or as_of)
        first, last = max(r.start_date, DAY1), min(last, as_of)
        days = (last - first).days + 1
        if days > 0:
            total += (Fraction(r.dose_ug, UG_PER_MG) * per_day(r.frequency)
                      * STANDARD.factor(r.drug) * days)
    return total


def assert_same_figures(a: PatientFigures, b: PatientFigures) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, float):
            assert y == pytest.approx(x, rel=1e-9, abs=1e-6), f.name
        elif f.name == "target":
            assert (x.day, x.status) == (y.day, y.status)
            assert (x.window_reduction_pct is None) == (y.window_reduction_pct is None)
            if x.window_reduction_pct is not None:
                assert y.window_reduction_pct == pytest.approx(x.window_reduction_pct, abs=1e-6)
        else:
            assert x == y, f.name


# --- Properties ------------------------------------------------------------------------------

@FAST
@given(records=st.lists(dose_records(), max_size=6), as_of_day=study_days,
       baseline=positive_half_mg)
def test_cumulative_dose_is_the_sum_of_the_daily_series_over_observed_days(records, as_of_day,
                                                                            baseline):
    f = figures_as_of(records, baseline, as_of_day)
    actual, covered = series_as_of(records, as_of_day).from_day1()
    assert f.cumulative_mg == pytest.approx(float(np.sum(actual[covered])), rel=1e-12, abs=1e-9)
    assert f.cumulative_mg == pytest.approx(float(exact_cumulative(records, as_of_day)),
                                            rel=1e-9, abs=1e-6)


@FAST
@given(records=st.lists(dose_records(), max_size=6), as_of_day=study_days,
       baseline=positive_half_mg, steps=schedules())
def test_missing_plus_observed_days_is_the_number_of_days_since_day1(records, as_of_day,
                                                                     baseline, steps):
    f = figures_as_of(records, baseline, as_of_day, steps)
    assert f.as_of_day == as_of_day
    assert f.missing_days + f.observed_days == max(0, as_of_day)
    assert f.missing_days >= 0
    assert (f.cumulative_reduction_pct is None) == (f.observed_days == 0)
    assert f.spared_mg == pytest.approx(float(baseline) * f.observed_days - f.cumulative_mg)


@FAST
@given(records=st.lists(dose_records(), min_size=1, max_size=5), as_of_day=study_days,
       baseline=positive_half_mg, steps=schedules(), fig_settings=figure_settings(),
       which=st.integers(min_value=0), split_after=st.integers(min_value=0, max_value=80))
def test_splitting_a_record_in_two_at_any_date_changes_no_figure(
        records, as_of_day, baseline, steps, fig_settings, which, split_after):
    r = records[which % len(records)]
    last = r.end_date or r.start_date + timedelta(days=120)
    if r.frequency == "ONCE" or last <= r.start_date:
        r = dataclasses.replace(r, frequency="QD", end_date=r.start_date + timedelta(days=1))
        records = [*records, r]
        last = r.end_date
    split = r.start_date + timedelta(days=1 + split_after % (last - r.start_date).days)
    first_part = dataclasses.replace(r, end_date=split - timedelta(days=1))
    second_part = dataclasses.replace(r, start_date=split)
    split_records = [x for x in records if x is not r] + [first_part, second_part]
    whole = figures_as_of(records, baseline, as_of_day, steps, fig_settings)
    halves = figures_as_of(split_records, baseline, as_of_day, steps, fig_settings)
    assert_same_figures(whole, halves)


@settings(max_examples=150, deadline=None)
@given(template=band_templates(), baseline=positive_half_mg)
def test_band_schedule_never_rises_and_never_goes_below_its_floor(template, baseline):
    steps = generate_schedule(template, baseline)
    doses = [baseline] + [s.dose_mg for s in steps]
    assert all(nxt < cur for cur, nxt in itertools.pairwise(doses))
    assert all(s.dose_mg >= template.floor_mg for s in steps)
    assert all(s.dose_mg >= 0 for s in steps)
    days = [s.day for s in steps]
    assert days == sorted(set(days))
    if steps:
        assert steps[0].day == template.taper_start_day
        end = steps[-1].dose_mg
        # The taper ends at the floor or when no band is left to reduce the dose.
        assert end >= template.floor_mg
        assert end == template.floor_mg or template.band(end) is None
    else:
        assert baseline <= template.floor_mg or template.band(baseline) is None


@FAST
@given(template=band_templates(), baseline=positive_half_mg,
       extra_days=st.integers(min_value=0, max_value=40), drug=st.sampled_from(
           ["prednisone", "prednisolone"]))
def test_following_a_generated_band_schedule_exactly_gives_no_deviation_day(
        template, baseline, extra_days, drug):
    steps = generate_schedule(template, baseline)
    as_of_day = (steps[-1].day if steps else template.taper_start_day) + extra_days
    f = figures_as_of(follow(steps, baseline, as_of_day, drug), baseline, as_of_day, steps)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)
    assert f.missing_days == 0
    assert f.scheduled_cumulative_mg == pytest.approx(f.cumulative_mg, rel=1e-12, abs=1e-6)
    assert f.last_status == "on_schedule"


@FAST
@given(template=table_templates(), baseline=positive_half_mg,
       extra_days=st.integers(min_value=0, max_value=40))
def test_following_a_table_exactly_with_its_own_frequencies_gives_no_deviation_day(
        template, baseline, extra_days):
    steps = generate_schedule(template, baseline)
    as_of_day = steps[-1].day + extra_days
    rows = sorted(template.steps, key=lambda s: s.day)
    records = [dose("prednisone", baseline, 1, rows[0].day - 1)] if rows[0].day > 1 else []
    for i, row in enumerate(rows):
        last = rows[i + 1].day - 1 if i + 1 < len(rows) else None
        if row.fraction is not None:
            records.append(dose("prednisone", row.daily_mg(baseline, template.round_to_mg),
                                row.day, last))
        else:
            records.append(dose("prednisone", row.dose_mg, row.day, last, row.frequency))
    f = figures_as_of(records, baseline, as_of_day, steps)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)
    assert f.missing_days == 0


@FAST
@given(records=st.lists(dose_records(), max_size=6), as_of_day=study_days,
       baseline=positive_half_mg)
def test_window_reduction_exists_exactly_when_14_of_the_last_28_days_are_observed(
        records, as_of_day, baseline):
    f = figures_as_of(records, baseline, as_of_day)
    _, covered = series_as_of(records, as_of_day).from_day1()
    assert (f.window_reduction_pct is not None) == (int(covered[-28:].sum()) >= 14)


@FAST
@given(records=st.lists(dose_records(), max_size=6), as_of_day=study_days,
       baseline=positive_half_mg)
def test_voiding_every_record_leaves_every_day_missing(records, as_of_day, baseline):
    voided = [dataclasses.replace(r, voided=True) for r in records]
    f = figures_as_of(voided, baseline, as_of_day)
    assert f.observed_days == 0
    assert f.cumulative_mg == 0.0
