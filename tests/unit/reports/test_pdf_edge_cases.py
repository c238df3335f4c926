"""Reports of thin data still build: no patients, no records, an as-of date before Day 1."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader

from taper_app.services.patients import enroll_patient
from taper_app.services.reporting import cohort_report, patient_report

PRINTED = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def test_a_study_without_patients_gives_an_empty_study_report(db, study):
    report = cohort_report(db, study, date(2026, 7, 2), printed_at=PRINTED)
    text = text_of(report.pdf)
    assert "Patients 0" in text and "All sites 0" in text
    assert f"Page {report.pages} of {report.pages}" in text


def test_a_patient_without_records_reported_before_day1(db, study, nurse):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-06-01", "baseline_mg": "20",
                                  "template_id": "table-12wk"})
    text = text_of(patient_report(db, study, "101-001", date(2026, 5, 20),
                                  printed_at=PRINTED).pdf)
    assert "As-of date 2026-05-20 (study day -12)" in text
    assert "Observed days 0" in text and "Target status PENDING" in text
    assert "The as-of date is before Day 1" in text
    assert "No dose records." in text
