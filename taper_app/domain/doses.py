"""Dose records and the actual daily dose series A(d) they imply (domain.md §3).

A day that no valid record covers is *missing* (NaN in ``actual``), which is not the
same as a recorded zero dose. The series is built with difference arrays, so its cost
is O(records + days) whatever the length of each record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Protocol

import numpy as np

from .equivalence import EquivalenceTable, per_day
from .units import UG_PER_MG


@dataclass(frozen=True)
class DoseRecord:
    """One dose entry as a nurse records it: an amount of one drug, how often, from when."""

    drug: str
    dose_ug: int
    frequency: str
    route: str
    start_date: date
    end_date: date | None = None
    voided: bool = False
    record_id: int | None = None

    @property
    def is_once(self) -> bool:
        return self.frequency.upper() == "ONCE"

    def last_date(self, as_of: date) -> date:
        """The last date this record covers when figures are computed as of ``as_of``."""
        if self.is_once:
            return self.start_date
        return self.end_date if self.end_date is not None else as_of


def daily_peq_mg(record: DoseRecord, table: EquivalenceTable) -> Fraction:
    """Prednisone-equivalent mg the record adds on each day it covers (exact)."""
    return (Fraction(record.dose_ug, UG_PER_MG) * per_day(record.frequency)
            * table.factor(record.drug))


@dataclass(frozen=True)
class DailySeries:
    """A(d) for consecutive dates ``first_date`` .. ``as_of``; NaN where missing."""

    day1: date
    first_date: date
    as_of: date
    actual: np.ndarray = field(repr=False)   # float64 mg PEQ, NaN = missing
    covered: np.ndarray = field(repr=False)  # bool, True where any valid record covers

    @property
    def study_days(self) -> np.ndarray:
        """Study day of each element (no Day 0)."""
        offset = (self.first_date - self.day1).days
        rel = np.arange(offset, offset + len(self.actual), dtype=np.int64)
        return np.where(rel >= 0, rel + 1, rel)

    @property
    def day1_index(self) -> int:
        """Index of Day 1 in the arrays (may equal len when Day 1 is after ``as_of``)."""
        return max(0, min((self.day1 - self.first_date).days, len(self.actual)))

    def date_at(self, index: int) -> date:
        return self.first_date + timedelta(days=index)

    def from_day1(self) -> tuple[np.ndarray, np.ndarray]:
        """``(actual, covered)`` for Day 1 .. day(as_of): the days that figures count."""
        i = self.day1_index
        return self.actual[i:], self.covered[i:]


class DoseFacts(Protocol):
    """What the daily series reads from a record: a :class:`DoseRecord` or a stored view."""

    @property
    def drug(self) -> str: ...
    @property
    def dose_ug(self) -> int: ...
    @property
    def frequency(self) -> str: ...
    @property
    def start_date(self) -> date: ...
    @property
    def end_date(self) -> date | None: ...
    @property
    def voided(self) -> bool: ...


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


def missing_gaps(series: DailySeries) -> list[tuple[date, date]]:
    """Runs of missing days from Day 1 to ``as_of``, as inclusive (first, last) dates."""
    _, covered = series.from_day1()
    if covered.size == 0:
        return []
    missing = np.concatenate(([False], ~covered, [False])).astype(np.int8)
    edges = np.diff(missing)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    base = series.day1_index
    return [(series.date_at(base + int(s)), series.date_at(base + int(e)))
            for s, e in zip(starts, ends, strict=True)]
