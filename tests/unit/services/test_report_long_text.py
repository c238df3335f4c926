"""A comment or reason of the longest allowed length (5,000 characters) prints whole: the
table cell splits across pages (it made the patient's PDF fail with a traceback)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

from pypdf import PdfReader

from taper_app.services.patients import (
    amend_patient_schedule,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.reporting import patient_report
from taper_app.services.signatures import sign_record
from taper_app.services.validation import MAX_TEXT_LENGTH
from tests.conftest import PASSWORD

PRINTED = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)


def long_text(tag: str) -> str:
    """MAX_TEXT_LENGTH characters of numbered words, so every part of it can be found."""
    words, n = [], 0
    while len(" ".join(words)) < MAX_TEXT_LENGTH:
        words.append(f"{tag}{n:04d}")
        n += 1
    return " ".join(words)[:MAX_TEXT_LENGTH].rsplit(" ", 1)[0]


def words_in(pdf: bytes) -> set[str]:
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return set(re.findall(r"[a-z]+\d{4}", text))


def test_a_5000_character_comment_reason_and_void_reason_print_whole(db, study, nurse,
                                                                     investigator):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    comment, deviation, void, amend = (long_text(t) for t in ("com", "dev", "vo", "am"))
    assert len(comment) > 4900
    record_dose(nurse, study, "101-001", {"drug": "prednisone", "dose_mg": "20",
                                          "frequency": "QD", "route": "PO",
                                          "start_date": "2026-01-01", "comment": comment,
                                          "deviation_reason": deviation})
    wrong = record_dose(nurse, study, "101-001", {"drug": "prednisone", "dose_mg": "15",
                                                  "frequency": "QD", "route": "PO",
                                                  "start_date": "2026-02-01",
                                                  "comment": "typed on the wrong patient"})
    # signed first, so the void breaks the signature and its status names the reason too
    sign_record(investigator, "101-001", date(2026, 3, 1), "reviewed", PASSWORD)
    void_dose(nurse, wrong.record_id, void)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "60", "dose_mg": "10", "reason": amend})
    report = patient_report(db, study, "101-001", date(2026, 7, 2), printed_at=PRINTED)
    found = words_in(report.pdf)
    for text in (comment, deviation, void, amend):
        assert set(text.split()) <= found
    assert report.pages >= 4
