"""Corrections of enrollment and withdrawn amendments (issue 19, points 4 and 5).

An investigator corrects a patient's baseline, Day 1 or template, or withdraws an
amendment, each with a reason and their password again (re-authentication, counted and
audited like a sign-in). Either rebuilds the stored schedule: every step in force is kept
but retired (``retired_by_id``, pointing to a ``schedule_revision`` row), and the schedule
is generated again from the template and the baseline, then each amendment still in force
is applied again in order. A withdrawn amendment so leaves the schedule as if it had never
been made, and stays in the record, shown as withdrawn.

A correction with an amendment in force is refused: regenerating the schedule would drop
the investigator's amendment silently. Each call is one transaction; the patient row is
locked and its version moves on; every changed field lands in the audit trail with the
reason, and a signature covering the changed data is no longer valid (its data hash no
longer matches, services/signatures.py).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.schedule import Amendment as AmendmentSpec
from ..domain.schedule import (
    ScheduleStep,
    Template,
    amend_schedule,
    generate_schedule,
    replay_schedule,
)
from ..domain.units import format_mg, mg_to_ug, ug_to_mg
from ..storage.models import Amendment, Patient, ScheduleRevision, ScheduleStepRow, User
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import AuthenticationFailed, NotFound, Problem, ValidationError
from .patients import lock_patient, step_row, touch
from .records import PatientRecord
from .saving import saving
from .study import StudyInfo, check_password_in_session
from .validation import MAX_DAILY_PEQ_MG, check_reason, parse_amount, parse_date

__all__ = ["CORRECTABLE_FIELDS", "amendments_in_force", "correct_enrollment",
           "schedule_after_withdrawal", "withdraw_amendment"]

#: The enrollment fields a correction may change, with their labels.
CORRECTABLE_FIELDS = {"baseline_mg": "Baseline (mg/day PEQ)", "day1_date": "Day 1",
                      "template_id": "Schedule template"}


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _reauthenticate(session: Session, ctx: ServiceContext, password: str,
                    what: str) -> str | None:
    """None when ``password`` is the signed-in user's; else why not (failure audited)."""
    user = session.scalars(select(User).where(User.username == ctx.actor.username)).first()
    audit = AuditTrail(session, ctx.actor.username, ctx.clock)
    refused = check_password_in_session(session, audit, user, ctx.actor.username, password,
                                        ctx.clock(), "reauthenticate")
    return None if refused is None else f"{refused}; {what} was not saved"


def in_force_steps(session: Session, patient_id: int) -> list[ScheduleStepRow]:
    return list(session.scalars(select(ScheduleStepRow).where(
        ScheduleStepRow.patient_id == patient_id, ScheduleStepRow.superseded_by_id.is_(None),
        ScheduleStepRow.retired_by_id.is_(None)).order_by(ScheduleStepRow.day,
                                                          ScheduleStepRow.id)))


def _steps_text(rows: list[ScheduleStepRow]) -> str:
    return "; ".join(f"day {r.day}: {format_mg(r.dose_ug)} mg" for r in rows) or "(none)"


def rebuild_schedule(session: Session, patient: Patient, template: Template,
                     baseline_mg: Decimal, revision: ScheduleRevision) -> list[ScheduleStep]:
    """Retire every stored step and store the schedule again: generated from the template
    and baseline, then each amendment not withdrawn applied again in its order (as it was
    applied when made: the steps from its day are superseded by it). The steps as enrolled
    (template steps) come back first, so the stored rows replay as at enrollment."""
    # Every stored step not yet retired goes, those amendments superseded too: the rows
    # written below are the whole schedule again, as a replay of the trail expects.
    for row in session.scalars(select(ScheduleStepRow).where(
            ScheduleStepRow.patient_id == patient.id, ScheduleStepRow.retired_by_id.is_(None))):
        row.retired_by_id = revision.id
    steps = generate_schedule(template, baseline_mg)
    rows = [step_row(patient.id, s) for s in steps]
    session.add_all(rows)
    session.flush()
    amendments = session.scalars(select(Amendment).where(
        Amendment.patient_id == patient.id, Amendment.withdrawn_at.is_(None))
        .order_by(Amendment.seq)).all()
    for a in amendments:
        for row in rows:
            if row.superseded_by_id is None and row.day >= a.day:
                row.superseded_by_id = a.id
        steps = amend_schedule(steps, template, baseline_mg,
                               AmendmentSpec(a.day, ug_to_mg(a.dose_ug), a.reason), a.seq)
        new = [step_row(patient.id, s, a.id) for s in steps if s.amendment_seq == a.seq]
        session.add_all(new)
        rows += new
        session.flush()
    return steps


