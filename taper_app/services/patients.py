"""Clinical data entry: enroll, record a dose, void or correct it, amend a schedule.

Each function is one transaction with its audit rows; a refused call writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain.doses import DoseRecord, daily_series
from ..domain.schedule import Amendment as AmendmentSpec
from ..domain.schedule import ScheduleStep, amend_schedule, generate_schedule
from ..domain.units import format_mg, mg_to_ug, ug_to_mg
from ..storage.models import Amendment, DoseRecordRow, Patient, ScheduleStepRow, Site
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .auth import Actor
from .context import ServiceContext
from .entry import closes_ongoing_record
from .errors import NotFound, Problem, ServiceError, StaleData, ValidationError
from .lock_order import patient_locked, require_patient_held
from .records import PatientRecord, find_patient_row, load_patient
from .saving import saving
from .study import StudyInfo
from .validation import (
    MAX_DAILY_PEQ_MG,
    ValidDose,
    ValidEnrollment,
    check_dose,
    check_enrollment,
    check_reason,
    parse_amount,
)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def lock_patient(session: Session, actor: Actor, *, subject_id: str | None = None,
                 patient_id: int | None = None, expected_version: int | None = None) -> Patient:
    """Lock the patient's row for this transaction, check the user's site and, when the
    caller read the record at ``expected_version``, that nobody changed it since.

    The first lock of a transaction (services/lock_order.py): before any of the patient's
    other rows and before the audit chain's head; several patients in subject order."""
    stmt = select(Patient).with_for_update()
    stmt = (stmt.where(Patient.subject_id == subject_id) if subject_id is not None
            else stmt.where(Patient.id == patient_id))
    patient = session.scalars(stmt).first()
    if patient is None:
        raise NotFound(f"no patient {subject_id!r}")
    patient_locked(session, patient.id, patient.subject_id)
    actor.require_site(patient.site_code)
    if expected_version is not None and patient.version != expected_version:
        raise StaleData(f"{patient.subject_id} was changed by someone else since you opened it "
                        "(another window or user). Nothing was saved and your entry is kept: "
                        "reload the patient, check, and save again.")
    return patient


def lock_patients(session: Session, actor: Actor, subject_ids: Sequence[str]) -> dict[
        str, Patient]:
    """Lock many patients' rows at once, in subject order (so two writers locking several
    never wait on each other in a circle), checking the user's site for each."""
    wanted = sorted(set(subject_ids))
    locked: dict[str, Patient] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        chunk = wanted[start:start + 500]
        for patient in session.scalars(select(Patient).where(Patient.subject_id.in_(chunk))
                                       .order_by(Patient.subject_id).with_for_update()):
            patient_locked(session, patient.id, patient.subject_id)
            actor.require_site(patient.site_code)
            locked[patient.subject_id] = patient
    missing = [s for s in wanted if s not in locked]
    if missing:
        raise NotFound(f"no patient {missing[0]!r}")
    return locked


def touch(patient: Patient) -> None:
    """Every change to a patient's record moves its version on."""
    patient.version = patient.version + 1


def format_steps(steps: Sequence[ScheduleStep]) -> str:
    return "; ".join(f"day {s.day}: {s.dose_mg} mg" for s in steps) or "(none)"


def step_row(patient_id: int, step: ScheduleStep,
             amendment_id: int | None = None) -> ScheduleStepRow:
    """The stored row of a schedule step, with the frequency it was written with."""
    administered = None if step.administered_mg is None else mg_to_ug(step.administered_mg)
    return ScheduleStepRow(patient_id=patient_id, day=step.day, dose_ug=mg_to_ug(step.dose_mg),
                           amendment_id=amendment_id, frequency=step.frequency,
                           administered_ug=administered)


def preview_schedule(study: StudyInfo, template_id: str, baseline_mg: Decimal) -> list[
        ScheduleStep]:
    """The schedule enrollment would store, for the window to show before saving."""
    template = study.templates.get(template_id)
    if template is None:
        raise NotFound(f"no template {template_id!r}")
    return generate_schedule(template, baseline_mg)


# ---------------------------------------------------------------- enroll

