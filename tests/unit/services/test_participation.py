"""End of participation (domain.md §7): figures stop at the end date, the target status is
``discontinued`` when the end came before the target day, every change is audited, and the
study's attainment counts discontinued patients apart. Both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from taper_app.services.audit import verify_chain
from taper_app.services.cohort import attainment
from taper_app.services.errors import PermissionDenied, StaleData, ValidationError
from taper_app.services.figures import analyse, analyse_all, summary
from taper_app.services.participation import end_participation, reopen_participation
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.records import load_patient
from taper_app.services.study import StudyInfo
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import TODAY, context

DAY1 = "2026-01-05"  # the target day (183) is 2026-07-06


def _enroll(db: Database, study: StudyInfo, subject: str, site: str = "101") -> None:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": subject, "site": site, "day1_date": DAY1,
                                  "baseline_mg": "20", "template_id": "stepdown-a"})
    record_dose(nurse, study, subject, {"drug": "prednisone", "dose_mg": "20",
                                        "frequency": "QD", "route": "PO",
                                        "start_date": DAY1, "end_date": "2026-02-28"})
    # A record after the end date used below: kept and shown, not counted.
    record_dose(nurse, study, subject, {"drug": "prednisone", "dose_mg": "10",
                                        "frequency": "QD", "route": "PO",
                                        "start_date": "2026-03-01", "end_date": ""})


@pytest.fixture
def enrolled(db: Database, study: StudyInfo) -> Database:
    _enroll(db, study, "101-001")
    return db


def _audit(db: Database, action: str) -> list[tuple[str, str | None, str | None, str | None]]:
    with UnitOfWork(db, write=False) as uow:
        return [tuple(r) for r in uow.session.execute(
            select(models.AuditEntry.field, models.AuditEntry.old_value,
                   models.AuditEntry.new_value, models.AuditEntry.reason)
            .where(models.AuditEntry.action == action).order_by(models.AuditEntry.id))]


def test_figures_stop_at_the_end_date_and_the_status_is_discontinued(enrolled: Database,
                                                                     study: StudyInfo) -> None:
    before = summary(enrolled, study, TODAY, "101-001")[0]
    assert before["participation"] == {"status": "active", "end_date": None}
    assert before["as_of"] == TODAY.isoformat() and before["target"]["status"] == "pending"

    end_participation(context(enrolled, "investigator"), "101-001", date(2026, 2, 20),
                      "adverse_event", "hepatotoxicity")
    after = summary(enrolled, study, TODAY, "101-001")[0]
    assert after["participation"] == {"status": "adverse_event", "end_date": "2026-02-20"}
    assert after["as_of"] == "2026-02-20" and after["as_of_day"] == 47
    assert after["observed_days"] == 47 and after["missing_days"] == 0
    assert after["actual_mg"] == 20.0  # the 10 mg record from March 1 is not counted
    assert after["target"]["status"] == "discontinued"
    record = load_patient_record(enrolled)
    assert len(record.doses) == 2  # ...but kept
    # An as-of date before the end: the patient was still taking part then.
    early = summary(enrolled, study, date(2026, 2, 1), "101-001")[0]
    assert early["as_of"] == "2026-02-01" and early["target"]["status"] == "pending"


def load_patient_record(db: Database):  # type: ignore[no-untyped-def]
    with UnitOfWork(db, write=False) as uow:
        return load_patient(uow.session, "101-001")


def test_an_end_on_or_after_the_target_day_keeps_the_status_computed_there(
        enrolled: Database, study: StudyInfo) -> None:
    later = date(2026, 9, 1)
    end_participation(context(enrolled, "investigator", later), "101-001", date(2026, 8, 1),
                      "completed", "taper finished")
    row = summary(enrolled, study, later, "101-001")[0]
    assert row["as_of"] == "2026-08-01" and row["participation"]["status"] == "completed"
    assert row["target"]["status"] in ("met", "not_met", "not_evaluable")
    assert row["target"]["status"] != "discontinued"


def test_the_bulk_figures_equal_each_patients_own(db: Database, study: StudyInfo) -> None:
    for subject, site in (("101-001", "101"), ("101-002", "101"), ("102-001", "102")):
        _enroll(db, study, subject, site)
    end_participation(context(db, "investigator"), "101-002", date(2026, 2, 10),
                      "withdrawal_by_subject", "moved away")
    everyone = summary(db, study, TODAY)
    assert everyone == [summary(db, study, TODAY, s)[0]
                        for s in ("101-001", "101-002", "102-001")]
    bulk = analyse_all(db, study, TODAY)
    for a in bulk:
        one = analyse(study, a.record, TODAY)
        assert a.series.as_of == one.series.as_of
        assert a.series.actual.tobytes() == one.series.actual.tobytes()
        assert a.figures == one.figures
    overall = attainment(everyone)[0]
    assert overall.counts["discontinued"] == 1 and overall.counts["pending"] == 2
    assert overall.reached == 0  # discontinued is apart, not among those who reached it


def test_ending_and_reopening_are_audited_with_their_reasons(enrolled: Database,
                                                             study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    end_participation(investigator, "101-001", "2026-02-20", "lost_to_follow_up",
                      "no contact since February")
    assert _audit(enrolled, "end_participation") == [
        ("end_date", None, "2026-02-20", "no contact since February"),
        ("disposition", None, "lost_to_follow_up", "no contact since February")]
    reopen_participation(investigator, "101-001", "patient came back")
    assert _audit(enrolled, "reopen_participation") == [
        ("end_date", "2026-02-20", None, "patient came back"),
        ("disposition", "lost_to_follow_up", None, "patient came back")]
    row = summary(enrolled, study, TODAY, "101-001")[0]
    assert row["participation"] == {"status": "active", "end_date": None}
    assert row["as_of"] == TODAY.isoformat()
    with UnitOfWork(enrolled, write=False) as uow:
        assert verify_chain(uow.session).ok


@pytest.mark.parametrize(("end", "disposition", "reason", "field"), [
    ("2026-07-03", "completed", "done", "end_date"),        # after today
    ("2026-01-04", "completed", "done", "end_date"),        # before Day 1
    ("yesterday", "completed", "done", "end_date"),
    ("2026-02-01", "went_home", "done", "disposition"),
    ("2026-02-01", "completed", "  ", "reason"),
])
def test_bad_input_is_refused_and_nothing_is_written(enrolled: Database, end: str,
                                                     disposition: str, reason: str,
                                                     field: str) -> None:
    before = load_patient_record(enrolled)
    with pytest.raises(ValidationError) as refused:
        end_participation(context(enrolled, "investigator"), "101-001", end, disposition,
                          reason)
    assert refused.value.for_field(field)
    after = load_patient_record(enrolled)
    assert after.version == before.version and after.end_date is None
    assert _audit(enrolled, "end_participation") == []


def test_only_an_investigator_may_end_and_an_end_is_not_ended_twice(enrolled: Database) -> None:
    for role in ("nurse", "monitor", "admin"):
        with pytest.raises(PermissionDenied):
            end_participation(context(enrolled, role), "101-001", "2026-02-01", "completed",
                              "done")
        with pytest.raises(PermissionDenied):
            reopen_participation(context(enrolled, role), "101-001", "again")
    investigator = context(enrolled, "investigator")
    with pytest.raises(ValidationError, match="nothing to reopen"):
        reopen_participation(investigator, "101-001", "again")
    version = load_patient_record(enrolled).version
    with pytest.raises(StaleData):
        end_participation(investigator, "101-001", "2026-02-01", "completed", "done",
                          patient_version=version - 1)
    end_participation(investigator, "101-001", "2026-02-01", "completed", "done",
                      patient_version=version)
    with pytest.raises(ValidationError, match="reopen it first"):
        end_participation(investigator, "101-001", "2026-02-02", "other", "again")
