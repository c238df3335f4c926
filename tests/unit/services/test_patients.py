"""Clinical data entry services: enroll, record, void, correct, close, amend.

Each change must be one transaction with its audit rows (user, UTC time, entity, field,
old value, new value, reason); a refused change must leave the database byte-for-byte
as it was, audit trail included.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, func, select, text

from taper_app.domain.schedule import Amendment as AmendmentSpec
from taper_app.domain.schedule import ScheduleStep, amend_schedule, generate_schedule
from taper_app.services import patients as patients_service
from taper_app.services.audit import verify_chain
from taper_app.services.errors import (
    NotFound,
    PermissionDenied,
    ServiceError,
    StaleData,
    ValidationError,
)
from taper_app.services.figures import summary
from taper_app.services.patients import (
    amend_patient_schedule,
    correct_dose,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.records import PatientRecord, load_patient
from taper_app.services.study import StudyInfo, load_study
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import NOW, context

AT_UTC = "2026-07-02T14:30:00.000000Z"  # fixed_clock's NOW, as the audit trail writes it
PATIENT = {"subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
           "baseline_mg": "20", "template_id": "stepdown-a", "kit_number": "K-0001",
           "notes": None}
PREDNISONE_20 = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
                 "start_date": "2026-01-05", "end_date": "", "source": "clinic"}


#: Refused before anything is written, whatever the database: one backend is enough for these.
validation_only = pytest.mark.sqlite_only


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture
def enrolled(db: Database, study: StudyInfo) -> Database:
    enroll_patient(context(db, "nurse"), study, dict(PATIENT))
    return db


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a refused change wrote nothing at all."""
    with db.engine.connect() as conn:
        return {table.name: [tuple(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in models.Base.metadata.sorted_tables}


def table_rows(db: Database, model: type[models.Base], *where: Any) -> list[dict[str, Any]]:
    """A table's rows as dicts, in key order."""
    table: Table = model.__table__  # type: ignore[assignment]
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(table).where(*where).order_by(*table.primary_key.columns))]


def last_audit_id(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.max(models.AuditEntry.id))).scalar_one())


def audit_since(db: Database, after_id: int) -> list[dict[str, Any]]:
    return table_rows(db, models.AuditEntry, models.AuditEntry.id > after_id)


def patient(db: Database, subject_id: str = "101-001") -> PatientRecord:
    with UnitOfWork(db, write=False) as uow:
        return load_patient(uow.session, subject_id)


def steps_of(record: PatientRecord) -> list[tuple[int, Decimal]]:
    return [(s.day, s.dose_mg) for s in record.steps]


def pairs(steps: list[ScheduleStep]) -> list[tuple[int, Decimal]]:
    return [(s.day, s.dose_mg) for s in steps]


def chain_ok(db: Database) -> bool:
    with UnitOfWork(db, write=False) as uow:
        return verify_chain(uow.session).ok


# ---------------------------------------------------------------- enroll

def _steps(text: str) -> list[tuple[int, Decimal]]:
    """``"29:16 43:13"`` -> ``[(29, Decimal(16)), (43, Decimal(13))]``."""
    return [(int(day), Decimal(dose)) for day, dose in (p.split(":") for p in text.split())]


#: Worked by hand from the example protocol (domain.md §4.1-4.2).
HAND_WORKED = {
    # above 40: -10 every 14 days, but never below 40; then -20 % (rounded to 0.5, never
    # below 10) every 14 days: 32, 25.6 -> 25.5, 20.4 -> 20.5, 16.4 -> 16.5, 13.2 -> 13,
    # 10.4 -> 10.5, 8.4 -> 10; then -1 every 28 days to 0
    ("stepdown-a", "60"): _steps(
        "29:50 43:40 57:32 71:25.5 85:20.5 99:16.5 113:13 127:10.5 141:10 169:9 197:8 "
        "225:7 253:6 281:5 309:4 337:3 365:2 393:1 421:0"),
    ("stepdown-a", "7.5"): _steps("29:6.5 57:5.5 85:4.5 113:3.5 141:2.5 169:1.5 197:0.5 225:0"),
    # -1 every 21 days from Day 43, floor 5
    ("stepdown-slow", "12.5"): _steps(
        "43:11.5 64:10.5 85:9.5 106:8.5 127:7.5 148:6.5 169:5.5 190:5"),
    # 5 mg QOD is a daily 2.5
    ("table-12wk", "20"): _steps("15:15 43:10 71:2.5"),
    # 17.5 x 0.8 = 14; x 0.6 = 10.5; x 0.5 = 8.75 -> 9 (halves up to 0.5); x 0.4 = 7
    ("fraction-26wk", "17.5"): _steps("29:14 57:10.5 99:9 141:7"),
}


