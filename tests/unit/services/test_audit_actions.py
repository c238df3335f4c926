"""The audit trail for people: rows grouped into actions (one service call about one
thing), fields and values in words, times in UTC and local time; the CSV unchanged."""

from __future__ import annotations

import csv
from datetime import UTC, timedelta, timezone

from taper_app.services.audit import head_of
from taper_app.services.audit_query import (
    AUDIT_COLUMNS,
    AuditFilter,
    export_audit_csv,
    group_actions,
    query_audit,
    read_audit,
)
from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.study import StudyInfo
from taper_app.storage.engine import Database
from tests.conftest import context


def _enrolled(db: Database, study: StudyInfo) -> int:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    first = record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": ""}).record_id
    record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "16", "frequency": "QD", "route": "PO",
        "start_date": "2026-02-02", "end_date": ""}, close_ongoing=True)
    return first


def test_a_dose_entry_is_one_action_and_its_close_another(db: Database,
                                                          study: StudyInfo) -> None:
    first = _enrolled(db, study)
    void_dose(context(db, "nurse"), first, "wrong chart")
    actions = group_actions(query_audit(db, AuditFilter(subject_id="101-001")))
    assert [a.action for a in actions] == ["void_dose", "record_dose", "close_dose",
                                           "record_dose", "enroll"]
    voided, _second, closed, entered, enrolled = actions
    assert voided.what == f"Dose record voided: dose record {first}"
    assert voided.summary == "Voided: no → yes" and voided.reason == "wrong chart"
    assert closed.summary == "End: 2026-02-01"
    assert enrolled.what == "Patient enrolled"
    assert [c.label for c in entered.changes][:3] == ["Drug", "Dose (mg)", "Frequency"]
    assert "Start: 2026-01-05" in entered.summary
    assert sum(len(a.changes) for a in actions) == len(query_audit(
        db, AuditFilter(subject_id="101-001")))
    assert entered.moment.tzinfo is UTC
    plus_two = entered.local_time(timezone(timedelta(hours=2)))
    assert plus_two.hour == (entered.moment.hour + 2) % 24


def test_the_kind_filter_and_the_csv_stay_one_line_per_audit_row(
        db: Database, study: StudyInfo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _enrolled(db, study)
    rows = read_audit(context(db, "monitor"), AuditFilter(actions=("record_dose",)))
    assert {r.action for r in rows} == {"record_dose"}
    path = export_audit_csv(rows, tmp_path / "audit.csv", head=head_of(db))
    with path.open(encoding="utf-8", newline="") as fh:  # after the head's '#' lines
        lines = list(csv.reader(line for line in fh if not line.startswith("#")))
    assert tuple(lines[0]) == AUDIT_COLUMNS
    assert len(lines) - 1 == len(rows) > len(group_actions(rows))
