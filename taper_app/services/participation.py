"""End of participation (domain.md §7): an investigator ends a patient's participation on a
date with a disposition and a reason, or undoes it with a reason.

Each call is one transaction: the patient row is locked and its version moves on, and every
changed field lands in the audit trail with the reason. Nothing is deleted: the records
after the end date are kept (the figures stop counting at the end date).
"""

from __future__ import annotations

from datetime import date

from ..results import DISPOSITIONS
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import Problem, ValidationError
from .patients import lock_patient, touch
from .saving import saving
from .validation import check_reason

__all__ = ["DISPOSITIONS", "end_participation", "reopen_participation"]


def _end_date(value: object, problems: list[Problem]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        problems.append(Problem("end_date", f"{value!r} is not a date (YYYY-MM-DD)"))
        return None


@saving("end a patient's participation")
def end_participation(ctx: ServiceContext, subject_id: str, end_date: date | str,
                      disposition: str, reason: str,
                      patient_version: int | None = None) -> None:
    """End ``subject_id``'s participation on ``end_date`` (Day 1 to today)."""
    ctx.actor.require("end_participation")
    problems: list[Problem] = []
    end = _end_date(end_date, problems)
    disposition = str(disposition or "").strip().lower()
    if disposition not in DISPOSITIONS:
        problems.append(Problem("disposition", f"{disposition!r} is not one of "
                                               f"{', '.join(DISPOSITIONS)}"))
    problems += check_reason(reason)
    if end is not None and end > ctx.today():
        problems.append(Problem("end_date", f"{end.isoformat()} is in the future"))
    if problems:
        raise ValidationError(problems)
    assert end is not None
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        patient = lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        if patient.end_date is not None:
            raise ValidationError([Problem("end_date", (
                f"{subject_id}'s participation already ended on "
                f"{patient.end_date.isoformat()} ({patient.disposition}); reopen it first "
                "to change the end"))])
        if end < patient.day1_date:
            raise ValidationError([Problem("end_date", (
                f"{end.isoformat()} is before Day 1 ({patient.day1_date.isoformat()})"))])
        patient.end_date, patient.disposition = end, disposition
        patient.end_reason = reason.strip()
        touch(patient)
        audit.add_fields("end_participation", "patient", subject_id, [
            ("end_date", None, end.isoformat()), ("disposition", None, disposition)],
            reason=reason.strip(), subject_id=subject_id)
        uow.commit()


@saving("reopen a patient's participation")
def reopen_participation(ctx: ServiceContext, subject_id: str, reason: str,
                         patient_version: int | None = None) -> None:
    """Undo the end of ``subject_id``'s participation: the patient is active again."""
    ctx.actor.require("end_participation")
    problems = check_reason(reason)
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        patient = lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        if patient.end_date is None:
            raise ValidationError([Problem("subject_id", (
                f"{subject_id}'s participation has not ended; there is nothing to reopen"))])
        old_end, old_disposition = patient.end_date.isoformat(), patient.disposition
        patient.end_date = patient.disposition = patient.end_reason = None
        touch(patient)
        audit.add_fields("reopen_participation", "patient", subject_id, [
            ("end_date", old_end, None), ("disposition", old_disposition, None)],
            reason=reason.strip(), subject_id=subject_id)
        uow.commit()
