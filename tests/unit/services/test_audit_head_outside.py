"""The audit trail's head kept outside the database: on every page of every PDF, in each
export's README, in the audit CSV's first line, in each e-signature and in each automatic
backup, so that `audit verify --head` can later tell a rollback, truncation or rewrite."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from taper_app.results import AuditHeadMark
from taper_app.services.audit import trail_head
from taper_app.services.calendar import print_dosing_calendar
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.reporting import cohort_report, patient_report
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


def head(db: Database) -> AuditHeadMark:
    with UnitOfWork(db, write=False) as uow:
        return trail_head(uow.session)


@pytest.fixture
def patient(db: Database, study) -> str:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-03-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "20", "start_date": "2026-03-01"})
    return "101-001"


def pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_every_page_of_every_pdf_carries_the_head_the_data_was_read_at(db, study, patient):
    mark = head(db)
    assert mark.rows > 0 and len(mark.short.split(":")[1]) == 16
    printed = {
        "patient": pages(patient_report(db, study, patient, date(2026, 7, 1)).pdf),
        "cohort": pages(cohort_report(db, study, date(2026, 7, 1)).pdf),
        "calendar": pages(print_dosing_calendar(context(db, "nurse"), patient,
                                                date(2026, 7, 6), 8).pdf),
    }
    for name, texts in printed.items():
        assert len(texts) >= 1, name
        for number, page in enumerate(texts, start=1):
            assert f"audit trail head {mark.short}" in page, (name, number)
    assert len(printed["patient"]) > 1  # the footer is on the later pages too


def test_a_later_printout_carries_the_later_head(db, study, patient):
    before = head(db)
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-04-01"})
    after = head(db)
    assert after.rows > before.rows
    [first, *_] = pages(patient_report(db, study, patient, date(2026, 7, 1)).pdf)
    assert f"audit trail head {after.short}" in first and before.short not in first