@validation_only  # one backend: storing the steps is checked on both by the tests below
@pytest.mark.parametrize(("template_id", "baseline"), list(HAND_WORKED))
def test_enroll_stores_the_schedule_generated_from_the_template(
        db: Database, study: StudyInfo, template_id: str, baseline: str) -> None:
    fields = dict(PATIENT, baseline_mg=baseline, template_id=template_id)
    assert enroll_patient(context(db, "nurse"), study, fields) == "101-001"
    expected = generate_schedule(study.templates[template_id], Decimal(baseline))
    assert pairs(expected) == HAND_WORKED[(template_id, baseline)]
    assert steps_of(patient(db)) == pairs(expected)
    stored = sorted(table_rows(db, models.ScheduleStepRow), key=lambda r: r["day"])
    assert [(r["day"], r["dose_ug"]) for r in stored] == [
        (s.day, int(s.dose_mg * 1000)) for s in expected]
    assert all(r["amendment_id"] is None and r["superseded_by_id"] is None for r in stored)


def test_the_stepdown_a_schedule_for_a_baseline_of_20_is_the_worked_example(
        enrolled: Database) -> None:
    # B = 20, taper from Day 29: 20 x 0.8 = 16; 12.8 -> 13; 10.4 -> 10.5; 8.4 -> 8.5 but
    # never below the band's 10; then 1 mg every 28 days down to 0.
    assert steps_of(patient(enrolled)) == [
        (29, Decimal(16)), (43, Decimal(13)), (57, Decimal("10.5")), (71, Decimal(10)),
        (99, Decimal(9)), (127, Decimal(8)), (155, Decimal(7)), (183, Decimal(6)),
        (211, Decimal(5)), (239, Decimal(4)), (267, Decimal(3)), (295, Decimal(2)),
        (323, Decimal(1)), (351, Decimal(0))]


def test_an_enrolled_schedule_does_not_change_when_its_template_is_edited_later(
        enrolled: Database) -> None:
    before = steps_of(patient(enrolled))
    with enrolled.engine.begin() as conn:
        conn.execute(text(
            "UPDATE schedule_template SET definition_json = replace(definition_json, "
            "'\"taper_start_day\": 29', '\"taper_start_day\": 15') WHERE id = 'stepdown-a'"))
    edited = load_study(enrolled)
    assert generate_schedule(edited.templates["stepdown-a"], Decimal(20))[0].day == 15
    assert steps_of(patient(enrolled)) == before
    assert summary(enrolled, edited, date(2026, 2, 10))[0]["scheduled_mg"] == 16.0


def test_enroll_writes_an_audit_row_for_every_field(db: Database, study: StudyInfo) -> None:
    last = last_audit_id(db)
    enroll_patient(context(db, "nurse"), study, dict(PATIENT))
    audit = audit_since(db, last)
    assert {(r["username"], r["at_utc"]) for r in audit} == {("nurse", AT_UTC)}
    site_row = audit[0]
    assert (site_row["action"], site_row["entity"], site_row["entity_id"], site_row["field"],
            site_row["old_value"], site_row["new_value"]) == (
        "add_site", "site", "101", "code", None, "101")
    enroll = {r["field"]: r for r in audit if r["action"] == "enroll"}
    assert {f: (r["old_value"], r["new_value"]) for f, r in enroll.items()
            if f != "schedule"} == {
        "site": (None, "101"), "day1_date": (None, "2026-01-05"), "baseline_mg": (None, "20"),
        "template_id": (None, "stepdown-a"), "kit_number": (None, "K-0001")}
    # an empty field (no notes) is not a change, so it has no audit row
    assert all((r["entity"], r["entity_id"], r["subject_id"]) == ("patient", "101-001", "101-001")
               for r in enroll.values())
    assert enroll["schedule"]["new_value"].startswith("day 29: 16 mg; day 43: 13 mg; ")
    assert chain_ok(db)


