"""The per-patient figures as they were computed before the whole-study arrays (commit
70f88b3), kept verbatim as the oracle that the vectorised code must equal bit for bit."""

# ruff: noqa
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import numpy as np

from taper_app.domain.doses import DailySeries, DoseFacts
from taper_app.domain.equivalence import EquivalenceTable, per_day
from taper_app.domain.figures import (
    MIN_WINDOW_DAYS,
    WINDOW_DAYS,
    DeviationEpisode,
    FigureSettings,
    PatientFigures,
    TaperCurves,
    TargetStatus,
)
from taper_app.domain.schedule import ScheduleStep, scheduled_doses
from taper_app.domain.studyday import study_day
from taper_app.domain.units import MG_COMPARE, UG_PER_MG, round_half_up


def daily_series(records: Sequence[DoseFacts], table: EquivalenceTable, day1: date,
                 as_of: date) -> DailySeries:
    """Build A(d) from every valid record, from the earliest record (or Day 1) to ``as_of``."""
    valid = [r for r in records if not r.voided and r.start_date <= as_of]
    first = min([day1, *(r.start_date for r in valid)])
    length = max(0, (as_of - first).days + 1)
    # mg PEQ per µg of drug per day, once per (drug, frequency): exact Fractions, then float.
    rate = {key: float(per_day(key[1]) * table.factor(key[0]) / UG_PER_MG)
            for key in {(r.drug, r.frequency) for r in valid}}
    # Day numbers as ordinals, gathered in one pass each (a daily diary has a record a day).
    base = first.toordinal()
    as_of_ordinal = as_of.toordinal()
    count_valid = len(valid)
    starts = np.fromiter((r.start_date.toordinal() for r in valid), np.int64, count_valid)
    last = np.fromiter((r.start_date.toordinal() if r.frequency.upper() == "ONCE"
                        else as_of_ordinal if r.end_date is None else r.end_date.toordinal()
                        for r in valid), np.int64, count_valid)
    amounts = np.fromiter((r.dose_ug * rate[(r.drug, r.frequency)] for r in valid),
                          np.float64, count_valid)
    starts = starts - base
    ends = np.minimum(last, as_of_ordinal) - base + 1
    keep = ends > starts
    starts, ends, amounts = starts[keep], ends[keep], amounts[keep]
    total = np.zeros(length + 1, dtype=np.float64)
    count = np.zeros(length + 1, dtype=np.int64)
    np.add.at(total, starts, amounts)
    np.add.at(total, ends, -amounts)
    np.add.at(count, starts, 1)
    np.add.at(count, ends, -1)
    covered = np.cumsum(count[:length]) > 0
    # Rounding to 1e-9 mg removes the float residue that add/subtract pairs leave behind.
    actual = np.round(np.cumsum(total[:length]), 9) + 0.0
    actual[~covered] = np.nan
    return DailySeries(day1=day1, first_date=first, as_of=as_of, actual=actual, covered=covered)


def _curves(series: DailySeries, steps: Sequence[ScheduleStep], baseline: float,
            tolerance: float) -> TaperCurves:
    actual, covered = series.from_day1()
    n = actual.size
    days = np.arange(1, n + 1, dtype=np.int64)
    sched = scheduled_doses(steps, baseline, days)
    a0 = np.where(covered, actual, 0.0)
    cum = np.cumsum(a0)
    sched_cum = np.cumsum(np.where(covered, sched, 0.0))
    # 28-day window means through cumulative sums: value and count of observed days.
    csum = np.concatenate(([0.0], cum))
    ccnt = np.concatenate(([0], np.cumsum(covered.astype(np.int64))))
    lo = np.maximum(np.arange(n) - WINDOW_DAYS + 1, 0)
    hi = np.arange(n) + 1
    wcount = ccnt[hi] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        wmean = (csum[hi] - csum[lo]) / wcount
    window = np.where(wcount >= MIN_WINDOW_DAYS, 100.0 * (baseline - wmean) / baseline, np.nan)
    daily = np.where(covered, 100.0 * (baseline - a0) / baseline, np.nan)
    above = covered & (a0 - sched - tolerance > MG_COMPARE)
    below = covered & (sched - tolerance - a0 > MG_COMPARE)
    deviation = above.astype(np.int8) - below.astype(np.int8)
    return TaperCurves(days, np.where(covered, a0, np.nan), sched, daily, window, cum,
                       sched_cum, deviation)


