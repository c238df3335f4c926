"""What the dose form shows while a nurse types: defaults, PEQ per day, the schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..domain.doses import daily_peq_mg, peq_mg_per_day
from ..domain.schedule import scheduled_values_between
from ..domain.studyday import study_day
from ..domain.units import MG_COMPARE, round_half_up
from .errors import Problem
from .records import PatientRecord
from .study import StudyInfo
from .validation import check_dose


@dataclass(frozen=True)
class DoseDefaults:
    drug: str
    frequency: str
    route: str
    start_date: date
    dose_mg: Decimal
    source: str


def scheduled_dose_on(record: PatientRecord, d: date) -> Decimal:
    """S(d) for one date, exactly as stored (the last step on or before its study day)."""
    day = study_day(d, record.day1_date)
    current = record.baseline_mg
    for step in record.steps:
        if step.day <= day:
            current = step.dose_mg
    return current


def next_entry_date(record: PatientRecord, today: date) -> date:
    """The day after the last valid record ends (ongoing records: today); Day 1 if none."""
    valid = record.valid_doses
    if not valid:
        return min(record.day1_date, today)
    last = max((d.end_date or today) if d.frequency != "ONCE" else d.start_date for d in valid)
    return min(last + timedelta(days=1), today)


def dose_defaults(record: PatientRecord, today: date) -> DoseDefaults:
    """Prednisone QD PO from the day after the last record, at the scheduled dose."""
    start = next_entry_date(record, today)
    return DoseDefaults("prednisone", "QD", "PO", start, scheduled_dose_on(record, start),
                        "clinic")


@dataclass(frozen=True)
class DosePreview:
    """The form's live read-out: PEQ per day, the schedule over the dates, problems."""

    peq_mg_per_day: float | None
    scheduled_min_mg: Decimal | None
    scheduled_max_mg: Decimal | None
    differs_from_schedule: bool
    problems: list[Problem]


def preview_dose(study: StudyInfo, record: PatientRecord, fields: dict[str, object],
                 today: date) -> DosePreview:
    dose, problems = check_dose(fields, study.equivalence, today)
    if dose is None:
        return DosePreview(None, None, None, False, problems)
    peq = float(daily_peq_mg(dose, study.equivalence))  # compared unrounded, as A(d) is
    end = dose.end_date or (dose.start_date if dose.frequency == "ONCE" else today)
    first, last = study_day(dose.start_date, record.day1_date), study_day(end, record.day1_date)
    # S over the record's dates, one value per schedule stretch (the history table asks this
    # for every record of a patient, a thousand for a three-year daily diary).
    sched = scheduled_values_between(record.steps, float(record.baseline_mg), first, last)
    lo, hi = (Decimal(repr(round_half_up(min(sched), 3))),
              Decimal(repr(round_half_up(max(sched), 3)))) if sched else (None, None)
    # The same rule as a deviation day (domain.md §5): beyond the protocol's tolerance.
    # A one-off dose (a pulse) comes on top of the daily dose, so it is not compared alone.
    allowed = float(study.protocol.settings.tolerance_mg) + MG_COMPARE
    differs = dose.frequency != "ONCE" and any(abs(s - peq) > allowed for s in sched)
    return DosePreview(peq_mg_per_day(dose, study.equivalence), lo, hi, differs, [])

