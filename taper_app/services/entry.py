"""What the dose form shows while a nurse types: defaults, PEQ per day, the schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from ..domain.doses import daily_peq_mg, peq_mg_per_day
from ..domain.schedule import scheduled_values_between
from ..domain.studyday import study_day
from ..domain.units import MG_COMPARE, round_half_up, ug_to_mg
from .errors import Problem
from .records import DoseRecordView, PatientRecord
from .study import StudyInfo
from .validation import ValidDose, check_dose


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


def current_dose(record: PatientRecord, on: date) -> DoseRecordView | None:
    """The dose the patient is taking on ``on``: the latest-starting valid daily record
    (not a one-off) that covers the date or is still ongoing; None if there is none."""
    taking = [d for d in record.valid_doses if d.frequency != "ONCE" and d.start_date <= on
              and (d.end_date is None or d.end_date >= on - timedelta(days=1))]
    return max(taking, key=lambda d: (d.start_date, d.id)) if taking else None


def dose_defaults(record: PatientRecord, today: date) -> DoseDefaults:
    """From the day after the last record: the dose the patient is taking (what was taken
    goes on), or, with no dose yet, prednisone QD PO at the scheduled dose."""
    start = next_entry_date(record, today)
    taking = current_dose(record, start)
    if taking is not None:
        return DoseDefaults(taking.drug, taking.frequency, taking.route, start,
                            ug_to_mg(taking.dose_ug), "clinic")
    return DoseDefaults("prednisone", "QD", "PO", start, scheduled_dose_on(record, start),
                        "clinic")


#: A dose by these routes is usually a pulse, one administration on top of the oral dose.
PULSE_ROUTES = frozenset({"IV", "IM"})


def suggested_frequency(route: str) -> str | None:
    """The frequency the form offers when the route changes (an IV or IM pulse: ONCE)."""
    return "ONCE" if route.strip().upper() in PULSE_ROUTES else None


def closes_ongoing_record(frequency: str, start: date, end: date | None) -> bool:
    """Whether a new dose may end the ongoing daily record: never a one-off (ONCE) or a
    record of a single day (a pulse or one extra day comes on top of the daily dose)."""
    return frequency != "ONCE" and (end is None or end != start)


def same_as_ongoing(record: PatientRecord, dose: ValidDose) -> DoseRecordView | None:
    """The ongoing record that ``dose`` merely repeats (same drug, amount, frequency and
    route, no end date, starting later): entering it again changes nothing."""
    if dose.end_date is not None or dose.frequency == "ONCE":
        return None
    for d in record.valid_doses:
        if (d.end_date is None and d.frequency != "ONCE" and d.start_date < dose.start_date
                and (d.drug, d.dose_ug, d.frequency, d.route)
                == (dose.drug, dose.dose_ug, dose.frequency, dose.route)):
            return d
    return None


@dataclass(frozen=True)
class DosePreview:
    """The form's live read-out: PEQ per day, the schedule over the dates, problems."""

    peq_mg_per_day: float | None
    scheduled_min_mg: Decimal | None
    scheduled_max_mg: Decimal | None
    differs_from_schedule: bool
    problems: list[Problem]
    #: The ongoing record this dose repeats (saving it records nothing new).
    unchanged_from: DoseRecordView | None = None
    #: Why the dose needs an explicit confirmation ('' when it does not): over twice the
    #: current dose or over the baseline (the 2,000 mg limit is a refusal, not a question).
    implausible: str = ""


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
    unchanged = same_as_ongoing(record, dose)
    shown = peq_mg_per_day(dose, study.equivalence)
    return DosePreview(shown, lo, hi, differs and unchanged is None, [], unchanged,
                       "" if unchanged else implausibility(study, record, dose))


def implausibility(study: StudyInfo, record: PatientRecord, dose: ValidDose) -> str:
    """Why a dose is unusual enough to confirm ('' if it is not), in the trial's words."""
    table = study.equivalence
    new = daily_peq_mg(dose, table)
    if dose.frequency == "ONCE":
        new = Fraction(dose.dose_ug, 1000) * table.factor(dose.drug)
    taking = current_dose(record, dose.start_date)
    reasons = []
    if taking is not None:
        current = daily_peq_mg(taking, table)
        if current > 0 and new > 2 * current:
            reasons.append(f"more than twice the current dose ({_mg(current)} mg/day)")
    if new > Fraction(record.baseline_mg):
        reasons.append(f"more than the baseline ({_mg(record.baseline_mg)} mg/day)")
    if not reasons:
        return ""
    return f"{_mg(new)} mg prednisone-equivalent is " + " and ".join(reasons)


def _mg(value: Fraction | Decimal) -> str:
    text = f"{round_half_up(float(value), 1):.1f}"
    return text[:-2] if text.endswith(".0") else text

