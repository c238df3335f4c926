"""Every figure of domain.md §5 as the contract words it: one day at a time, in exact
arithmetic (Fractions), no arrays.

This is the page to read to know what a figure means, and the oracle the fast code is
tested against (``doses.daily_series_many``, ``figures.analyse_cohort`` and the study
curves: tests/unit/domain/test_definitions.py). Nothing in the application calls it: a
loop over every day and every record is far too slow for a study, and exact sums are
what floats can only approach.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from .doses import DoseFacts
from .equivalence import EquivalenceTable, per_day
from .figures import MIN_WINDOW_DAYS, WINDOW_DAYS, FigureSettings
from .schedule import ScheduleStep
from .studyday import date_of_day, study_day

#: "Comparisons allow 0.001 mg of rounding" (§5).
ALLOWANCE = Fraction(1, 1000)


# ------------------------------------------------------------------ §3 dose records


def record_peq_per_day(record: DoseFacts, table: EquivalenceTable) -> Fraction:
    """What a record adds on each day it covers: dose_mg × per_day(frequency) × factor(drug);
    a ONCE record adds dose_mg × factor(drug) on its one day."""
    return Fraction(record.dose_ug, 1000) * per_day(record.frequency) * table.factor(record.drug)


def covers(record: DoseFacts, day: date, as_of: date) -> bool:
    """Whether a valid record covers ``day``: from its start date to its end date inclusive,
    an ongoing one up to ``as_of``, a ONCE record its start date only."""
    if record.voided:
        return False
    if record.frequency.upper() == "ONCE":
        return day == record.start_date
    last = record.end_date if record.end_date is not None else as_of
    return record.start_date <= day <= last


def actual_dose(records: Sequence[DoseFacts], table: EquivalenceTable, day: date,
                as_of: date) -> Fraction | None:
    """A(d): the sum of what every valid record covering ``day`` adds; None when no record
    covers it (missing, which is not zero)."""
    covering = [r for r in records if covers(r, day, as_of)]
    if not covering:
        return None
    return sum((record_peq_per_day(r, table) for r in covering), Fraction(0))


# ------------------------------------------------------------------ §4 the schedule


def scheduled_dose(steps: Sequence[ScheduleStep], baseline_mg: Decimal, day: int) -> Fraction:
    """S(d): the dose of the last step (in day order) whose day is on or before ``day``;
    before the first step, the baseline B."""
    dose = Fraction(baseline_mg)
    for step in steps:
        if step.day <= day:
            dose = Fraction(step.dose_mg)
    return dose


# ------------------------------------------------------------------ §5 the figures


def reduction_pct(baseline: Fraction, dose: Fraction) -> Fraction:
    """% reduction of ``dose`` from the baseline: 100 × (B - dose) / B."""
    return 100 * (baseline - dose) / baseline


def round_half_up(value: Fraction, places: int) -> Fraction:
    """The reported value (mg to 3 places, % to 1), halves away from zero."""
    scale = 10 ** places
    magnitude = Fraction(math.floor(abs(value) * scale + Fraction(1, 2)), scale)
    return magnitude if value >= 0 else -magnitude


def deviation(actual: Fraction | None, scheduled: Fraction, tolerance: Fraction) -> int:
    """+1 a day above the schedule (A > S + tol), -1 below (A < S - tol), 0 on it or
    missing; each comparison allowing 0.001 mg of rounding."""
    if actual is None:
        return 0
    if actual - scheduled - tolerance > ALLOWANCE:
        return 1
    if scheduled - tolerance - actual > ALLOWANCE:
        return -1
    return 0


@dataclass(frozen=True)
class DefinedDay:
    """One study day from Day 1, with every per-day value of §5 (None: does not exist)."""

    study_day: int
    actual: Fraction | None
    scheduled: Fraction
    reduction_pct: Fraction | None
    window_reduction_pct: Fraction | None
    cumulative: Fraction             # Σ A over the observed days so far
    scheduled_cumulative: Fraction   # Σ S over the same days
    baseline_cumulative: Fraction    # B on each of the same days: "the baseline continued"
    deviation: int


@dataclass(frozen=True)
class DefinedFigures:
    """A patient's figures as of T, as §5 defines them (names as in PatientFigures)."""

    as_of_day: int
    observed_days: int
    missing_days: int
    actual_mg: Fraction | None
    scheduled_mg: Fraction
    reduction_pct: Fraction | None
    window_reduction_pct: Fraction | None
    cumulative_mg: Fraction
    scheduled_cumulative_mg: Fraction
    cumulative_reduction_pct: Fraction | None
    spared_mg: Fraction
    deviation_days_above: int
    deviation_days_below: int
    episodes: tuple[tuple[str, int, int], ...]  # (above|below, first day, last day)
    days_to_target_dose: int | None
    target_status: str
    target_window_reduction_pct: Fraction | None
    last_status: str
    days: tuple[DefinedDay, ...]   # Day 1 .. day(T)


def window_reduction(actuals: Sequence[Fraction | None],
                     baseline: Fraction) -> Fraction | None:
    """The 28-day window % reduction on the last day of ``actuals`` (A from Day 1): from the
    mean A over the observed days of the 28 days ending there (fewer before Day 28); None
    when fewer than 14 of them are observed."""
    window = [a for a in actuals[-WINDOW_DAYS:] if a is not None]
    if len(window) < MIN_WINDOW_DAYS:
        return None
    return reduction_pct(baseline, sum(window, Fraction(0)) / len(window))


