"""Source-data verification (SDV): a monitor marks a patient's dose records verified, one
record or every valid record starting on or before a date. A mark holds the record's
version; a record changed afterwards (voided, closed, corrected) is no longer verified,
and shows as changed since verification. Marks are never deleted; each is audited.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..results import SdvStatus
from ..storage.engine import Database
from ..storage.models import DoseRecordRow, Patient, SdvMark
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import NotFound, Problem, ValidationError
from .patients import lock_patient
from .saving import saving


def _mark(session: Session, audit: AuditTrail, patient: Patient, row: DoseRecordRow,
          through: date | None, username: str) -> None:
    session.add(SdvMark(patient_id=patient.id, dose_record_id=row.id,
                        record_version=row.version, verified_through=through,
                        verified_by=username, verified_at_utc=audit.at))
    audit.add("verify_source", "dose_record", row.id, "sdv", None,
              f"verified (record version {row.version})"
              + ("" if through is None else f" through {through.isoformat()}"),
              subject_id=patient.subject_id)


@saving("mark records source-verified")
def verify_source(ctx: ServiceContext, subject_id: str, through: date | None = None,
                  record_id: int | None = None) -> int:
    """Mark ``subject_id``'s valid records starting on or before ``through`` (or the one
    record ``record_id``) as source-verified; returns how many were marked (records
    already verified at their current version are not marked again)."""
    ctx.actor.require("verify_source")
    if (through is None) == (record_id is None):
        raise ValidationError([Problem("through", "give a date to verify through, or one "
                                                  "record")])
    if through is not None and through > ctx.today():
        raise ValidationError([Problem("through", f"{through.isoformat()} is in the future")])
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        audit = AuditTrail(session, ctx.actor.username, ctx.clock)
        patient = lock_patient(session, ctx.actor, subject_id=subject_id)
        stmt = select(DoseRecordRow).where(DoseRecordRow.patient_id == patient.id,
                                           DoseRecordRow.voided.is_(False))
        if record_id is not None:
            stmt = stmt.where(DoseRecordRow.id == record_id)
        else:
            assert through is not None
            stmt = stmt.where(DoseRecordRow.start_date <= through)
        rows = session.scalars(stmt.order_by(DoseRecordRow.start_date, DoseRecordRow.id)).all()
        if record_id is not None and not rows:
            raise NotFound(f"{subject_id} has no valid dose record {record_id}")
        current = marks_in_session(session, patient.id)
        marked = 0
        for row in rows:
            mark = current.get(row.id)
            if mark is not None and not mark.changed:
                continue
            _mark(session, audit, patient, row, through, ctx.actor.username)
            marked += 1
        uow.commit()
        return marked


def marks_in_session(session: Session, patient_id: int | None = None) -> dict[int, SdvStatus]:
    """Each marked record's latest mark (of one patient, or all), with ``changed`` set
    when the record's version moved on since."""
    stmt = (select(SdvMark.dose_record_id, SdvMark.verified_by, SdvMark.verified_at_utc,
                   SdvMark.verified_through, SdvMark.record_version, DoseRecordRow.version)
            .join(DoseRecordRow, DoseRecordRow.id == SdvMark.dose_record_id)
            .order_by(SdvMark.id))
    if patient_id is not None:
        stmt = stmt.where(SdvMark.patient_id == patient_id)
    out: dict[int, SdvStatus] = {}
    for rid, by, at, through, marked_version, version in session.execute(stmt):
        out[rid] = SdvStatus(rid, by, at, through, marked_version != version)
    return out


def sdv_marks(db: Database, subject_id: str | None = None) -> dict[int, SdvStatus]:
    """The latest mark of every marked record (of one patient, or the study)."""
    with UnitOfWork(db, write=False) as uow:
        patient_id = None
        if subject_id is not None:
            patient_id = uow.session.scalars(select(Patient.id).where(
                Patient.subject_id == subject_id)).first()
            if patient_id is None:
                raise NotFound(f"no patient {subject_id!r}")
        return marks_in_session(uow.session, patient_id)


def marks_by_patient(db: Database) -> dict[int, dict[int, SdvStatus]]:
    """Every patient's marks (patient id -> record id -> latest mark), in one read: the
    window's list load."""
    with UnitOfWork(db, write=False) as uow:
        owners = {record_id: patient_id for record_id, patient_id in uow.session.execute(
            select(SdvMark.dose_record_id, SdvMark.patient_id))}
        out: dict[int, dict[int, SdvStatus]] = {}
        for record_id, mark in marks_in_session(uow.session).items():
            out.setdefault(owners[record_id], {})[record_id] = mark
        return out


def verified_through(marks: dict[int, SdvStatus]) -> date | None:
    """The latest date a patient's records were verified through, among marks still valid
    (the list's "verified through …"); None when nothing was verified through a date."""
    dates = [m.verified_through for m in marks.values()
             if not m.changed and m.verified_through is not None]
    return max(dates) if dates else None


def changed_since(marks: dict[int, SdvStatus]) -> int:
    """How many marked records were changed after their verification."""
    return sum(1 for m in marks.values() if m.changed)