def amendments_in_force(record: PatientRecord) -> list[int]:
    """The numbers of the patient's amendments not withdrawn."""
    return [a.seq for a in record.amendments if not a.withdrawn]


def schedule_after_withdrawal(study: StudyInfo, record: PatientRecord,
                              seq: int) -> list[ScheduleStep]:
    """The schedule withdrawing amendment ``seq`` would store (the window's preview)."""
    return replay_schedule(study.templates[record.template_id], record.baseline_mg, [
        (a.seq, AmendmentSpec(a.day, a.dose_mg, a.reason)) for a in record.amendments
        if not a.withdrawn and a.seq != seq])


def _new_revision(session: Session, ctx: ServiceContext, patient: Patient, kind: str,
                  reason: str, amendment_id: int | None = None) -> ScheduleRevision:
    revision = ScheduleRevision(patient_id=patient.id, kind=kind, amendment_id=amendment_id,
                                reason=reason, created_at=_naive(ctx.clock()),
                                created_by=ctx.actor.username)
    session.add(revision)
    session.flush()
    return revision


def _check_correction(fields: dict[str, object], study: StudyInfo,
                      today: date) -> tuple[dict[str, object], list[Problem]]:
    """The corrected values given (blank: unchanged), checked as at enrollment."""
    problems: list[Problem] = []
    unknown = sorted(set(fields) - set(CORRECTABLE_FIELDS) - {"reason"})
    for name in unknown:
        problems.append(Problem(name, "cannot be corrected here (baseline_mg, day1_date or "
                                      "template_id)"))
    given = {k: v for k, v in fields.items()
             if k in CORRECTABLE_FIELDS and v is not None and str(v).strip()}
    values: dict[str, object] = {}
    if "baseline_mg" in given:
        baseline = parse_amount(given["baseline_mg"], "baseline_mg", problems, positive=True)
        if baseline is not None and baseline > MAX_DAILY_PEQ_MG:
            problems.append(Problem("baseline_mg", f"{baseline} mg/day is not plausible "
                                                   f"(over {MAX_DAILY_PEQ_MG:,})"))
        elif baseline is not None:
            values["baseline_mg"] = baseline
    if "day1_date" in given:
        day1 = parse_date(given["day1_date"], "day1_date", today, problems)
        if day1 is not None:
            values["day1_date"] = day1
    if "template_id" in given:
        template = str(given["template_id"]).strip()
        if template not in study.templates:
            known = ", ".join(sorted(study.templates))
            problems.append(Problem("template_id",
                                    f"unknown template {template!r} (known: {known})"))
        else:
            values["template_id"] = template
    if not given and not unknown:
        problems.append(Problem("baseline_mg", "give at least one of the corrected baseline, "
                                               "Day 1 or template"))
    problems += check_reason(fields.get("reason"))
    return values, problems