def enroll_in_session(session: Session, audit: AuditTrail, study: StudyInfo,
                      e: ValidEnrollment, actor: str, now: datetime) -> Patient:
    """Enrollment inside an open unit of work (shared by the window and the import)."""
    if session.scalars(select(Patient).where(Patient.subject_id == e.subject_id)).first():
        raise ValidationError([Problem("subject_id", f"{e.subject_id!r} is already enrolled")])
    if session.get(Site, e.site) is None:
        session.add(Site(code=e.site, created_at=_naive(now)))
        session.flush()  # no ORM relationship orders this insert before the patient's
        audit.add("add_site", "site", e.site, "code", None, e.site)
    patient = Patient(subject_id=e.subject_id, site_code=e.site, day1_date=e.day1_date,
                      baseline_ug=e.baseline_ug, template_id=e.template_id,
                      kit_number=e.kit_number, notes=e.notes, created_at=_naive(now),
                      created_by=actor)
    session.add(patient)
    session.flush()
    steps = generate_schedule(study.templates[e.template_id], ug_to_mg(e.baseline_ug))
    for step in steps:
        session.add(step_row(patient.id, step))
    audit.add_fields("enroll", "patient", e.subject_id, [
        ("site", None, e.site), ("day1_date", None, e.day1_date.isoformat()),
        ("baseline_mg", None, format_mg(e.baseline_ug)), ("template_id", None, e.template_id),
        *[(name, None, value) for name, value in (("kit_number", e.kit_number),
                                                  ("notes", e.notes)) if value is not None],
        ("schedule", None, format_steps(steps))], subject_id=e.subject_id)
    return patient


@saving("enroll a patient")
def enroll_patient(ctx: ServiceContext, study: StudyInfo, fields: dict[str, object]) -> str:
    """Enroll a patient and store the schedule generated from the template and baseline."""
    ctx.actor.require("enroll_patient")
    valid, problems = check_enrollment(fields, set(study.templates), ctx.today())
    if valid is None:
        raise ValidationError(problems)
    ctx.actor.require_site(valid.site)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        enroll_in_session(uow.session, audit, study, valid, ctx.actor.username, ctx.clock())
        uow.commit()
    return valid.subject_id


# ---------------------------------------------------------------- doses

def _dose_fields(d: ValidDose | DoseRecordRow) -> list[tuple[str, object, object]]:
    return [("drug", None, d.drug), ("dose_mg", None, format_mg(d.dose_ug)),
            ("frequency", None, d.frequency), ("route", None, d.route),
            ("start_date", None, d.start_date.isoformat()),
            ("end_date", None, d.end_date.isoformat() if d.end_date else None),
            ("source", None, d.source), ("comment", None, d.comment),
            ("deviation_reason", None, d.deviation_reason)]


def add_dose_in_session(session: Session, audit: AuditTrail, patient: Patient, dose: ValidDose,
                        actor: str, now: datetime, replaces_id: int | None = None,
                        reason: str | None = None) -> DoseRecordRow:
    row = DoseRecordRow(patient_id=patient.id, drug=dose.drug, dose_ug=dose.dose_ug,
                        frequency=dose.frequency, route=dose.route, start_date=dose.start_date,
                        end_date=dose.end_date, source=dose.source, comment=dose.comment,
                        deviation_reason=dose.deviation_reason, created_at=_naive(now),
                        created_by=actor, voided=False, replaces_id=replaces_id)
    session.add(row)
    session.flush()
    fields = _dose_fields(dose)
    if replaces_id is not None:
        fields.append(("replaces_id", None, replaces_id))
    audit.add_fields("record_dose", "dose_record", row.id,
                     [f for f in fields if f[2] is not None], reason=reason,
                     subject_id=patient.subject_id)
    return row


def ongoing_record(record: PatientRecord) -> list[int]:
    """Ids of the patient's valid records with no end date (the ones a new dose may close)."""
    return [d.id for d in record.doses
            if not d.voided and d.end_date is None and d.frequency != "ONCE"]


@dataclass(frozen=True)
class SavedDose:
    record_id: int
    closed_record_ids: tuple[int, ...]
    #: True when the dose repeats the ongoing record: nothing was written, and
    #: ``record_id`` is that ongoing record.
    unchanged: bool = False


