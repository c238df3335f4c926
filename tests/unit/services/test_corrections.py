"""Corrections of enrollment and withdrawn amendments (issue 19, points 4 and 5): the
schedule is stored again (old steps kept, retired), a correction with an amendment in
force is refused saying what to do, a withdrawn amendment stays shown and the schedule
resumes as if it had not been made; re-authenticated, audited, signatures no longer valid,
and ``audit verify``'s replay agrees. Both backends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from taper_app.domain.schedule import Amendment as AmendmentSpec
from taper_app.domain.schedule import amend_schedule, generate_schedule
from taper_app.services.audit import verify_chain
from taper_app.services.audit_reconcile import reconcile
from taper_app.services.corrections import (
    amendments_in_force,
    correct_enrollment,
    schedule_after_withdrawal,
    withdraw_amendment,
)
from taper_app.services.errors import (
    AuthenticationFailed,
    PermissionDenied,
    StaleData,
    ValidationError,
)
from taper_app.services.patients import amend_patient_schedule, enroll_patient
from taper_app.services.records import load_patient
from taper_app.services.signatures import sign_record, signatures_for
from taper_app.services.study import StudyInfo
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context

SUBJECT = "101-001"


@pytest.fixture
def enrolled(db: Database, study: StudyInfo) -> Database:
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": SUBJECT, "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "20", "template_id": "stepdown-a"})
    return db


def _steps(db: Database) -> list[tuple[int, Decimal]]:
    with UnitOfWork(db, write=False) as uow:
        return [(s.day, s.dose_mg) for s in load_patient(uow.session, SUBJECT).steps]


def _audit(db: Database, action: str) -> list[tuple[str, str | None, str | None, str | None]]:
    with UnitOfWork(db, write=False) as uow:
        return [(r.field, r.old_value, r.new_value, r.reason) for r in uow.session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.action == action)
            .order_by(models.AuditEntry.id))]


def _trail_agrees(db: Database) -> None:
    with UnitOfWork(db, write=False) as uow:
        assert verify_chain(uow.session).ok
        assert [str(d) for d in reconcile(uow.session)] == []


def test_a_corrected_baseline_regenerates_the_schedule_and_keeps_the_old_steps(
        enrolled: Database, study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    before = _steps(enrolled)
    changed = correct_enrollment(investigator, study, SUBJECT,
                                 {"baseline_mg": "30", "reason": "baseline misread"}, PASSWORD)
    assert changed == ["baseline_mg"]
    expected = [(s.day, s.dose_mg) for s in
                generate_schedule(study.templates["stepdown-a"], Decimal(30))]
    assert _steps(enrolled) == expected != before
    with UnitOfWork(enrolled, write=False) as uow:
        patient = uow.session.scalars(select(models.Patient)).one()
        assert patient.baseline_ug == 30_000
        retired = uow.session.scalars(select(models.ScheduleStepRow).where(
            models.ScheduleStepRow.retired_by_id.is_not(None))).all()
        assert [(r.day, r.dose_ug / 1000) for r in retired] == [
            (d, float(mg)) for d, mg in before]  # kept, marked retired
        revision = uow.session.scalars(select(models.ScheduleRevision)).one()
        assert (revision.kind, revision.reason, revision.created_by) == (
            "correction", "baseline misread", "investigator")
    rows = _audit(enrolled, "correct_enrollment")
    assert rows[0] == ("baseline_mg", "20", "30", "baseline misread")
    assert rows[1][0] == "schedule" and rows[1][1] != rows[1][2]
    _trail_agrees(enrolled)


def test_day1_and_template_are_corrected_together(enrolled: Database,
                                                  study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    correct_enrollment(investigator, study, SUBJECT, {
        "day1_date": "2026-01-12", "template_id": "table-12wk", "baseline_mg": "",
        "reason": "wrong CRF page"}, PASSWORD)
    with UnitOfWork(enrolled, write=False) as uow:
        record = load_patient(uow.session, SUBJECT)
    assert (record.day1_date, record.template_id) == (date(2026, 1, 12), "table-12wk")
    assert [(s.day, s.dose_mg) for s in record.steps] == [
        (s.day, s.dose_mg) for s in generate_schedule(study.templates["table-12wk"],
                                                      Decimal(20))]
    assert [r[:3] for r in _audit(enrolled, "correct_enrollment")][:2] == [
        ("day1_date", "2026-01-05", "2026-01-12"), ("template_id", "stepdown-a", "table-12wk")]
    _trail_agrees(enrolled)


def test_a_correction_with_an_amendment_in_force_is_refused_saying_what_to_do(
        enrolled: Database, study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    steps = _steps(enrolled)
    with pytest.raises(ValidationError, match=r"amendment 1 in force.*Withdraw the "
                       r"amendment\(s\) first.*then amend the new schedule again"):
        correct_enrollment(investigator, study, SUBJECT,
                           {"baseline_mg": "30", "reason": "misread"}, PASSWORD)
    assert _steps(enrolled) == steps
    assert _audit(enrolled, "correct_enrollment") == []
    # Withdrawn, the amendment no longer blocks the correction.
    withdraw_amendment(investigator, study, SUBJECT, 1, "entered on the wrong patient",
                       PASSWORD)
    correct_enrollment(investigator, study, SUBJECT,
                       {"baseline_mg": "30", "reason": "misread"}, PASSWORD)
    _trail_agrees(enrolled)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"baseline_mg": "0", "reason": "r"}, "baseline_mg", "more than 0"),
    ({"baseline_mg": "abc", "reason": "r"}, "baseline_mg", ""),
    ({"baseline_mg": "3000", "reason": "r"}, "baseline_mg", "not plausible"),
    ({"day1_date": "2027-01-01", "reason": "r"}, "day1_date", "in the future"),
    ({"template_id": "nope", "reason": "r"}, "template_id", "unknown template"),
    ({"baseline_mg": "30", "reason": " "}, "reason", "a reason is required"),
    ({"reason": "r"}, "baseline_mg", "give at least one"),
    ({"baseline_mg": "20", "reason": "r"}, "baseline_mg", "already enrolled"),
    ({"site": "102", "reason": "r"}, "site", "cannot be corrected here"),
])
def test_bad_corrections_are_refused_field_by_field(enrolled: Database, study: StudyInfo,
                                                    fields: dict[str, object], field: str,
                                                    words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        correct_enrollment(context(enrolled, "investigator"), study, SUBJECT, fields, PASSWORD)
    assert any(words in m for m in caught.value.for_field(field)), caught.value.problems
    assert _audit(enrolled, "correct_enrollment") == []


def test_a_correction_needs_the_investigators_password_and_role(enrolled: Database,
                                                                 study: StudyInfo) -> None:
    steps = _steps(enrolled)
    with pytest.raises(AuthenticationFailed, match="the correction was not saved"):
        correct_enrollment(context(enrolled, "investigator"), study, SUBJECT,
                           {"baseline_mg": "30", "reason": "r"}, "wrong password!")
    assert _audit(enrolled, "reauthenticate_failed")  # the failure is audited
    with pytest.raises(PermissionDenied):
        correct_enrollment(context(enrolled, "nurse"), study, SUBJECT,
                           {"baseline_mg": "30", "reason": "r"}, PASSWORD)
    assert _steps(enrolled) == steps


def test_a_stale_view_is_refused(enrolled: Database, study: StudyInfo) -> None:
    with UnitOfWork(enrolled, write=False) as uow:
        version = load_patient(uow.session, SUBJECT).version
    investigator = context(enrolled, "investigator")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    with pytest.raises(StaleData):
        withdraw_amendment(investigator, study, SUBJECT, 1, "r", PASSWORD,
                           patient_version=version)


def test_a_withdrawn_amendment_leaves_the_schedule_as_if_not_made(
        enrolled: Database, study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    template = study.templates["stepdown-a"]
    enrolled_steps = _steps(enrolled)
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "80", "dose_mg": "15", "reason": "second flare"})
    withdraw_amendment(investigator, study, SUBJECT, 1, "not a flare after all", PASSWORD)
    # As if only amendment 2 had been made.
    only_second = amend_schedule(generate_schedule(template, Decimal(20)), template,
                                 Decimal(20), AmendmentSpec(80, Decimal(15), ""), 2)
    assert _steps(enrolled) == [(s.day, s.dose_mg) for s in only_second]
    with UnitOfWork(enrolled, write=False) as uow:
        record = load_patient(uow.session, SUBJECT)
    first, second = record.amendments
    assert (first.withdrawn, first.withdrawn_by, first.withdraw_reason) == (
        True, "investigator", "not a flare after all")
    assert not second.withdrawn
    assert [s.amendment_seq for s in record.steps if s.day >= 80] == [2] * len(
        [s for s in record.steps if s.day >= 80])
    withdraw_amendment(investigator, study, SUBJECT, 2, "also wrong", PASSWORD)
    assert _steps(enrolled) == enrolled_steps
    rows = _audit(enrolled, "withdraw_amendment")
    assert rows[0] == ("status", "in force", "withdrawn", "not a flare after all")
    assert rows[1][0] == "schedule"
    # A new amendment after withdrawals takes the next number and applies as usual.
    assert amend_patient_schedule(investigator, study, SUBJECT,
                                  {"day": "50", "dose_mg": "18", "reason": "real flare"}) == 3
    _trail_agrees(enrolled)
    with pytest.raises(ValidationError, match="already withdrawn"):
        withdraw_amendment(investigator, study, SUBJECT, 1, "again", PASSWORD)
    with UnitOfWork(enrolled, write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(
            models.ScheduleRevision)) == 2


def test_withdrawal_needs_the_password_and_the_amendment(enrolled: Database,
                                                         study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    with pytest.raises(AuthenticationFailed, match="the withdrawal was not saved"):
        withdraw_amendment(investigator, study, SUBJECT, 1, "r", "not my password")
    with pytest.raises(Exception, match="no amendment 7"):
        withdraw_amendment(investigator, study, SUBJECT, 7, "r", PASSWORD)
    with pytest.raises(PermissionDenied):
        withdraw_amendment(context(enrolled, "monitor"), study, SUBJECT, 1, "r", PASSWORD)
    with pytest.raises(ValidationError, match="reason"):
        withdraw_amendment(investigator, study, SUBJECT, 1, "", PASSWORD)
    assert _audit(enrolled, "withdraw_amendment") == []


def test_signatures_covering_the_corrected_data_are_no_longer_valid(
        enrolled: Database, study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    sign_record(investigator, SUBJECT, date(2026, 3, 1), "reviewed", PASSWORD)
    assert [s.valid for s in signatures_for(enrolled, SUBJECT)] == [True]
    withdraw_amendment(investigator, study, SUBJECT, 1, "wrong patient", PASSWORD)
    (sig,) = signatures_for(enrolled, SUBJECT)
    assert not sig.valid and sig.broken_by is not None
    assert sig.broken_by.startswith("The amendment from Day 40 to 25 mg/day withdrawn by "
                                    "Investigator Example")
    sign_record(investigator, SUBJECT, date(2026, 3, 1), "reviewed", PASSWORD)
    correct_enrollment(investigator, study, SUBJECT,
                       {"day1_date": "2026-01-06", "reason": "typo"}, PASSWORD)
    assert [s.valid for s in signatures_for(enrolled, SUBJECT)] == [False, False]
    assert signatures_for(enrolled, SUBJECT)[1].broken_by.startswith(  # type: ignore[union-attr]
        "Enrollment corrected: Day 1 2026-01-05 → 2026-01-06 by Investigator Example")


def test_the_withdrawal_preview_is_the_schedule_stored(enrolled: Database,
                                                       study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    for day, dose in (("40", "25"), ("80", "15"), ("30", "30")):
        amend_patient_schedule(investigator, study, SUBJECT,
                               {"day": day, "dose_mg": dose, "reason": "flare"})
    with UnitOfWork(enrolled, write=False) as uow:
        record = load_patient(uow.session, SUBJECT)
    assert amendments_in_force(record) == [1, 2, 3]
    preview = schedule_after_withdrawal(study, record, 2)
    withdraw_amendment(investigator, study, SUBJECT, 2, "wrong", PASSWORD)
    with UnitOfWork(enrolled, write=False) as uow:
        stored = load_patient(uow.session, SUBJECT)
    assert list(stored.steps) == preview
    assert amendments_in_force(stored) == [1, 3]
    _trail_agrees(enrolled)


def test_a_reason_over_the_text_limit_is_refused_and_nothing_written(
        enrolled: Database, study: StudyInfo) -> None:
    from taper_app.services.validation import MAX_TEXT_LENGTH

    investigator = context(enrolled, "investigator")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    steps = _steps(enrolled)
    too_long = "x" * (MAX_TEXT_LENGTH + 1)
    with pytest.raises(ValidationError) as caught:
        withdraw_amendment(investigator, study, SUBJECT, 1, too_long, PASSWORD)
    assert caught.value.for_field("reason")
    with pytest.raises(ValidationError) as caught:
        correct_enrollment(investigator, study, SUBJECT,
                           {"day1_date": "2026-01-06", "reason": too_long}, PASSWORD)
    assert caught.value.for_field("reason")
    assert _steps(enrolled) == steps
    assert _audit(enrolled, "withdraw_amendment") == _audit(enrolled,
                                                            "correct_enrollment") == []
