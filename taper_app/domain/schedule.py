"""Schedule templates, per-patient schedule generation and amendments (domain.md §4).

All schedule arithmetic is exact (``Decimal`` mg); a generated schedule is a list of
``(study day, daily PEQ mg)`` steps that storage keeps as integer micrograms.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from .equivalence import per_day

#: Hard stop for a template that would never finish (it cannot happen with valid bands).
MAX_STEPS = 10_000


@dataclass(frozen=True)
class Band:
    """Above ``above_mg``, reduce by ``step_mg`` (or ``step_pct`` %) every ``interval_days``."""

    above_mg: Decimal
    interval_days: int
    step_mg: Decimal | None = None
    step_pct: Decimal | None = None


@dataclass(frozen=True)
class BandTemplate:
    id: str
    name: str
    taper_start_day: int
    bands: tuple[Band, ...]
    round_to_mg: Decimal = Decimal("0.5")
    floor_mg: Decimal = Decimal(0)
    kind: str = "bands"

    def band(self, dose: Decimal) -> Band | None:
        """The band with the highest ``above_mg`` below ``dose``; None means taper complete."""
        below = [b for b in self.bands if dose > b.above_mg]
        return max(below, key=lambda b: b.above_mg) if below else None


@dataclass(frozen=True)
class TableStep:
    """A published table row: a dose (with its frequency) or a fraction of baseline, from a day."""

    day: int
    dose_mg: Decimal | None = None
    frequency: str = "QD"
    fraction: Decimal | None = None

    def daily_mg(self, baseline_mg: Decimal, round_to_mg: Decimal) -> Decimal:
        if self.fraction is not None:
            return round_to(baseline_mg * self.fraction, round_to_mg)
        assert self.dose_mg is not None
        daily = self.dose_mg * Decimal(per_day(self.frequency).numerator) / Decimal(
            per_day(self.frequency).denominator)
        return daily.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)

    def as_schedule_step(self, baseline_mg: Decimal, round_to_mg: Decimal,
                         seq: int | None = None) -> ScheduleStep:
        """The patient's step for this row, keeping the frequency it was written with.

        A fraction of baseline is a daily dose (its figures have always been counted so),
        whatever frequency the row names.
        """
        daily = _norm(self.daily_mg(baseline_mg, round_to_mg))
        if self.fraction is not None or self.frequency.upper() == "QD":
            return ScheduleStep(self.day, daily, seq)
        assert self.dose_mg is not None
        return ScheduleStep(self.day, daily, seq, self.frequency.upper(), _norm(self.dose_mg))


@dataclass(frozen=True)
class TableTemplate:
    id: str
    name: str
    steps: tuple[TableStep, ...]
    round_to_mg: Decimal = Decimal("0.5")
    kind: str = "table"


Template = BandTemplate | TableTemplate


@dataclass(frozen=True)
class ScheduleStep:
    """From study day ``day`` the scheduled daily dose is ``dose_mg`` (PEQ).

    A step keeps the frequency it was written with (domain.md §8): a table's "5 mg QOD" is
    ``dose_mg`` 2.5 (what every figure counts) with ``frequency`` "QOD" and
    ``administered_mg`` 5 (what the patient takes on the days it is taken). A daily step
    has ``frequency`` "QD" and no ``administered_mg``: it takes ``dose_mg`` each day.
    """

    day: int
    dose_mg: Decimal
    amendment_seq: int | None = None  # which amendment made this step (None: the template)
    frequency: str = "QD"
    administered_mg: Decimal | None = None

    @property
    def per_administration_mg(self) -> Decimal:
        """PEQ mg of one administration: exactly as written, never back from ``dose_mg``."""
        return self.dose_mg if self.administered_mg is None else self.administered_mg


@dataclass(frozen=True)
class Amendment:
    """An investigator's change: from ``day`` the dose is ``dose_mg``, then the taper resumes."""

    day: int
    dose_mg: Decimal
    reason: str