def figures_by_definition(records: Sequence[DoseFacts], steps: Sequence[ScheduleStep],
                          baseline_mg: Decimal, day1: date, as_of: date,
                          settings: FigureSettings, table: EquivalenceTable) -> DefinedFigures:
    """Every figure of §5 for one patient as of ``as_of`` (T): Day 1 onwards only."""
    baseline = Fraction(baseline_mg)
    tolerance = Fraction(settings.tolerance_mg)
    as_of_day = study_day(as_of, day1)
    days: list[DefinedDay] = []
    actuals: list[Fraction | None] = []
    cumulative = scheduled_cumulative = baseline_cumulative = Fraction(0)
    for day in range(1, as_of_day + 1):
        actual = actual_dose(records, table, date_of_day(day, day1), as_of)
        actuals.append(actual)
        scheduled = scheduled_dose(steps, baseline_mg, day)
        if actual is not None:
            cumulative += actual
            scheduled_cumulative += scheduled
            baseline_cumulative += baseline
        days.append(DefinedDay(day, actual, scheduled,
                               None if actual is None else reduction_pct(baseline, actual),
                               window_reduction(actuals, baseline), cumulative,
                               scheduled_cumulative, baseline_cumulative,
                               deviation(actual, scheduled, tolerance)))
    observed = sum(1 for d in days if d.actual is not None)
    target = target_status(days, as_of_day, settings)
    last = days[-1] if days else None
    actual_now = last.actual if last is not None else None
    return DefinedFigures(
        as_of_day=as_of_day,
        observed_days=observed,
        missing_days=len(days) - observed,
        actual_mg=actual_now,
        scheduled_mg=scheduled_dose(steps, baseline_mg, as_of_day),
        reduction_pct=None if actual_now is None else reduction_pct(baseline, actual_now),
        window_reduction_pct=last.window_reduction_pct if last is not None else None,
        cumulative_mg=cumulative,
        scheduled_cumulative_mg=scheduled_cumulative,
        cumulative_reduction_pct=(None if observed == 0
                                  else 100 * (1 - cumulative / (baseline * observed))),
        spared_mg=baseline * observed - cumulative,
        deviation_days_above=sum(1 for d in days if d.deviation > 0),
        deviation_days_below=sum(1 for d in days if d.deviation < 0),
        episodes=deviation_episodes([d.deviation for d in days]),
        days_to_target_dose=days_to_target_dose(days, settings),
        target_status=target[0],
        target_window_reduction_pct=target[1],
        last_status=("missing" if actual_now is None or last is None else
                     {1: "above", -1: "below", 0: "on_schedule"}[last.deviation]),
        days=tuple(days),
    )


def deviation_episodes(deviations: Sequence[int]) -> tuple[tuple[str, int, int], ...]:
    """Maximal runs of consecutive deviation days in one direction (a missing day, which is
    no deviation, ends a run); days numbered from Day 1."""
    episodes: list[tuple[str, int, int]] = []
    for day, value in enumerate(deviations, start=1):
        if value == 0:
            continue
        direction = "above" if value > 0 else "below"
        if episodes and episodes[-1][0] == direction and episodes[-1][2] == day - 1:
            episodes[-1] = (direction, episodes[-1][1], day)
        else:
            episodes.append((direction, day, day))
    return tuple(episodes)


def days_to_target_dose(days: Sequence[DefinedDay], settings: FigureSettings) -> int | None:
    """The first study day with A(d) <= the protocol's target dose, if it sets one."""
    if settings.target_dose_mg is None:
        return None
    target = Fraction(settings.target_dose_mg)
    for d in days:
        if d.actual is not None and d.actual - target <= ALLOWANCE:
            return d.study_day
    return None


def target_status(days: Sequence[DefinedDay], as_of_day: int,
                  settings: FigureSettings) -> tuple[str, Fraction | None]:
    """§5.1: pending before the target day (with the window figure so far); then, from the
    28-day window reduction at the target day as reported (to 0.1 %), met or not met, or
    not evaluable when that window has fewer than 14 observed days."""
    if as_of_day < settings.target_day:
        so_far = days[-1].window_reduction_pct if days else None
        return "pending", so_far
    window = days[settings.target_day - 1].window_reduction_pct
    if window is None:
        status = "not_evaluable"
    elif round_half_up(window, 1) >= Fraction(settings.target_reduction_pct):
        status = "met"
    else:
        status = "not_met"
    return status, window


# ------------------------------------------------------------------ the study's figures


def median_curve(window_curves: Sequence[Sequence[Fraction | None]],
                 min_patients: int = 3) -> list[Fraction | None]:
    """The study's median 28-day window reduction on each study day (index 0 is Day 1): the
    middle value of the patients who have one that day (the mean of the two middle values
    for an even count); None on a day with fewer than ``min_patients`` values."""
    longest = max((len(c) for c in window_curves), default=0)
    medians: list[Fraction | None] = []
    for i in range(longest):
        values = sorted(v for c in window_curves if i < len(c)
                        for v in [c[i]] if v is not None)
        if len(values) < min_patients:
            medians.append(None)
            continue
        middle = len(values) // 2
        medians.append(values[middle] if len(values) % 2
                       else (values[middle - 1] + values[middle]) / 2)
    return medians


def met_of_reached(statuses: Sequence[str]) -> tuple[int, int, Fraction | None]:
    """Met, reached and met of reached %: among the patients whose target day has come (met,
    not met or not evaluable), the share who met the target."""
    met = sum(1 for s in statuses if s == "met")
    reached = sum(1 for s in statuses if s in ("met", "not_met", "not_evaluable"))
    return met, reached, None if not reached else Fraction(100 * met, reached)

