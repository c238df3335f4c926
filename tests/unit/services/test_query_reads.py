"""The reads behind the Queries view, the patient pane and the patient PDF, on SQLite and
PostgreSQL: the record in words, the counts of queries not closed, one patient's queries."""

from __future__ import annotations

from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.queries import (
    answer_query,
    close_query,
    list_queries,
    open_query,
    patient_queries,
    unresolved_counts,
)
from taper_app.services.study import StudyInfo
from taper_app.storage.engine import Database
from tests.conftest import context


def _two_patients(db: Database, study: StudyInfo) -> tuple[int, int]:
    nurse = context(db, "nurse")
    for subject in ("101-001", "101-002"):
        enroll_patient(nurse, study, {"subject_id": subject, "site": "101",
                                      "day1_date": "2026-01-05", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
    dose = {"drug": "prednisone", "frequency": "QD", "route": "PO"}
    closed = record_dose(nurse, study, "101-001", {**dose, "dose_mg": "17.5",
                                                   "start_date": "2026-01-05",
                                                   "end_date": "2026-01-31"}).record_id
    ongoing = record_dose(nurse, study, "101-001", {**dose, "dose_mg": "15",
                                                    "start_date": "2026-02-01",
                                                    "end_date": ""}).record_id
    return closed, ongoing


def test_records_are_named_in_words(db: Database, study: StudyInfo) -> None:
    closed, ongoing = _two_patients(db, study)
    monitor = context(db, "monitor")
    open_query(monitor, "101-001", "a", record_id=closed)
    open_query(monitor, "101-001", "b", record_id=ongoing)
    open_query(monitor, "101-001", "c")
    void_dose(context(db, "nurse"), closed, "entered twice")
    texts = [q.record_text for q in list_queries(monitor)]
    assert texts == ["prednisone 17.5 mg QD from 2026-01-05 to 2026-01-31 (voided)",
                     "prednisone 15 mg QD from 2026-02-01", None]


def test_counts_of_queries_not_closed(db: Database, study: StudyInfo) -> None:
    _two_patients(db, study)
    monitor, nurse = context(db, "monitor"), context(db, "nurse")
    assert unresolved_counts(db) == {}
    a = open_query(monitor, "101-001", "a")
    b = open_query(monitor, "101-001", "b")
    c = open_query(monitor, "101-002", "c")
    answer_query(nurse, b, "done")
    assert unresolved_counts(db) == {"101-001": (1, 1), "101-002": (1, 0)}
    assert unresolved_counts(db, "101-002") == {"101-002": (1, 0)}
    close_query(monitor, c)
    close_query(monitor, a, "withdrawn")
    assert unresolved_counts(db) == {"101-001": (0, 1)}


def test_one_patients_queries_with_their_steps(db: Database, study: StudyInfo) -> None:
    _two_patients(db, study)
    monitor, nurse = context(db, "monitor"), context(db, "nurse")
    a = open_query(monitor, "101-001", "a")
    open_query(monitor, "101-002", "other")
    answer_query(nurse, a, "answer")
    close_query(monitor, a)
    [q] = patient_queries(db, "101-001")
    assert (q.id, q.state, [(m.kind, m.by, m.text) for m in q.messages]) == (
        a, "closed", [("answer", "nurse", "answer"), ("close", "monitor", None)])
    assert patient_queries(db, "101-003") == []