@saving("correct an enrollment")
def correct_enrollment(ctx: ServiceContext, study: StudyInfo, subject_id: str,
                       fields: dict[str, object], password: str,
                       patient_version: int | None = None) -> list[str]:
    """Correct ``subject_id``'s baseline, Day 1 and/or template (``fields``: any of
    ``baseline_mg``, ``day1_date``, ``template_id``, and ``reason``).

    Returns the names of the fields that changed. With no amendment in force the schedule
    is generated again (a new baseline or template changes it; the old steps are kept,
    retired); with one it is refused, saying what to do. ``password`` re-authenticates.
    """
    ctx.actor.require("correct_enrollment")
    values, problems = _check_correction(fields, study, ctx.today())
    if problems:
        raise ValidationError(problems)
    reason = str(fields.get("reason")).strip()
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        refused = _reauthenticate(session, ctx, password, "the correction")
        if refused is not None:
            uow.commit()  # the failure's audit row and count are kept
            raise AuthenticationFailed(refused)
        patient = lock_patient(session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        old = {"baseline_mg": ug_to_mg(patient.baseline_ug), "day1_date": patient.day1_date,
               "template_id": patient.template_id}
        changed = {k: v for k, v in values.items() if v != old[k]}
        if not changed:
            raise ValidationError([Problem(next(iter(values)), (
                "is the value already enrolled; nothing to correct"))])
        in_force = session.scalars(select(Amendment.seq).where(
            Amendment.patient_id == patient.id, Amendment.withdrawn_at.is_(None))
            .order_by(Amendment.seq)).all()
        if in_force:
            numbers = ", ".join(str(s) for s in in_force)
            raise ValidationError([Problem(next(iter(changed)), (
                f"{subject_id}'s schedule has amendment{'s' if len(in_force) > 1 else ''} "
                f"{numbers} in force, made on the schedule as enrolled; a correction would "
                "regenerate it. Withdraw the amendment(s) first (each with its reason), "
                "correct the enrollment, then amend the new schedule again if still "
                "needed."))])
        day1 = changed.get("day1_date", patient.day1_date)
        assert isinstance(day1, date)
        if patient.end_date is not None and patient.end_date < day1:
            raise ValidationError([Problem("day1_date", (
                f"{day1.isoformat()} is after the end of participation "
                f"({patient.end_date.isoformat()}); reopen the participation first"))])
        audit = AuditTrail(session, ctx.actor.username, ctx.clock)
        rows: list[tuple[str, object, object]] = []
        if "day1_date" in changed:
            patient.day1_date = day1
            rows.append(("day1_date", old["day1_date"].isoformat(),  # type: ignore[attr-defined]
                         day1.isoformat()))
        if "baseline_mg" in changed:
            baseline = changed["baseline_mg"]
            assert isinstance(baseline, Decimal)
            new_ug = mg_to_ug(baseline)
            rows.append(("baseline_mg", format_mg(patient.baseline_ug), format_mg(new_ug)))
            patient.baseline_ug = new_ug
        if "template_id" in changed:
            rows.append(("template_id", patient.template_id, changed["template_id"]))
            patient.template_id = str(changed["template_id"])
        if {"baseline_mg", "template_id"} & set(changed):
            before = _steps_text(in_force_steps(session, patient.id))
            revision = _new_revision(session, ctx, patient, "correction", reason)
            rebuild_schedule(session, patient, study.templates[patient.template_id],
                             ug_to_mg(patient.baseline_ug), revision)
            after = _steps_text(in_force_steps(session, patient.id))
            rows.append(("schedule", before, after))
        touch(patient)
        audit.add_fields("correct_enrollment", "patient", subject_id, rows, reason=reason,
                         subject_id=subject_id)
        uow.commit()
        return list(changed)


@saving("withdraw an amendment")
def withdraw_amendment(ctx: ServiceContext, study: StudyInfo, subject_id: str, seq: int,
                       reason: str, password: str,
                       patient_version: int | None = None) -> str:
    """Withdraw amendment ``seq`` of ``subject_id``: the schedule is stored again as if it
    had not been made (later amendments still in force are applied again); the amendment
    stays, shown as withdrawn. Returns the schedule now in force, as text."""
    ctx.actor.require("amend_schedule")
    problems = check_reason(reason)
    if problems:
        raise ValidationError(problems)
    reason = reason.strip()
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        refused = _reauthenticate(session, ctx, password, "the withdrawal")
        if refused is not None:
            uow.commit()
            raise AuthenticationFailed(refused)
        patient = lock_patient(session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        amendment = session.scalars(select(Amendment).where(
            Amendment.patient_id == patient.id, Amendment.seq == seq)).first()
        if amendment is None:
            raise NotFound(f"{subject_id} has no amendment {seq}")
        if amendment.withdrawn_at is not None:
            raise ValidationError([Problem("amendment", (
                f"amendment {seq} was already withdrawn by {amendment.withdrawn_by} "
                f"({amendment.withdraw_reason})"))])
        before = _steps_text(in_force_steps(session, patient.id))
        amendment.withdrawn_at = _naive(ctx.clock())
        amendment.withdrawn_by = ctx.actor.username
        amendment.withdraw_reason = reason
        revision = _new_revision(session, ctx, patient, "withdrawal", reason, amendment.id)
        rebuild_schedule(session, patient, study.templates[patient.template_id],
                         ug_to_mg(patient.baseline_ug), revision)
        after = _steps_text(in_force_steps(session, patient.id))
        touch(patient)
        AuditTrail(session, ctx.actor.username, ctx.clock).add_fields(
            "withdraw_amendment", "schedule", f"{subject_id}#{seq}",
            [("status", "in force", "withdrawn"), ("schedule", before, after)],
            reason=reason, subject_id=subject_id)
        uow.commit()
        return after
