"""Every per-patient figure of domain.md §5, computed from the daily series with numpy."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

import numpy as np

from .doses import DailySeries
from .schedule import ScheduleStep, scheduled_doses
from .studyday import study_day
from .units import MG_COMPARE, round_half_up

WINDOW_DAYS = 28
MIN_WINDOW_DAYS = 14


@dataclass(frozen=True)
class FigureSettings:
    """The protocol's settings for the figures (domain.md §5.1)."""

    target_reduction_pct: Decimal = Decimal(50)
    target_day: int = 183
    tolerance_mg: Decimal = Decimal(0)
    target_dose_mg: Decimal | None = None


@dataclass(frozen=True)
class DeviationEpisode:
    direction: str  # "above" or "below"
    first_day: int
    last_day: int

    @property
    def days(self) -> int:
        return self.last_day - self.first_day + 1


@dataclass(frozen=True)
class TargetStatus:
    day: int
    reduction_pct: Decimal
    window_reduction_pct: float | None
    status: str  # met, not_met, not_evaluable, pending


@dataclass(frozen=True)
class PatientFigures:
    """Unrounded figures for one patient as of one date; ``None`` where a figure does not exist."""

    as_of: date
    as_of_day: int
    baseline_mg: float
    observed_days: int
    missing_days: int
    actual_mg: float | None
    scheduled_mg: float
    reduction_pct: float | None
    window_reduction_pct: float | None
    cumulative_mg: float
    scheduled_cumulative_mg: float
    cumulative_reduction_pct: float | None
    spared_mg: float
    deviation_days_above: int
    deviation_days_below: int
    episodes: tuple[DeviationEpisode, ...]
    days_to_target_dose: int | None
    target: TargetStatus
    last_status: str = field(default="")  # on_schedule, above, below, missing


@dataclass(frozen=True)
class TaperCurves:
    """Per-day arrays from Day 1 to as-of, for charts and exports (NaN where undefined)."""

    study_days: np.ndarray
    actual: np.ndarray
    scheduled: np.ndarray
    reduction_pct: np.ndarray
    window_reduction_pct: np.ndarray
    cumulative: np.ndarray
    scheduled_cumulative: np.ndarray
    deviation: np.ndarray  # +1 above, -1 below, 0 on schedule or missing
    #: "The baseline continued": B on each observed day so far, what the patient would
    #: have taken without a taper (steroid spared = its last value - cumulative's).
    baseline_cumulative: np.ndarray


@dataclass(frozen=True)
class _Flat:
    """The curves of many patients end to end, as one :class:`TaperCurves` of study-wide
    arrays: patient i's days are ``[lo[i], lo[i] + n[i])`` of every array."""

    lo: list[int]
    n: list[int]
    curves: TaperCurves

    @classmethod
    def of(cls, curves: TaperCurves) -> _Flat:
        """One patient's curves (however they were made) as a batch of one."""
        return cls([0], [int(curves.study_days.size)], curves)

    def patient(self, i: int) -> TaperCurves:
        lo, hi = self.lo[i], self.lo[i] + self.n[i]
        return TaperCurves(*(getattr(self.curves, f.name)[lo:hi]
                             for f in fields(TaperCurves)))


def _segment_cumsum(values: np.ndarray, lo: list[int], n: list[int]) -> np.ndarray:
    """Each patient's running sum on its own, so every float is added in the same order as
    ``np.cumsum`` of that patient alone (a running sum over all patients would carry one
    patient's rounding into the next)."""
    out = np.empty_like(values)
    for start, count in zip(lo, n, strict=True):
        np.cumsum(values[start:start + count], out=out[start:start + count])
    return out