def over_daily_limit(session: Session, study: StudyInfo, patient: Patient,
                     new_rows: Sequence[DoseRecordRow], today: date) -> dict[int, str]:
    """New records on whose dates all the patient's valid records together exceed the
    plausible PEQ in one day (interfaces.md: over 2,000 mg), each with its worst day.

    Checked inside the writing transaction, after the new rows are flushed, so records
    entered together (an import) and records already stored are all counted, and the
    check sees exactly what would be committed.
    """
    if not new_rows:
        return {}
    def last(row: DoseRecordRow) -> date:
        if row.frequency == "ONCE":
            return row.start_date
        return row.end_date if row.end_date is not None else max(today, row.start_date)

    session.flush()
    first_date = min(r.start_date for r in new_rows)
    last_date = max(last(r) for r in new_rows)
    # Only the records that overlap the new ones' dates (a daily diary has a thousand).
    stored = session.scalars(select(DoseRecordRow).where(
        DoseRecordRow.patient_id == patient.id, DoseRecordRow.voided.is_(False),
        DoseRecordRow.start_date <= last_date,
        or_(DoseRecordRow.end_date.is_(None), DoseRecordRow.end_date >= first_date))).all()
    records = [DoseRecord(r.drug, r.dose_ug, r.frequency, r.route, r.start_date, r.end_date)
               for r in stored]
    series = daily_series(records, study.equivalence, first_date, last_date)
    limit = float(MAX_DAILY_PEQ_MG) + 1e-6
    over: dict[int, str] = {}
    for row in new_rows:
        lo = (row.start_date - series.first_date).days
        window = series.actual[lo:(last(row) - series.first_date).days + 1]
        if window.size and float(window.max()) > limit:
            worst = lo + int(window.argmax())
            over[row.id] = daily_limit_message(series.date_at(worst),
                                               float(series.actual[worst]))
    return over


def daily_limit_message(day: date, total_mg: float) -> str:
    """Why a day over the plausible PEQ is refused (the form's and the import's words)."""
    return (f"with the patient's other records, {day.isoformat()} would total "
            f"{total_mg:,.1f} mg prednisone-equivalent; over {MAX_DAILY_PEQ_MG:,} mg in one "
            "day is not plausible")


def refuse_over_daily_limit(session: Session, study: StudyInfo, patient: Patient,
                            row: DoseRecordRow, today: date) -> None:
    """Raise a ``dose_mg`` problem if the one new record takes a day over the limit."""
    over = over_daily_limit(session, study, patient, [row], today)
    if over:
        raise ValidationError([Problem("dose_mg", over[row.id])])


@saving("record a dose")
def record_dose(ctx: ServiceContext, study: StudyInfo, subject_id: str,
                fields: dict[str, object], *, close_ongoing: bool = False,
                patient_version: int | None = None) -> SavedDose:
    """Record one dose; with ``close_ongoing`` every ongoing record ends the day before it.

    A one-off (ONCE) or one-day dose never closes the ongoing record: it comes on top.
    An ongoing dose that repeats the ongoing record (same drug, amount, frequency and
    route) writes nothing: the patient is still on it (``SavedDose.unchanged``); with a
    comment or reason typed it is refused instead, so the note is not silently lost.
    """
    ctx.actor.require("record_dose")
    dose, problems = check_dose(fields, study.equivalence, ctx.today())
    if dose is None:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        patient = lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        same = _repeated_ongoing(uow.session, patient, dose)
        if same is not None:
            if dose.comment or dose.deviation_reason:  # never drop what was typed
                raise ValidationError([Problem(
                    "comment" if dose.comment else "deviation_reason",
                    "the patient is already on this dose, so there is nothing new to "
                    "record and this note would be lost: leave it empty, or correct the "
                    "ongoing record to add it")])
            return SavedDose(same, (), unchanged=True)
        touch(patient)
        closed: list[int] = []
        if close_ongoing and closes_ongoing_record(dose.frequency, dose.start_date,
                                                   dose.end_date):
            closed = _close_ongoing(uow.session, audit, patient, dose.start_date)
        row = add_dose_in_session(uow.session, audit, patient, dose, ctx.actor.username,
                                  ctx.clock())
        refuse_over_daily_limit(uow.session, study, patient, row, ctx.today())
        uow.commit()
        return SavedDose(row.id, tuple(closed))


