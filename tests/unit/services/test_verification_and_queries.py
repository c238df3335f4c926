"""Source-data verification and queries, on SQLite and PostgreSQL: a record changed after
its verification loses the mark (visibly); queries go open -> answered -> closed (or are
asked again), each step audited and attributed, by the roles the permission table names."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from taper_app.services.errors import NotFound, PermissionDenied, ValidationError
from taper_app.services.exports import export_csv
from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.queries import (
    answer_query,
    close_query,
    list_queries,
    open_query,
    query_dict,
    reask_query,
)
from taper_app.services.study import StudyInfo
from taper_app.services.verification import (
    changed_since,
    sdv_marks,
    verified_through,
    verify_source,
)
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import TODAY, context

AT_UTC_TEXT = "2026-07-02T14:30:00.000000Z"  # the fixed clock, as the audit trail writes it

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


@pytest.fixture
def records(db: Database, study: StudyInfo) -> list[int]:
    """101-001 with three dose records (Jan 5, Feb 1, Mar 1); their ids."""
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    ids = []
    for start, end, mg in (("2026-01-05", "2026-01-31", "20"), ("2026-02-01", "2026-02-28",
                                                                 "15"),
                           ("2026-03-01", "", "10")):
        saved = record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": mg,
                                                      "start_date": start, "end_date": end})
        ids.append(saved.record_id)
    return ids


def _audit(db: Database, action: str) -> list[tuple[str, str, str | None, str | None]]:
    with UnitOfWork(db, write=False) as uow:
        return [tuple(r) for r in uow.session.execute(
            select(models.AuditEntry.username, models.AuditEntry.field,
                   models.AuditEntry.old_value, models.AuditEntry.new_value)
            .where(models.AuditEntry.action == action).order_by(models.AuditEntry.id))]


def test_verify_through_a_date_marks_the_records_starting_by_then(db: Database,
                                                                 records: list[int]) -> None:
    monitor = context(db, "monitor")
    assert verify_source(monitor, "101-001", date(2026, 2, 15)) == 2
    marks = sdv_marks(db, "101-001")
    assert sorted(marks) == records[:2]
    assert all(m.verified_by == "monitor" and m.verified_at_utc == AT_UTC_TEXT
               and not m.changed for m in marks.values())
    assert verified_through(marks) == date(2026, 2, 15)
    assert verify_source(monitor, "101-001", date(2026, 2, 15)) == 0  # nothing new
    assert [r[1] for r in _audit(db, "verify_source")] == ["sdv", "sdv"]
    assert verify_source(monitor, "101-001", record_id=records[2]) == 1
    assert sorted(sdv_marks(db, "101-001")) == records


def test_a_record_changed_after_verification_loses_its_mark(
        db: Database, study: StudyInfo, records: list[int], tmp_path: Path) -> None:
    verify_source(context(db, "monitor"), "101-001", date(2026, 3, 1))
    void_dose(context(db, "nurse"), records[1], "entered twice")
    marks = sdv_marks(db, "101-001")
    assert marks[records[1]].changed and not marks[records[1]].verified
    assert not marks[records[0]].changed
    assert changed_since(marks) == 1

    export_csv(db, study, tmp_path, TODAY)
    with (tmp_path / "dose_records.csv").open(encoding="utf-8") as fh:
        rows = {int(r["record_id"]): r for r in csv.DictReader(fh)}
    assert (rows[records[0]]["sdv_by"], rows[records[0]]["sdv_at_utc"]) == (
        "monitor", AT_UTC_TEXT)
    assert (rows[records[1]]["sdv_by"], rows[records[1]]["sdv_at_utc"]) == ("", "")


def test_only_monitors_verify_and_bad_input_is_refused(db: Database,
                                                      records: list[int]) -> None:
    for role in ("nurse", "investigator", "admin"):
        with pytest.raises(PermissionDenied):
            verify_source(context(db, role), "101-001", date(2026, 2, 1))
    monitor = context(db, "monitor")
    with pytest.raises(ValidationError, match="in the future"):
        verify_source(monitor, "101-001", date(2026, 7, 3))
    with pytest.raises(ValidationError):
        verify_source(monitor, "101-001")
    with pytest.raises(NotFound):
        verify_source(monitor, "101-001", record_id=records[-1] + 100)
    assert sdv_marks(db) == {}


def test_a_query_is_opened_answered_asked_again_and_closed(db: Database,
                                                          records: list[int]) -> None:
    monitor, nurse = context(db, "monitor"), context(db, "nurse")
    qid = open_query(monitor, "101-001", "Diary says 12.5 mg on Feb 3?", records[1])
    [q] = list_queries(monitor, "101-001", "open")
    assert (q.id, q.record_id, q.state, q.opened_by) == (qid, records[1], "open", "monitor")
    answer_query(nurse, qid, "Checked the diary: 15 mg is right")
    reask_query(monitor, qid, "Please attach the diary page")
    answer_query(context(db, "investigator"), qid, "Filed in the binder")
    close_query(monitor, qid, "Thanks")
    [q] = list_queries(monitor)
    assert q.state == "closed"
    assert [(m.kind, m.by) for m in q.messages] == [
        ("answer", "nurse"), ("reask", "monitor"), ("answer", "investigator"),
        ("close", "monitor")]
    assert query_dict(q) == {
        "id": qid, "subject_id": "101-001", "record_id": records[1], "state": "closed",
        "opened_by": "monitor", "opened_at": AT_UTC_TEXT,
        "text": "Diary says 12.5 mg on Feb 3?",
        "answers": [{"by": "nurse", "at": AT_UTC_TEXT,
                     "text": "Checked the diary: 15 mg is right"},
                    {"by": "investigator", "at": AT_UTC_TEXT, "text": "Filed in the binder"}]}
    assert [(u, f, old, new) for u, f, old, new in _audit(db, "answer_query")
            if f == "state"] == [("nurse", "state", "open", "answered"),
                                 ("investigator", "state", "open", "answered")]
    assert _audit(db, "close_query")[-1] == ("monitor", "state", "answered", "closed")
    assert list_queries(monitor, state="open") == []


def test_query_steps_are_refused_out_of_turn_and_by_the_wrong_role(
        db: Database, records: list[int]) -> None:
    monitor, nurse = context(db, "monitor"), context(db, "nurse")
    with pytest.raises(PermissionDenied):
        open_query(nurse, "101-001", "?")
    with pytest.raises(ValidationError):
        open_query(monitor, "101-001", "   ")
    with pytest.raises(ValidationError, match="no dose record"):
        open_query(monitor, "101-001", "?", records[-1] + 100)
    qid = open_query(monitor, "101-001", "Baseline source?")
    with pytest.raises(PermissionDenied):
        answer_query(monitor, qid, "self-answer")
    with pytest.raises(ValidationError, match="only when answered"):
        reask_query(monitor, qid, "again")
    close_query(monitor, qid)
    with pytest.raises(ValidationError, match="is closed"):
        answer_query(nurse, qid, "late")
    with pytest.raises(NotFound):
        answer_query(nurse, qid + 100, "none")
    with pytest.raises(ValidationError):
        list_queries(monitor, state="pending")
