"""Electronic signatures: password again, meaning, manifestation; invalid after a change."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from taper_app.services.errors import AuthenticationFailed, ValidationError
from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.reporting import patient_report
from taper_app.services.signatures import missing_signatures, sign_record, signatures_for
from tests.conftest import PASSWORD

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


@pytest.fixture
def patient(nurse, study):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-03-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    first = record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "20",
                                                  "start_date": "2026-03-01",
                                                  "end_date": "2026-03-28"})
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "16", "start_date": "2026-03-29"})
    return first.record_id


def test_signature_keeps_name_time_meaning_and_hash(investigator, patient):
    sig = sign_record(investigator, "101-001", date(2026, 6, 30), "approved", PASSWORD)
    [stored] = signatures_for(investigator.db, "101-001")
    assert stored.valid and stored.broken_by is None
    assert stored.printed_name == "Investigator Example"
    assert stored.meaning == "approved"
    assert stored.signed_at_utc == "2026-07-02T14:30:00.000000Z"
    assert len(stored.data_sha256) == 64 and stored.data_sha256 == sig.data_sha256
    assert "Investigator Example (investigator), approved, 2026-07-02 14:30:00 UTC" in \
        stored.manifestation


def test_a_wrong_password_signs_nothing(investigator, patient):
    with pytest.raises(AuthenticationFailed):
        sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", "not-my-password")
    assert signatures_for(investigator.db, "101-001") == []


def test_unknown_meaning_and_future_date_are_refused(investigator, patient):
    with pytest.raises(ValidationError) as err:
        sign_record(investigator, "101-001", date(2026, 7, 3), "liked", PASSWORD)
    assert err.value.for_field("meaning") and err.value.for_field("through")


def test_voiding_a_signed_record_invalidates_the_signature_and_names_the_change(
        investigator, nurse, patient):
    sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", PASSWORD)
    void_dose(nurse, patient, "entered for the wrong patient")
    [sig] = signatures_for(investigator.db, "101-001")
    assert not sig.valid
    assert sig.broken_by.startswith("Dose of 2026-03-01 (prednisone 20 mg QD) voided by ")
    assert "on 2026-07-02 14:30 UTC (entered for the wrong patient)" in sig.broken_by
    assert "void_dose" not in sig.broken_by and "dose_record" not in sig.broken_by


def test_a_dose_after_the_signed_date_leaves_the_signature_valid(investigator, nurse, study,
                                                                  patient):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    # Closing the ongoing record after the signed date and adding a later dose: not signed data.
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "13", "start_date": "2026-06-10"},
                close_ongoing=True)
    [sig] = signatures_for(investigator.db, "101-001")
    assert sig.valid


def test_a_backdated_dose_inside_the_signed_period_invalidates(investigator, nurse, study,
                                                              patient):
    sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", PASSWORD)
    record_dose(nurse, study, "101-001", {"drug": "methylprednisolone", "dose_mg": "500",
                                          "frequency": "ONCE", "route": "IV",
                                          "start_date": "2026-04-10"})
    [sig] = signatures_for(investigator.db, "101-001")
    assert not sig.valid and sig.broken_by.startswith(
        "Dose of 2026-04-10 (methylprednisolone 500 mg ONCE) added by ")


def test_the_pdf_report_shows_the_manifestation_and_later_that_it_no_longer_holds(
        investigator, nurse, study, patient):
    def last_page() -> str:
        report = patient_report(investigator.db, study, "101-001", date(2026, 7, 2),
                                clock=investigator.clock)
        return " ".join(PdfReader(io.BytesIO(report.pdf)).pages[-1].extract_text().split())

    sign_record(investigator, "101-001", date(2026, 6, 30), "approved", PASSWORD)
    page = last_page()
    assert "Investigator Example" in page and "approved" in page
    assert "2026-07-02 14:30" in page and "NO LONGER VALID" not in page
    void_dose(nurse, patient, "entered for the wrong patient")
    assert "NO LONGER VALID" in last_page()


def test_a_signature_deleted_behind_the_apps_back_is_reported_missing(investigator, patient):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    sign_record(investigator, "101-001", date(2026, 6, 30), "approved", PASSWORD)
    assert missing_signatures(investigator.db, "101-001") == []
    with investigator.db.engine.begin() as conn:
        # The database refuses it (migration 0004): an attacker drops the trigger first.
        conn.execute(text("DROP TRIGGER signature_no_delete" if conn.dialect.name == "sqlite"
                          else "DROP TRIGGER signature_no_change ON signature"))
        conn.execute(text("DELETE FROM signature WHERE meaning = 'approved'"))
    [missing] = missing_signatures(investigator.db, "101-001")
    assert missing.startswith("investigator signed (approved through 2026-06-30 sha256 ")
    assert "no longer in the database" in missing
    assert [s.meaning for s in signatures_for(investigator.db, "101-001")] == ["reviewed"]
