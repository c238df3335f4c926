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
from itertools import pairwise
from operator import attrgetter
from typing import Protocol

import numpy as np

from .equivalence import EquivalenceTable, per_day
from .units import UG_PER_MG, round_half_up


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


class DoseAmount(Protocol):
    """What a record's daily amount depends on: a DoseRecord, a stored view, a form's dose."""

    @property
    def drug(self) -> str: ...
    @property
    def dose_ug(self) -> int: ...
    @property
    def frequency(self) -> str: ...


def daily_peq_mg(record: DoseAmount, table: EquivalenceTable) -> Fraction:
    """Prednisone-equivalent mg the record adds on each day it covers (exact)."""
    return (Fraction(record.dose_ug, UG_PER_MG) * per_day(record.frequency)
            * table.factor(record.drug))


def peq_mg_per_day(record: DoseAmount, table: EquivalenceTable) -> float:
    """The PEQ per day of a record as every view reports it (to 0.001 mg, halves up): the
    one figure the dose history, the dose form, the patient PDF and the export print."""
    return round_half_up(float(daily_peq_mg(record, table)), 3)


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
    return daily_series_many([records], table, [day1], as_of)[0]


@dataclass(frozen=True)
class DoseArrays:
    """The valid records of one or many patients (voided or starting after ``as_of``
    left out), in their given order, as the arrays the daily series is built from."""

    index: np.ndarray   # int64: the position of each kept record in the records given
    start: np.ndarray   # int64: proleptic ordinal of the start date
    last: np.ndarray    # int64: ordinal of the last date covered as of ``as_of``
    amount: np.ndarray  # float64: mg PEQ the record adds on each day it covers


_START = attrgetter("start_date")
_END = attrgetter("end_date")
_FREQUENCY = attrgetter("frequency")
_DRUG = attrgetter("drug")
_DOSE_UG = attrgetter("dose_ug")
_VOIDED = attrgetter("voided")
_ORDINAL = date.toordinal

#: ``DoseColumns.end`` of a record with no end date (no date has ordinal 0).
NO_END = 0


@dataclass(frozen=True, eq=False)
class DoseColumns:
    """The fields the daily series reads from many records, one column each (record i's
    start is ``start[i]``, its drug ``drug[i]``...): what :func:`dose_arrays` gathers from
    records, or what a bulk read can give directly without making a record per row."""

    start: np.ndarray          # int64: proleptic ordinal of the start date
    end: np.ndarray            # int64: ordinal of the end date, NO_END where there is none
    drug: Sequence[str]
    frequency: Sequence[str]
    dose_ug: np.ndarray        # int64
    voided: np.ndarray         # bool

    def __len__(self) -> int:
        return len(self.drug)

    @classmethod
    def of(cls, records: Sequence[DoseFacts]) -> DoseColumns:
        """The columns of ``records``, one C-level pass per field."""
        n = len(records)
        return cls(
            start=np.fromiter(map(_ORDINAL, map(_START, records)), np.int64, n),
            end=np.fromiter((NO_END if end is None else end.toordinal()
                             for end in map(_END, records)), np.int64, n),
            drug=list(map(_DRUG, records)),
            frequency=list(map(_FREQUENCY, records)),
            dose_ug=np.fromiter(map(_DOSE_UG, records), np.int64, n),
            voided=np.fromiter(map(_VOIDED, records), np.bool_, n))


