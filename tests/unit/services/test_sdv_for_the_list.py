"""The window's list reads every patient's verification marks in one call, grouped by
patient, with a record changed since its mark counted as changed. Both backends."""

from __future__ import annotations

from datetime import date

from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.records import load_patient
from taper_app.services.study import StudyInfo
from taper_app.services.verification import (
    changed_since,
    marks_by_patient,
    verified_through,
    verify_source,
)
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context


def test_marks_are_grouped_by_patient(db: Database, study: StudyInfo) -> None:
    nurse, monitor = context(db, "nurse"), context(db, "monitor")
    ids = {}
    for subject in ("101-001", "101-002"):
        enroll_patient(nurse, study, {"subject_id": subject, "site": "101",
                                      "day1_date": "2026-01-05", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
        ids[subject] = record_dose(nurse, study, subject, {
            "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
            "start_date": "2026-01-05", "end_date": "2026-02-01"}).record_id
    verify_source(monitor, "101-001", date(2026, 3, 1))
    verify_source(monitor, "101-002", date(2026, 2, 1))
    void_dose(nurse, ids["101-002"], "wrong chart")
    with UnitOfWork(db, write=False) as uow:
        pid = {s: load_patient(uow.session, s).id for s in ids}
    marks = marks_by_patient(db)
    assert set(marks[pid["101-001"]]) == {ids["101-001"]}
    assert verified_through(marks[pid["101-001"]]) == date(2026, 3, 1)
    assert changed_since(marks[pid["101-001"]]) == 0
    assert verified_through(marks[pid["101-002"]]) is None
    assert changed_since(marks[pid["101-002"]]) == 1