def _repeated_ongoing(session: Session, patient: Patient, dose: ValidDose) -> int | None:
    if dose.end_date is not None or dose.frequency == "ONCE":
        return None
    return session.scalars(select(DoseRecordRow.id).where(
        DoseRecordRow.patient_id == patient.id, DoseRecordRow.voided.is_(False),
        DoseRecordRow.end_date.is_(None), DoseRecordRow.frequency == dose.frequency,
        DoseRecordRow.drug == dose.drug, DoseRecordRow.dose_ug == dose.dose_ug,
        DoseRecordRow.route == dose.route, DoseRecordRow.start_date < dose.start_date,
    ).order_by(DoseRecordRow.id).limit(1)).first()


def _close_ongoing(session: Session, audit: AuditTrail, patient: Patient,
                   new_start: date) -> list[int]:
    closed = []
    rows = session.scalars(select(DoseRecordRow).where(
        DoseRecordRow.patient_id == patient.id, DoseRecordRow.voided.is_(False),
        DoseRecordRow.end_date.is_(None), DoseRecordRow.frequency != "ONCE"))
    for row in rows:
        if row.start_date >= new_start:
            raise ValidationError([Problem(
                "start_date", f"the ongoing record ({_described(row)}) does not start before "
                "this dose, so it cannot be closed the day before")])
        end = new_start - timedelta(days=1)
        row.end_date = end
        audit.add("close_dose", "dose_record", row.id, "end_date", None, end.isoformat(),
                  reason="closed when a new dose started", subject_id=patient.subject_id)
        closed.append(row.id)
    return closed


def _dose_record(session: Session, record_id: int) -> DoseRecordRow:
    """The record, not yet locked: its patient is locked first (services/lock_order.py)."""
    row = session.get(DoseRecordRow, record_id)
    if row is None:
        raise NotFound(f"no dose record {record_id}")
    return row


def _locked_dose(session: Session, row: DoseRecordRow,
                 expected_version: int | None) -> DoseRecordRow:
    """Lock a record of a patient this transaction holds, and read it again under the lock."""
    require_patient_held(session, row.patient_id)
    session.refresh(row, with_for_update=True)
    if expected_version is not None and row.version != expected_version:
        raise StaleData(f"the dose record {_described(row)} was changed by someone else since "
                        "you opened it; reload the patient and try again (your input is kept)")
    if row.voided:
        raise ServiceError(f"the dose record {_described(row)} is already voided "
                           f"({row.void_reason}); it cannot be changed")
    return row


def _described(row: DoseRecordRow) -> str:
    """A dose record in the words of the chart (never its internal number)."""
    return (f"{row.drug} {format_mg(row.dose_ug)} mg {row.frequency} from "
            f"{row.start_date.isoformat()}")


def _void_in_session(session: Session, audit: AuditTrail, row: DoseRecordRow, reason: str,
                     actor: str, now: datetime) -> None:
    row.voided = True
    row.void_reason = reason
    row.voided_by = actor
    row.voided_at = _naive(now)
    patient = session.get(Patient, row.patient_id)
    assert patient is not None
    audit.add("void_dose", "dose_record", row.id, "voided", False, True, reason=reason,
              subject_id=patient.subject_id)


@saving("void a dose record")
def void_dose(ctx: ServiceContext, record_id: int, reason: str,
              expected_version: int | None = None, patient_version: int | None = None) -> None:
    """Void a wrong record with a reason; it stays in the record and the audit trail."""
    ctx.actor.require("void_dose")
    problems = check_reason(reason)
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        row = _dose_record(uow.session, record_id)
        patient = lock_patient(uow.session, ctx.actor, patient_id=row.patient_id,
                               expected_version=patient_version)
        row = _locked_dose(uow.session, row, expected_version)
        touch(patient)
        _void_in_session(uow.session, audit, row, reason.strip(), ctx.actor.username, ctx.clock())
        uow.commit()