@validation_only
@pytest.mark.parametrize(("change", "field"), [
    ({"baseline_mg": "0"}, "baseline_mg"),
    ({"baseline_mg": "abc"}, "baseline_mg"),
    ({"template_id": "nope"}, "template_id"),
    ({"day1_date": "2026-07-03"}, "day1_date"),  # the day after TODAY
    ({"subject_id": ""}, "subject_id"),
])
def test_a_refused_enrollment_writes_nothing(db: Database, study: StudyInfo,
                                             change: dict[str, str], field: str) -> None:
    before = dump(db)
    with pytest.raises(ValidationError) as excinfo:
        enroll_patient(context(db, "nurse"), study, {**PATIENT, **change})
    assert excinfo.value.for_field(field)
    assert dump(db) == before


def test_enrolling_a_subject_twice_is_refused_and_writes_nothing(enrolled: Database,
                                                                 study: StudyInfo) -> None:
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        enroll_patient(context(enrolled, "investigator"), study, dict(PATIENT, site="102"))
    assert excinfo.value.for_field("subject_id") == ["'101-001' is already enrolled"]
    assert dump(enrolled) == before


@pytest.mark.parametrize("role", ["admin", "monitor"])
def test_only_nurses_and_investigators_may_enroll(db: Database, study: StudyInfo,
                                                  role: str) -> None:
    before = dump(db)
    with pytest.raises(PermissionDenied):
        enroll_patient(context(db, role), study, dict(PATIENT))
    assert dump(db) == before
    enroll_patient(context(db, "investigator"), study, dict(PATIENT))


# ---------------------------------------------------------------- record_dose

def test_record_dose_stores_the_record_and_audits_each_field(enrolled: Database,
                                                             study: StudyInfo) -> None:
    last = last_audit_id(enrolled)
    saved = record_dose(context(enrolled, "nurse"), study, "101-001",
                        dict(PREDNISONE_20, comment="from the chart"))
    (stored,) = patient(enrolled).doses
    assert (stored.id, stored.drug, stored.dose_ug, stored.frequency, stored.route,
            stored.start_date, stored.end_date, stored.source, stored.comment,
            stored.created_by, stored.voided) == (
        saved.record_id, "prednisone", 20_000, "QD", "PO", date(2026, 1, 5), None, "clinic",
        "from the chart", "nurse", False)
    audit = audit_since(enrolled, last)
    assert {(r["username"], r["at_utc"], r["action"], r["entity"], r["entity_id"],
             r["subject_id"]) for r in audit} == {
        ("nurse", AT_UTC, "record_dose", "dose_record", str(saved.record_id), "101-001")}
    assert {r["field"]: (r["old_value"], r["new_value"]) for r in audit} == {
        "drug": (None, "prednisone"), "dose_mg": (None, "20"), "frequency": (None, "QD"),
        "route": (None, "PO"), "start_date": (None, "2026-01-05"), "source": (None, "clinic"),
        "comment": (None, "from the chart")}


@pytest.mark.parametrize("role", ["monitor", "admin"])
def test_monitors_and_admins_cannot_record_doses(enrolled: Database, study: StudyInfo,
                                                 role: str) -> None:
    before = dump(enrolled)
    with pytest.raises(PermissionDenied):
        record_dose(context(enrolled, role), study, "101-001", dict(PREDNISONE_20))
    assert dump(enrolled) == before


