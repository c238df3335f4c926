"""The patient PDF lists the patient's queries with every step (opened, answered, asked
again, closed), who and when; read back from the PDF with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.queries import (
    answer_query,
    close_query,
    open_query,
    reask_query,
)
from taper_app.services.reporting import patient_report
from taper_app.services.study import StudyInfo
from taper_app.storage.engine import Database
from tests.conftest import TODAY, context

PRINTED = datetime(2026, 7, 2, 15, 0, tzinfo=UTC)


def _enrolled(db: Database, study: StudyInfo) -> int:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    return record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "frequency": "QD", "route": "PO", "dose_mg": "17.5",
        "start_date": "2026-01-05", "end_date": "2026-01-31"}).record_id


def _text(db: Database, study: StudyInfo) -> str:
    report = patient_report(db, study, "101-001", TODAY, printed_at=PRINTED)
    pages = PdfReader(io.BytesIO(report.pdf)).pages
    return " ".join(" ".join(p.extract_text().split()) for p in pages)


def test_no_queries_is_said(db: Database, study: StudyInfo) -> None:
    _enrolled(db, study)
    assert "No queries have been raised on this patient." in _text(db, study)


def test_each_query_is_printed_with_every_step(db: Database, study: StudyInfo) -> None:
    record_id = _enrolled(db, study)
    monitor, nurse = context(db, "monitor"), context(db, "nurse")
    first = open_query(monitor, "101-001", "Chart says 15 mg, not 17.5", record_id=record_id)
    answer_query(nurse, first, "Transcription error; see the correction")
    reask_query(monitor, first, "No correction is entered yet")
    answer_query(nurse, first, "Corrected now")
    close_query(monitor, first, "Resolved")
    open_query(monitor, "101-001", "Kit number missing")

    text = _text(db, study)
    assert "Queries" in text
    assert "Opened – on prednisone 17.5 mg QD from 2026-01-05 to 2026-01-31" in text
    assert "Chart says 15 mg, not 17.5" in text
    assert "Transcription error; see the correction" in text
    assert "Asked again monitor" in text and "No correction is entered yet" in text
    assert "Closed monitor" in text and "Resolved" in text
    assert "Now closed" in text
    assert "Opened – on the patient" in text and "Kit number missing" in text
    assert "Now open (to answer)" in text
    assert "2 queries, 1 not closed." in text
    # The steps come in order, each attributed.
    steps = [text.index(s) for s in ("Chart says 15 mg", "Transcription error",
                                     "No correction is entered yet", "Corrected now",
                                     "Resolved", "Kit number missing")]
    assert steps == sorted(steps)
    assert text.count("Answered nurse") == 2