@saving("correct a dose record")
def correct_dose(ctx: ServiceContext, study: StudyInfo, record_id: int, reason: str,
                 fields: dict[str, object], expected_version: int | None = None,
                 patient_version: int | None = None) -> int:
    """One action for the user: void the wrong record and enter the right one, together."""
    ctx.actor.require("void_dose")
    ctx.actor.require("record_dose")
    dose, problems = check_dose(fields, study.equivalence, ctx.today())
    problems = check_reason(reason) + problems
    if dose is None or problems:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        row = _dose_record(uow.session, record_id)
        patient = lock_patient(uow.session, ctx.actor, patient_id=row.patient_id,
                               expected_version=patient_version)
        row = _locked_dose(uow.session, row, expected_version)
        touch(patient)
        _void_in_session(uow.session, audit, row, reason.strip(), ctx.actor.username, ctx.clock())
        new = add_dose_in_session(uow.session, audit, patient, dose, ctx.actor.username,
                                  ctx.clock(), replaces_id=row.id, reason=reason.strip())
        refuse_over_daily_limit(uow.session, study, patient, new, ctx.today())
        uow.commit()
        return new.id


# ---------------------------------------------------------------- amendments

def amended_steps(study: StudyInfo, record: PatientRecord, day: int,
                  dose_mg: Decimal) -> list[ScheduleStep]:
    """The schedule an amendment would give (for a preview, and for saving)."""
    template = study.templates[record.template_id]
    return amend_schedule(record.steps, template, record.baseline_mg,
                          AmendmentSpec(day, dose_mg, ""), len(record.amendments) + 1)


def check_amendment(fields: dict[str, object]) -> tuple[int | None, Decimal | None, str,
                                                        list[Problem]]:
    problems: list[Problem] = []
    day_raw = fields.get("day")
    day: int | None = None
    day_text = str(day_raw if day_raw is not None else "").strip()
    if re.fullmatch(r"[0-9]{1,6}", day_text):  # ASCII digits only: int() takes 1_0 and ١٠
        day = int(day_text)
        if day < 1 or day > 3650:
            problems.append(Problem("day", f"{day} is not a study day from 1 to 3650"))
            day = None
    else:
        shown = day_text if len(day_text) <= 24 else day_text[:20] + "…"
        problems.append(Problem("day", f"{shown!r} is not a whole study day (digits 0-9)"))
    dose = parse_amount(fields.get("dose_mg"), "dose_mg", problems)
    if dose is not None and dose > MAX_DAILY_PEQ_MG:
        problems.append(Problem("dose_mg", f"{dose} mg/day is not plausible"))
    reason = str(fields.get("reason") or "").strip()
    problems += check_reason(reason)
    return day, dose, reason, problems


def amend_in_session(session: Session, audit: AuditTrail, study: StudyInfo, subject_id: str,
                     day: int, dose: Decimal, reason: str, actor: str, now: datetime) -> int:
    record = load_patient(session, subject_id)
    patient = find_patient_row(session, subject_id)
    touch(patient)
    steps = amended_steps(study, record, day, dose)
    seq = len(record.amendments) + 1
    amendment = Amendment(patient_id=patient.id, seq=seq, day=day, dose_ug=mg_to_ug(dose),
                          reason=reason, created_at=_naive(now), created_by=actor)
    session.add(amendment)
    session.flush()
    old_rows = session.scalars(select(ScheduleStepRow).where(
        ScheduleStepRow.patient_id == patient.id, ScheduleStepRow.superseded_by_id.is_(None),
        ScheduleStepRow.retired_by_id.is_(None), ScheduleStepRow.day >= day)).all()
    for row in old_rows:
        row.superseded_by_id = amendment.id
    for step in steps:
        if step.amendment_seq == seq:
            session.add(step_row(patient.id, step, amendment.id))
    old_text = format_steps([s for s in record.steps if s.day >= day])
    new_text = format_steps([s for s in steps if s.day >= day])
    audit.add_fields("amend_schedule", "schedule", f"{subject_id}#{seq}", [
        ("from_day", None, day), ("dose_mg", None, f"{dose}"), ("steps", old_text, new_text)],
        reason=reason, subject_id=subject_id)
    return seq


@saving("amend a schedule")
def amend_patient_schedule(ctx: ServiceContext, study: StudyInfo, subject_id: str,
                           fields: dict[str, object], patient_version: int | None = None) -> int:
    """From study day D the dose is X (a flare, say); the taper then resumes from X."""
    ctx.actor.require("amend_schedule")
    day, dose, reason, problems = check_amendment(fields)
    if problems or day is None or dose is None:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                     expected_version=patient_version)
        seq = amend_in_session(uow.session, audit, study, subject_id, day, dose, reason,
                               ctx.actor.username, ctx.clock())
        uow.commit()
        return seq