@validation_only
@pytest.mark.parametrize(("change", "field"), [
    ({"drug": "aspirin"}, "drug"),
    ({"dose_mg": "-1"}, "dose_mg"),
    ({"dose_mg": "2500", "drug": "methylprednisolone", "frequency": "ONCE", "route": "IV"},
     "dose_mg"),
    ({"frequency": "hourly"}, "frequency"),
    ({"route": "inhaled"}, "route"),
    ({"start_date": "2026-07-03"}, "start_date"),
    ({"end_date": "2026-01-04"}, "end_date"),
])
def test_a_refused_dose_writes_nothing(enrolled: Database, study: StudyInfo,
                                       change: dict[str, str], field: str) -> None:
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        record_dose(context(enrolled, "nurse"), study, "101-001", {**PREDNISONE_20, **change})
    assert excinfo.value.for_field(field)
    assert dump(enrolled) == before


def test_a_dose_for_an_unknown_subject_is_refused_and_writes_nothing(
        enrolled: Database, study: StudyInfo) -> None:
    before = dump(enrolled)
    with pytest.raises(NotFound):
        record_dose(context(enrolled, "nurse"), study, "999-999", dict(PREDNISONE_20))
    assert dump(enrolled) == before


# ---------------------------------------------------------------- close_ongoing