def round_to(value: Decimal, step: Decimal) -> Decimal:
    """Nearest multiple of ``step``, halves up."""
    if step <= 0:
        return value
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def _band_steps(t: BandTemplate, cur: Decimal, day: int, seq: int | None) -> list[ScheduleStep]:
    steps: list[ScheduleStep] = []
    band = t.band(cur)
    while band is not None and cur > t.floor_mg:
        if band.step_pct is not None:
            nxt = cur * (1 - band.step_pct / 100)
        else:
            assert band.step_mg is not None
            nxt = cur - band.step_mg
        nxt = max(round_to(nxt, t.round_to_mg), band.above_mg, t.floor_mg)
        if nxt >= cur:
            nxt = max(cur - t.round_to_mg, band.above_mg, t.floor_mg)
        steps.append(ScheduleStep(day, _norm(nxt), seq))
        if len(steps) > MAX_STEPS:
            raise ValueError(f"template {t.id} does not finish within {MAX_STEPS} steps")
        cur = nxt
        band = t.band(cur)
        if band is None:
            break
        day += band.interval_days
    return steps


def generate_schedule(template: Template, baseline_mg: Decimal) -> list[ScheduleStep]:
    """The patient's schedule, generated once at enrollment from the template and B."""
    if baseline_mg <= 0:
        raise ValueError("baseline must be > 0 mg/day")
    if isinstance(template, BandTemplate):
        return _band_steps(template, baseline_mg, template.taper_start_day, None)
    return [s.as_schedule_step(baseline_mg, template.round_to_mg)
            for s in sorted(template.steps, key=lambda s: s.day)]


def amend_schedule(steps: Sequence[ScheduleStep], template: Template, baseline_mg: Decimal,
                   amendment: Amendment, seq: int) -> list[ScheduleStep]:
    """Steps before the amendment day stay; from it the dose is X, then the taper resumes."""
    kept = [s for s in steps if s.day < amendment.day]
    x = amendment.dose_mg
    new = [ScheduleStep(amendment.day, _norm(x), seq)]
    if isinstance(template, BandTemplate):
        band = template.band(x)
        if band is not None and x > template.floor_mg:
            new += _band_steps(template, x, amendment.day + band.interval_days, seq)
    else:
        for s in sorted(template.steps, key=lambda s: s.day):
            dose = s.daily_mg(baseline_mg, template.round_to_mg)
            if s.day > amendment.day and dose < x:
                new.append(s.as_schedule_step(baseline_mg, template.round_to_mg, seq))
    return kept + new


def replay_schedule(template: Template, baseline_mg: Decimal,
                    amendments: Sequence[tuple[int, Amendment]]) -> list[ScheduleStep]:
    """The schedule generated from the template and B, then each ``(seq, amendment)``
    applied in order: what a patient's stored schedule is with those amendments in force
    (a withdrawn one is simply left out)."""
    steps = generate_schedule(template, baseline_mg)
    for seq, amendment in amendments:
        steps = amend_schedule(steps, template, baseline_mg, amendment, seq)
    return steps


def scheduled_doses(steps: Sequence[ScheduleStep], baseline_mg: float,
                    days: np.ndarray) -> np.ndarray:
    """S(d) for each study day in ``days``: the last step on or before d, else B."""
    if not steps:
        return np.full(days.shape, baseline_mg, dtype=np.float64)
    step_days = np.array([s.day for s in steps], dtype=np.int64)
    step_mg = np.array([float(s.dose_mg) for s in steps], dtype=np.float64)
    idx = np.searchsorted(step_days, days, side="right") - 1
    return np.where(idx >= 0, step_mg[np.clip(idx, 0, None)], baseline_mg)


def scheduled_values_between(steps: Sequence[ScheduleStep], baseline_mg: float, first: int,
                             last: int) -> list[float]:
    """S(d) over the study days ``first`` .. ``last`` (no Day 0): each value it takes there.

    The same values as ``scheduled_doses`` over that range, without building the range: S
    only changes on a step's day, so its first day and each step day inside it are enough.
    """
    step_days = [s.day for s in steps]
    values = []
    for day in [first, *(d for d in step_days if first < d <= last)]:
        if day == 0:
            day = 1  # there is no Day 0; Day 1 holds what a step on "day 0" would start
        if day > last:
            continue
        index = bisect_right(step_days, day) - 1
        values.append(float(steps[index].dose_mg) if index >= 0 else baseline_mg)
    return values


def _norm(mg: Decimal) -> Decimal:
    """Canonical exact form: at most 3 decimals, no trailing zeros."""
    q = mg.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return q.quantize(Decimal(1)) if q == q.to_integral() else q.normalize()