def taper_curves(series: DailySeries, steps: Sequence[ScheduleStep], baseline_mg: Decimal,
                 settings: FigureSettings) -> TaperCurves:
    return _curves(series, steps, float(baseline_mg), float(settings.tolerance_mg))


def deviation_episodes(deviation: np.ndarray) -> list[DeviationEpisode]:
    """Maximal runs of consecutive deviation days in one direction (a missing day ends a run)."""
    if deviation.size == 0:
        return []
    d = deviation.astype(np.int8)
    prev = np.concatenate(([0], d[:-1]))
    nxt = np.concatenate((d[1:], [0]))
    starts = np.flatnonzero((d != 0) & (d != prev))
    ends = np.flatnonzero((d != 0) & (d != nxt))
    return [DeviationEpisode("above" if d[s] > 0 else "below", int(s) + 1, int(e) + 1)
            for s, e in zip(starts, ends, strict=True)]


def compute_figures(series: DailySeries, steps: Sequence[ScheduleStep], baseline_mg: Decimal,
                    settings: FigureSettings, curves: TaperCurves | None = None) -> PatientFigures:
    """All figures for one patient as of ``series.as_of`` (domain.md §5).

    ``curves``, when the caller already has them (``taper_curves`` of the same arguments),
    are not computed again.
    """
    b = float(baseline_mg)
    if curves is None:
        curves = taper_curves(series, steps, baseline_mg, settings)
    as_of_day = study_day(series.as_of, series.day1)
    n_days = curves.study_days.size
    covered = ~np.isnan(curves.actual)
    n = int(covered.sum())
    last = n_days - 1
    actual = float(curves.actual[last]) if n_days and covered[last] else None
    if n_days:
        scheduled = float(curves.scheduled[last])
    else:
        scheduled = float(scheduled_doses(steps, b, np.array([as_of_day]))[0])
    cum = float(curves.cumulative[last]) if n_days else 0.0
    sched_cum = float(curves.scheduled_cumulative[last]) if n_days else 0.0
    window = _nan_to_none(curves.window_reduction_pct[last]) if n_days else None
    target_dose_day = None
    if settings.target_dose_mg is not None and n_days:
        hits = np.flatnonzero(covered & (curves.actual <= float(settings.target_dose_mg)
                                         + MG_COMPARE))
        target_dose_day = int(hits[0]) + 1 if hits.size else None
    episodes = deviation_episodes(curves.deviation)
    if not n_days or not covered[last]:
        last_status = "missing"
    else:
        last_status = {1: "above", -1: "below", 0: "on_schedule"}[int(curves.deviation[last])]
    return PatientFigures(
        as_of=series.as_of,
        as_of_day=as_of_day,
        baseline_mg=b,
        observed_days=n,
        missing_days=max(0, as_of_day) - n,
        actual_mg=actual,
        scheduled_mg=scheduled,
        reduction_pct=None if actual is None else 100.0 * (b - actual) / b,
        window_reduction_pct=window,
        cumulative_mg=cum,
        scheduled_cumulative_mg=sched_cum,
        cumulative_reduction_pct=None if n == 0 else 100.0 * (1.0 - cum / (b * n)),
        spared_mg=b * n - cum,
        deviation_days_above=int((curves.deviation > 0).sum()),
        deviation_days_below=int((curves.deviation < 0).sum()),
        episodes=tuple(episodes),
        days_to_target_dose=target_dose_day,
        target=_target_status(curves, as_of_day, settings),
        last_status=last_status,
    )


def _target_status(curves: TaperCurves, as_of_day: int, s: FigureSettings) -> TargetStatus:
    n_days = curves.study_days.size
    if as_of_day < s.target_day:
        so_far = _nan_to_none(curves.window_reduction_pct[-1]) if n_days else None
        return TargetStatus(s.target_day, s.target_reduction_pct, so_far, "pending")
    window = _nan_to_none(curves.window_reduction_pct[s.target_day - 1])
    if window is None:
        status = "not_evaluable"
    elif round_half_up(window, 1) >= float(s.target_reduction_pct):
        # Compared as reported (to 0.1 %), so a printed 50.0 % never reads "not met".
        status = "met"
    else:
        status = "not_met"
    return TargetStatus(s.target_day, s.target_reduction_pct, window, status)


def _nan_to_none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