def _flat_scheduled(steps: Sequence[Sequence[ScheduleStep]], baselines: Sequence[float],
                    n: Sequence[int]) -> np.ndarray:
    """S(d) of ``scheduled_doses`` for every patient's days 1 .. n[i], end to end.

    S is constant between step days, so each patient's days are runs of one value (the
    baseline until the first step, then each step's dose from its day) repeated with
    ``np.repeat``: the same values, taken from the same floats, as the per-day search.
    """
    values: list[float] = []
    lengths: list[int] = []
    for patient_steps, baseline, count in zip(steps, baselines, n, strict=True):
        days = [x.day for x in patient_steps]
        if days != sorted(days):  # not a schedule in day order: as scheduled_doses takes it
            values.extend(scheduled_doses(patient_steps, baseline,
                                          np.arange(1, count + 1)).tolist())
            lengths.extend([1] * count)
            continue
        values.append(baseline)
        begin = 1  # this run's first day (Day 1: there is no Day 0)
        for step, day in zip(patient_steps, days, strict=True):
            day = min(max(day, 1), count + 1)  # a step before Day 1 holds from Day 1
            lengths.append(day - begin)
            values.append(float(step.dose_mg))
            begin = day
        lengths.append(count + 1 - begin)
    return np.repeat(np.array(values, dtype=np.float64), lengths)