def test_close_ongoing_ends_the_ongoing_record_the_day_before_the_new_dose(
        enrolled: Database, study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    first = record_dose(nurse, study, "101-001", dict(PREDNISONE_20)).record_id
    pulse = record_dose(nurse, study, "101-001", dict(
        PREDNISONE_20, drug="methylprednisolone", dose_mg="500", frequency="ONCE", route="IV",
        start_date="2026-01-20")).record_id
    last = last_audit_id(enrolled)
    saved = record_dose(nurse, study, "101-001", dict(PREDNISONE_20, dose_mg="16",
                                                      start_date="2026-02-02"),
                        close_ongoing=True)
    assert saved.closed_record_ids == (first,)
    by_id = {d.id: d for d in patient(enrolled).doses}
    assert by_id[first].end_date == date(2026, 2, 1)
    assert by_id[pulse].end_date is None  # a ONCE pulse is not "ongoing"
    assert by_id[saved.record_id].end_date is None
    close = [r for r in audit_since(enrolled, last) if r["action"] == "close_dose"]
    assert [(r["username"], r["at_utc"], r["entity"], r["entity_id"], r["field"],
             r["old_value"], r["new_value"], r["reason"]) for r in close] == [
        ("nurse", AT_UTC, "dose_record", str(first), "end_date", None, "2026-02-01",
         "closed when a new dose started")]


def test_without_close_ongoing_the_earlier_record_stays_ongoing(enrolled: Database,
                                                                study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    first = record_dose(nurse, study, "101-001", dict(PREDNISONE_20)).record_id
    saved = record_dose(nurse, study, "101-001", dict(PREDNISONE_20, start_date="2026-02-02"))
    assert saved.closed_record_ids == ()
    assert {d.id: d.end_date for d in patient(enrolled).doses}[first] is None


def test_close_ongoing_refuses_a_record_that_starts_on_the_new_date_and_writes_nothing(
        enrolled: Database, study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    record_dose(nurse, study, "101-001", dict(PREDNISONE_20, start_date="2026-02-02"))
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        record_dose(nurse, study, "101-001", dict(PREDNISONE_20, start_date="2026-02-02",
                                                  dose_mg="15"), close_ongoing=True)
    assert excinfo.value.for_field("start_date")
    assert dump(enrolled) == before


# ---------------------------------------------------------------- void

@validation_only
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_void_needs_a_reason_and_a_refusal_writes_nothing(enrolled: Database, study: StudyInfo,
                                                          reason: Any) -> None:
    record_id = record_dose(context(enrolled, "nurse"), study, "101-001",
                            dict(PREDNISONE_20)).record_id
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        void_dose(context(enrolled, "nurse"), record_id, reason)
    assert excinfo.value.for_field("reason") == ["a reason is required"]
    assert dump(enrolled) == before


def test_a_voided_record_is_kept_and_audited_with_old_and_new_value_and_reason(
        enrolled: Database, study: StudyInfo) -> None:
    record_id = record_dose(context(enrolled, "nurse"), study, "101-001",
                            dict(PREDNISONE_20)).record_id
    last = last_audit_id(enrolled)
    void_dose(context(enrolled, "investigator"), record_id, "  entered for the wrong patient ")
    (row,) = table_rows(enrolled, models.DoseRecordRow)
    assert (row["id"], row["voided"], row["void_reason"], row["voided_by"], row["voided_at"],
            row["dose_ug"]) == (record_id, True, "entered for the wrong patient", "investigator",
                                NOW.replace(tzinfo=None), 20_000)
    (audit,) = audit_since(enrolled, last)
    assert (audit["username"], audit["at_utc"], audit["action"], audit["entity"],
            audit["entity_id"], audit["subject_id"], audit["field"], audit["old_value"],
            audit["new_value"], audit["reason"]) == (
        "investigator", AT_UTC, "void_dose", "dose_record", str(record_id), "101-001",
        "voided", "False", "True", "entered for the wrong patient")
    # a voided record no longer counts: Day 1 .. as-of is all missing again
    figures = summary(enrolled, study, date(2026, 1, 10))[0]
    assert (figures["observed_days"], figures["missing_days"]) == (0, 6)


def test_a_voided_record_cannot_be_voided_again(enrolled: Database, study: StudyInfo) -> None:
    record_id = record_dose(context(enrolled, "nurse"), study, "101-001",
                            dict(PREDNISONE_20)).record_id
    void_dose(context(enrolled, "nurse"), record_id, "duplicate entry")
    before = dump(enrolled)
    with pytest.raises(ServiceError, match="already voided"):
        void_dose(context(enrolled, "nurse"), record_id, "again")
    assert dump(enrolled) == before


def test_a_monitor_cannot_void(enrolled: Database, study: StudyInfo) -> None:
    record_id = record_dose(context(enrolled, "nurse"), study, "101-001",
                            dict(PREDNISONE_20)).record_id
    before = dump(enrolled)
    with pytest.raises(PermissionDenied):
        void_dose(context(enrolled, "monitor"), record_id, "I think it is wrong")
    assert dump(enrolled) == before


def test_a_stale_version_is_refused_and_writes_nothing(enrolled: Database,
                                                       study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    record_id = record_dose(nurse, study, "101-001", dict(PREDNISONE_20)).record_id
    version = patient(enrolled).doses[0].version
    record_dose(nurse, study, "101-001",
                dict(PREDNISONE_20, dose_mg="17.5", start_date="2026-02-01"),
                close_ongoing=True)  # someone else closes it: its version moves on
    before = dump(enrolled)
    with pytest.raises(StaleData):
        void_dose(nurse, record_id, "wrong dose", expected_version=version)
    with pytest.raises(StaleData):
        correct_dose(nurse, study, record_id, "wrong dose", dict(PREDNISONE_20),
                     expected_version=version)
    assert dump(enrolled) == before


# ---------------------------------------------------------------- correct

def test_correct_dose_voids_the_record_and_adds_the_replacement(enrolled: Database,
                                                                study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    wrong = record_dose(nurse, study, "101-001", dict(PREDNISONE_20, dose_mg="2")).record_id
    last = last_audit_id(enrolled)
    new_id = correct_dose(nurse, study, wrong, "typo: 2 for 20", dict(PREDNISONE_20))
    by_id = {d.id: d for d in patient(enrolled).doses}
    assert set(by_id) == {wrong, new_id}
    assert (by_id[wrong].voided, by_id[wrong].void_reason, by_id[wrong].dose_ug) == (
        True, "typo: 2 for 20", 2_000)
    assert (by_id[new_id].voided, by_id[new_id].replaces_id, by_id[new_id].dose_ug) == (
        False, wrong, 20_000)
    audit = audit_since(enrolled, last)
    assert {(r["username"], r["at_utc"], r["reason"]) for r in audit} == {
        ("nurse", AT_UTC, "typo: 2 for 20")}
    void_rows = [r for r in audit if r["action"] == "void_dose"]
    assert [(r["entity_id"], r["old_value"], r["new_value"]) for r in void_rows] == [
        (str(wrong), "False", "True")]
    new_rows = {r["field"]: r for r in audit if r["action"] == "record_dose"}
    assert new_rows["replaces_id"]["new_value"] == str(wrong)
    assert new_rows["dose_mg"]["new_value"] == "20"
    assert chain_ok(enrolled)


def test_correct_dose_is_one_transaction(enrolled: Database, study: StudyInfo,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    nurse = context(enrolled, "nurse")
    wrong = record_dose(nurse, study, "101-001", dict(PREDNISONE_20, dose_mg="2")).record_id
    before = dump(enrolled)

    def disk_fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk failed after the void")

    monkeypatch.setattr(patients_service, "add_dose_in_session", disk_fails)
    with pytest.raises(RuntimeError):
        correct_dose(nurse, study, wrong, "typo", dict(PREDNISONE_20))
    assert dump(enrolled) == before  # the void was rolled back with the failed replacement


@validation_only
@pytest.mark.parametrize(("reason", "change", "field"), [
    ("", {}, "reason"),
    ("typo", {"dose_mg": "lots"}, "dose_mg"),
])
def test_a_refused_correction_writes_nothing(enrolled: Database, study: StudyInfo, reason: str,
                                             change: dict[str, str], field: str) -> None:
    nurse = context(enrolled, "nurse")
    wrong = record_dose(nurse, study, "101-001", dict(PREDNISONE_20, dose_mg="2")).record_id
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        correct_dose(nurse, study, wrong, reason, {**PREDNISONE_20, **change})
    assert excinfo.value.for_field(field)
    assert dump(enrolled) == before
    with pytest.raises(PermissionDenied):
        correct_dose(context(enrolled, "monitor"), study, wrong, "typo", dict(PREDNISONE_20))
    assert dump(enrolled) == before


# ---------------------------------------------------------------- amend

FLARE = {"day": "57", "dose_mg": "16", "reason": "Flare: CK 2,400 U/L, MMT-8 down 10"}


def test_an_amendment_keeps_earlier_steps_and_supersedes_later_ones(
        enrolled: Database, study: StudyInfo) -> None:
    original = patient(enrolled)
    seq = amend_patient_schedule(context(enrolled, "investigator"), study, "101-001",
                                 dict(FLARE))
    assert seq == 1
    amended = patient(enrolled)
    # Steps before Day 57 stay; from Day 57 the dose is 16, and the taper resumes from 16
    # with the band of 16 (above 10: -20 % every 14 days): 12.8 -> 13 on Day 71, ...
    assert steps_of(amended)[:5] == [(29, Decimal(16)), (43, Decimal(13)), (57, Decimal(16)),
                                     (71, Decimal(13)), (85, Decimal("10.5"))]
    expected = amend_schedule(original.steps, study.templates["stepdown-a"], Decimal(20),
                              AmendmentSpec(57, Decimal(16), FLARE["reason"]), 1)
    assert steps_of(amended) == pairs(expected)
    assert [s.amendment_seq for s in amended.steps][:3] == [None, None, 1]
    (amendment,) = table_rows(enrolled, models.Amendment)
    assert (amendment["seq"], amendment["day"], amendment["dose_ug"], amendment["reason"],
            amendment["created_by"], amendment["created_at"]) == (
        1, 57, 16_000, FLARE["reason"], "investigator", NOW.replace(tzinfo=None))
    # the superseded steps are still in the database, marked with the amendment
    stored = table_rows(enrolled, models.ScheduleStepRow)
    superseded = [(r["day"], r["dose_ug"]) for r in stored
                  if r["superseded_by_id"] == amendment["id"]]
    assert superseded == [(s.day, int(s.dose_mg * 1000)) for s in original.steps if s.day >= 57]
    assert len(stored) == len(original.steps) + len(expected) - 2
    assert [(r["day"], r["superseded_by_id"]) for r in stored[:2]] == [(29, None), (43, None)]


def test_an_amendment_is_audited_with_its_reason_and_user(enrolled: Database,
                                                          study: StudyInfo) -> None:
    last = last_audit_id(enrolled)
    amend_patient_schedule(context(enrolled, "investigator"), study, "101-001", dict(FLARE))
    audit = audit_since(enrolled, last)
    assert {(r["username"], r["at_utc"], r["action"], r["entity"], r["entity_id"],
             r["subject_id"], r["reason"]) for r in audit} == {
        ("investigator", AT_UTC, "amend_schedule", "schedule", "101-001#1", "101-001",
         FLARE["reason"])}
    by_field = {r["field"]: (r["old_value"], r["new_value"]) for r in audit}
    assert by_field["from_day"] == (None, "57")
    assert by_field["dose_mg"] == (None, "16")
    old, new = by_field["steps"]
    assert old.startswith("day 57: 10.5 mg; day 71: 10 mg; ")
    assert new.startswith("day 57: 16 mg; day 71: 13 mg; ")


def test_amendments_are_kept_in_order(enrolled: Database, study: StudyInfo) -> None:
    investigator = context(enrolled, "investigator")
    assert amend_patient_schedule(investigator, study, "101-001", dict(FLARE)) == 1
    assert amend_patient_schedule(investigator, study, "101-001",
                                  {"day": "64", "dose_mg": "20", "reason": "second flare"}) == 2
    record = patient(enrolled)
    assert [(a.seq, a.day, a.reason) for a in record.amendments] == [
        (1, 57, FLARE["reason"]), (2, 64, "second flare")]
    assert steps_of(record)[:4] == [(29, Decimal(16)), (43, Decimal(13)), (57, Decimal(16)),
                                    (64, Decimal(20))]


def test_a_nurse_cannot_amend_a_schedule(enrolled: Database, study: StudyInfo) -> None:
    before = dump(enrolled)
    for role in ("nurse", "monitor", "admin"):
        with pytest.raises(PermissionDenied):
            amend_patient_schedule(context(enrolled, role), study, "101-001", dict(FLARE))
    assert dump(enrolled) == before


@validation_only
@pytest.mark.parametrize(("change", "field"), [
    ({"reason": "  "}, "reason"),
    ({"day": "0"}, "day"),
    ({"day": "x"}, "day"),
    ({"dose_mg": "-2"}, "dose_mg"),
    ({"dose_mg": "2001"}, "dose_mg"),
])
def test_a_refused_amendment_writes_nothing(enrolled: Database, study: StudyInfo,
                                            change: dict[str, str], field: str) -> None:
    before = dump(enrolled)
    with pytest.raises(ValidationError) as excinfo:
        amend_patient_schedule(context(enrolled, "investigator"), study, "101-001",
                               {**FLARE, **change})
    assert excinfo.value.for_field(field)
    assert dump(enrolled) == before


def test_every_change_leaves_an_intact_audit_chain(enrolled: Database, study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    first = record_dose(nurse, study, "101-001", dict(PREDNISONE_20)).record_id
    record_dose(nurse, study, "101-001", dict(PREDNISONE_20, dose_mg="16",
                                              start_date="2026-02-02"), close_ongoing=True)
    correct_dose(nurse, study, first, "started a day late",
                 dict(PREDNISONE_20, start_date="2026-01-06", end_date="2026-02-01"))
    amend_patient_schedule(context(enrolled, "investigator"), study, "101-001", dict(FLARE))
    audit = table_rows(enrolled, models.AuditEntry)
    assert all(r["username"] for r in audit)
    # every row at the injected clock's time, written as UTC
    assert {r["at_utc"] for r in audit} == {NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert chain_ok(enrolled)