def dose_arrays(records: Sequence[DoseFacts] | DoseColumns, table: EquivalenceTable,
                as_of: date) -> DoseArrays:
    """Gather start, last day and daily amount of every valid record, in whole arrays.

    For a whole study at once (a hundred thousand records) as well as for one patient;
    ``records`` may be given as their :class:`DoseColumns`. Each distinct (drug, frequency)
    of a valid record is converted once, as an exact Fraction then one float, so every
    record's amount is the same float product whichever way the records are read.
    """
    columns = records if isinstance(records, DoseColumns) else DoseColumns.of(records)
    n = len(columns)
    as_of_ordinal = as_of.toordinal()
    start = columns.start
    kept = (start <= as_of_ordinal) & ~columns.voided
    index = np.flatnonzero(kept)
    # Drugs and frequencies as small codes (strings hash once each), (drug, frequency) as
    # one code; a table of rates by code, filled for the codes of valid records only (an
    # unknown drug in a voided record is not an error).
    drugs, frequencies = columns.drug, columns.frequency
    drug_code = {drug: i for i, drug in enumerate(dict.fromkeys(drugs))}
    frequency_code = {f: i for i, f in enumerate(dict.fromkeys(frequencies))}
    width = max(1, len(frequency_code))
    f_code = np.fromiter(map(frequency_code.__getitem__, frequencies), np.int64, n)
    code = np.fromiter(map(drug_code.__getitem__, drugs), np.int64, n) * width + f_code
    drug_of, frequency_of = list(drug_code), list(frequency_code)
    rate = np.full(max(1, len(drug_code) * width), np.nan)
    for c in np.unique(code[index]).tolist():
        drug, frequency = drug_of[c // width], frequency_of[c % width]
        # mg PEQ per µg of drug per day: exact Fractions, then one float.
        rate[c] = float(per_day(frequency) * table.factor(drug) / UG_PER_MG)
    is_once = np.array([f.upper() == "ONCE" for f in frequency_of], dtype=np.bool_)[f_code]
    last = np.where(is_once, start,
                    np.where(columns.end == NO_END, as_of_ordinal, columns.end))
    # int * float as Python computes r.dose_ug * rate: the integer (far below 2**53) is
    # converted exactly, then one rounded product.
    amount = columns.dose_ug.astype(np.float64) * rate[code]
    return DoseArrays(index, start[index], last[index], amount[index])


def daily_series_many(records: Sequence[Sequence[DoseFacts]], table: EquivalenceTable,
                      day1s: Sequence[date], as_of: date,
                      columns: DoseColumns | None = None) -> list[DailySeries]:
    """``daily_series`` of many patients (``records[i]`` and ``day1s[i]`` are patient i's)
    with one numpy call per step for all of them, not one per patient.

    The patients' difference arrays lie end to end in one array (each ``length + 1`` long,
    the extra element taking the subtractions after ``as_of``). Everything is elementwise
    except the running sums: counts are integers, so one running sum over all patients is
    exact (each patient's counts sum to zero); the float sums are taken patient by patient
    (``np.cumsum`` into a slice), so each adds exactly the same numbers in the same order
    as for a patient alone, and every value is bit for bit what ``daily_series`` gives.

    ``columns``, when the caller has them (a bulk read), are the columns of every patient's
    records one after the other, in order; only ``len(records[i])`` is read then.
    """
    patients = len(records)
    bounds = [0]
    for patient_records in records:
        bounds.append(bounds[-1] + len(patient_records))
    if columns is None:
        flat: list[DoseFacts] = []
        for patient_records in records:
            flat.extend(patient_records)
        columns = DoseColumns.of(flat)
    elif len(columns) != bounds[-1]:
        raise ValueError(f"{len(columns)} dose columns for {bounds[-1]} records")
    facts = dose_arrays(columns, table, as_of)
    # Each kept record's patient (records are in patient order, so are the kept ones).
    patient = np.searchsorted(np.asarray(bounds[1:], dtype=np.int64), facts.index,
                              side="right")
    as_of_ordinal = as_of.toordinal()
    first = np.fromiter(map(_ORDINAL, day1s), np.int64, patients)
    np.minimum.at(first, patient, facts.start)
    length = np.maximum(as_of_ordinal - first + 1, 0)
    offset = np.zeros(patients + 1, dtype=np.int64)
    np.cumsum(length + 1, out=offset[1:])
    base = offset[:-1] - first  # array position = base + ordinal, for each patient
    starts = facts.start + base[patient]
    ends = np.minimum(facts.last, as_of_ordinal) + 1 + base[patient]
    keep = ends > starts
    amount = facts.amount
    if not keep.all():
        starts, ends, amount = starts[keep], ends[keep], amount[keep]
    size = int(offset[-1])
    # Difference arrays: +amount on the first day, -amount after the last (in record order,
    # all additions then all subtractions, so the float sums are always the same).
    total = np.zeros(size, dtype=np.float64)
    np.add.at(total, starts, amount)
    np.add.at(total, ends, -amount)
    count = np.bincount(starts, minlength=size) - np.bincount(ends, minlength=size)
    covered = np.cumsum(count) > 0
    running = np.empty(size, dtype=np.float64)
    cuts = offset.tolist()
    for lo, hi in pairwise(cuts):
        np.cumsum(total[lo:hi], out=running[lo:hi])
    # Rounding to 1e-9 mg removes the float residue that add/subtract pairs leave behind.
    actual = np.round(running, 9) + 0.0
    actual[~covered] = np.nan
    firsts = first.tolist()
    lengths = length.tolist()
    return [DailySeries(day1=day1, first_date=date.fromordinal(f), as_of=as_of,
                        actual=actual[lo:lo + n], covered=covered[lo:lo + n])
            for day1, f, lo, n in zip(day1s, firsts, cuts[:-1], lengths, strict=True)]


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