def _flat_curves(series: Sequence[DailySeries], steps: Sequence[Sequence[ScheduleStep]],
                 baselines: Sequence[float], tolerance: float) -> _Flat:
    """Every patient's curves, each element computed as :func:`taper_curves` computes it."""
    parts = [s.from_day1() for s in series]
    n = [a.size for a, _ in parts]
    lo = [0] * len(n)
    for i in range(1, len(n)):
        lo[i] = lo[i - 1] + n[i - 1]
    total = lo[-1] + n[-1] if n else 0
    actual = np.concatenate([a for a, _ in parts]) if parts else np.empty(0)
    covered = np.concatenate([c for _, c in parts]) if parts else np.empty(0, dtype=bool)
    index = np.arange(total, dtype=np.int64)
    local = index - np.repeat(np.array(lo, dtype=np.int64), n)  # 0 on each patient's Day 1
    sched = _flat_scheduled(steps, baselines, n)
    baseline = np.repeat(np.array(baselines, dtype=np.float64), n)
    a0 = np.where(covered, actual, 0.0)
    cum = _segment_cumsum(a0, lo, n)
    sched_cum = _segment_cumsum(np.where(covered, sched, 0.0), lo, n)
    # 28-day window means: value and count of observed days over the window ending each day
    # (the days since Day 1 when fewer). What a patient had before its window is subtracted
    # as the single-patient code subtracts it: 0.0 in its first 28 days, else the running
    # sum 28 days before.
    in_full = local >= WINDOW_DAYS
    earlier = np.zeros(total, dtype=np.float64)
    earlier[WINDOW_DAYS:] = cum[:-WINDOW_DAYS] if total > WINDOW_DAYS else 0.0
    earlier[~in_full] = 0.0
    seen = np.cumsum(covered, dtype=np.int64)  # integers: differences are exact
    before = np.zeros(total, dtype=np.int64)
    before[WINDOW_DAYS:] = seen[:-WINDOW_DAYS] if total > WINDOW_DAYS else 0
    at_day1 = np.repeat(np.array([seen[x - 1] if x else 0 for x in lo], dtype=np.int64), n)
    wcount = seen - np.where(in_full, before, at_day1)
    # B times the observed days so far: one product, so its last value is B × n exactly
    # as the steroid spared figure takes it.
    baseline_cum = baseline * (seen - at_day1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wmean = (cum - earlier) / wcount
    window = np.where(wcount >= MIN_WINDOW_DAYS, 100.0 * (baseline - wmean) / baseline, np.nan)
    daily = np.where(covered, 100.0 * (baseline - a0) / baseline, np.nan)
    above = covered & (a0 - sched - tolerance > MG_COMPARE)
    below = covered & (sched - tolerance - a0 > MG_COMPARE)
    deviation = above.astype(np.int8) - below.astype(np.int8)
    return _Flat(lo, n, TaperCurves(local + 1, np.where(covered, a0, np.nan), sched, daily,
                                    window, cum, sched_cum, deviation, baseline_cum))


def taper_curves(series: DailySeries, steps: Sequence[ScheduleStep], baseline_mg: Decimal,
                 settings: FigureSettings) -> TaperCurves:
    """Per-day arrays from Day 1 to as-of (see :class:`TaperCurves`)."""
    return _flat_curves([series], [steps], [float(baseline_mg)],
                        float(settings.tolerance_mg)).patient(0)


#: The study's median curve has a value on days where at least this many patients have one.
MEDIAN_MIN_PATIENTS = 3


def median_window_reduction(curves: Sequence[TaperCurves],
                            min_patients: int = MEDIAN_MIN_PATIENTS) -> np.ndarray:
    """The study's median 28-day window % reduction on each study day (index 0 is Day 1),
    over the patients who have a value that day; NaN where fewer than ``min_patients`` do.
    Blinded: every patient together, never by arm."""
    longest = max((c.study_days.size for c in curves), default=0)
    grid = np.full((len(curves), longest), np.nan)
    for i, c in enumerate(curves):
        grid[i, :c.window_reduction_pct.size] = c.window_reduction_pct
    if not longest:
        return np.empty(0)
    counts = np.sum(np.isfinite(grid), axis=0)
    with warnings.catch_warnings():  # a day nobody has a value: NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(grid, axis=0)
    median[counts < min_patients] = np.nan
    return median


def deviation_episodes(deviation: np.ndarray) -> list[DeviationEpisode]:
    """Maximal runs of consecutive deviation days in one direction (a missing day ends a run)."""
    return _flat_episodes(deviation, [0], [deviation.size])[0]


def _flat_episodes(deviation: np.ndarray, lo: list[int],
                   n: list[int]) -> list[list[DeviationEpisode]]:
    """Each patient's deviation episodes (a run never continues into the next patient)."""
    episodes: list[list[DeviationEpisode]] = [[] for _ in n]
    if deviation.size == 0:
        return episodes
    d = deviation.astype(np.int8)
    prev = np.concatenate(([0], d[:-1])).astype(np.int8)
    nxt = np.concatenate((d[1:], [0])).astype(np.int8)
    first = [start for start, count in zip(lo, n, strict=True) if count]
    prev[first] = 0
    nxt[[start + count - 1 for start, count in zip(lo, n, strict=True) if count]] = 0
    starts = np.flatnonzero((d != 0) & (d != prev))
    ends = np.flatnonzero((d != 0) & (d != nxt))
    owner = np.searchsorted(np.asarray(lo, dtype=np.int64), starts, side="right") - 1
    for i, s, e, above in zip(owner.tolist(), starts.tolist(), ends.tolist(),
                              (d[starts] > 0).tolist(), strict=True):
        base = lo[i]
        episodes[i].append(DeviationEpisode("above" if above else "below", s - base + 1,
                                            e - base + 1))
    return episodes


def compute_figures(series: DailySeries, steps: Sequence[ScheduleStep], baseline_mg: Decimal,
                    settings: FigureSettings, curves: TaperCurves | None = None) -> PatientFigures:
    """All figures for one patient as of ``series.as_of`` (domain.md §5).

    ``curves``, when the caller already has them (``taper_curves`` of the same arguments),
    are not computed again.
    """
    b = float(baseline_mg)
    if curves is None:
        flat = _flat_curves([series], [steps], [b], float(settings.tolerance_mg))
    else:
        flat = _Flat.of(curves)
    return _flat_figures(flat, [series], [steps], [b], settings)[0]


def analyse_cohort(series: Sequence[DailySeries], steps: Sequence[Sequence[ScheduleStep]],
                   baselines_mg: Sequence[Decimal],
                   settings: FigureSettings) -> list[tuple[TaperCurves, PatientFigures]]:
    """``taper_curves`` and ``compute_figures`` of many patients (``series[i]``,
    ``steps[i]`` and ``baselines_mg[i]`` are patient i's), with the same values, computed
    with one numpy call per step for all of them rather than one per patient."""
    b = [float(x) for x in baselines_mg]
    flat = _flat_curves(series, steps, b, float(settings.tolerance_mg))
    figures = _flat_figures(flat, series, steps, b, settings)
    return [(flat.patient(i), f) for i, f in enumerate(figures)]


def _flat_figures(flat: _Flat, series: Sequence[DailySeries],
                  steps: Sequence[Sequence[ScheduleStep]], baselines: Sequence[float],
                  settings: FigureSettings) -> list[PatientFigures]:
    """Every patient's figures from its curves: whole-array operations, then per patient
    only picking values out (each figure as the single-patient code computed it)."""
    lo, n, c = flat.lo, flat.n, flat.curves
    covered = ~np.isnan(c.actual)
    # Per-patient counts from running sums of integers (exact): observed, above, below.
    starts = np.array(lo, dtype=np.int64)
    ends = starts + np.array(n, dtype=np.int64)

    def counts(mask: np.ndarray) -> list[int]:
        running = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
        return (running[ends] - running[starts]).tolist()

    observed = counts(covered)
    above = counts(c.deviation > 0)
    below = counts(c.deviation < 0)
    # The value on each patient's last day (position 0 stands in for a patient with no days).
    last = np.where(ends > starts, ends - 1, 0)
    if c.actual.size:
        last_covered = covered[last].tolist()
        last_actual = c.actual[last].tolist()
        last_scheduled = c.scheduled[last].tolist()
        last_cum = c.cumulative[last].tolist()
        last_sched_cum = c.scheduled_cumulative[last].tolist()
        last_window = c.window_reduction_pct[last].tolist()
        last_deviation = c.deviation[last].tolist()
    else:
        nothing = [None] * len(n)
        last_covered, last_actual, last_scheduled, last_cum, last_sched_cum, last_window, \
            last_deviation = [nothing] * 7
    # Days to the target dose: each patient's first observed day at or below it.
    hits: list[int] | None = None
    if settings.target_dose_mg is not None:
        at_target = np.flatnonzero(covered & (c.actual <= float(settings.target_dose_mg)
                                              + MG_COMPARE))
        first_hit = np.searchsorted(at_target, starts)
        padded = np.concatenate((at_target, [np.iinfo(np.int64).max]))
        hits = padded[first_hit].tolist()
    episodes = _flat_episodes(c.deviation, lo, n)
    figures = []
    for i, (s, b) in enumerate(zip(series, baselines, strict=True)):
        n_days = n[i]
        as_of_day = study_day(s.as_of, s.day1)
        observed_days = observed[i]
        actual = last_actual[i] if n_days and last_covered[i] else None
        if n_days:
            scheduled = last_scheduled[i]
        else:
            scheduled = float(scheduled_doses(steps[i], b, np.array([as_of_day]))[0])
        cum = last_cum[i] if n_days else 0.0
        sched_cum = last_sched_cum[i] if n_days else 0.0
        window = _float_or_none(last_window[i]) if n_days else None
        target_dose_day = None
        if hits is not None and n_days and hits[i] < lo[i] + n_days:
            target_dose_day = hits[i] - lo[i] + 1
        if not n_days or not last_covered[i]:
            last_status = "missing"
        else:
            last_status = {1: "above", -1: "below", 0: "on_schedule"}[last_deviation[i]]
        window_curve = c.window_reduction_pct[lo[i]:lo[i] + n_days]
        figures.append(PatientFigures(
            as_of=s.as_of,
            as_of_day=as_of_day,
            baseline_mg=b,
            observed_days=observed_days,
            missing_days=max(0, as_of_day) - observed_days,
            actual_mg=actual,
            scheduled_mg=scheduled,
            reduction_pct=None if actual is None else 100.0 * (b - actual) / b,
            window_reduction_pct=window,
            cumulative_mg=cum,
            scheduled_cumulative_mg=sched_cum,
            cumulative_reduction_pct=(None if observed_days == 0
                                      else 100.0 * (1.0 - cum / (b * observed_days))),
            spared_mg=b * observed_days - cum,
            deviation_days_above=above[i],
            deviation_days_below=below[i],
            episodes=tuple(episodes[i]),
            days_to_target_dose=target_dose_day,
            target=_target_status(window_curve, as_of_day, settings),
            last_status=last_status,
        ))
    return figures


def _target_status(window_curve: np.ndarray, as_of_day: int,
                   s: FigureSettings) -> TargetStatus:
    n_days = window_curve.size
    if as_of_day < s.target_day:
        so_far = _nan_to_none(window_curve[-1]) if n_days else None
        return TargetStatus(s.target_day, s.target_reduction_pct, so_far, "pending")
    window = _nan_to_none(window_curve[s.target_day - 1])
    if window is None:
        status = "not_evaluable"
    elif round_half_up(window, 1) >= float(s.target_reduction_pct):
        # Compared as reported (to 0.1 %), so a printed 50.0 % never reads "not met".
        status = "met"
    else:
        status = "not_met"
    return TargetStatus(s.target_day, s.target_reduction_pct, window, status)


def _float_or_none(x: float) -> float | None:
    """A value picked out with ``tolist`` (already a Python float): None where NaN."""
    return None if x != x else x


def _nan_to_none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
