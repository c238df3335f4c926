"""The SDTM CM export checked against the database: rows, columns, ISO dates, study days."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from taper_app.services.patients import correct_dose, enroll_patient, record_dose, void_dose
from taper_app.services.sdtm import CM_COLUMNS, VOIDED_COLUMNS, export_sdtm
from taper_app.storage.models import DoseRecordRow, Patient
from taper_app.storage.uow import UnitOfWork

EXTRACTED = datetime(2026, 7, 2, 15, 0, tzinfo=UTC)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def expected_study_day(d: date, day1: date) -> int:
    """Written out here independently of the application: no day 0."""
    delta = (d - day1).days
    return delta + 1 if delta >= 0 else delta


@pytest.fixture
def records(nurse, study):
    """Two patients: run-in, IV pulse, IM and SC doses, QOD and BID, ongoing, voided, corrected."""
    for subject, site, day1 in (("101-001", "101", "2026-01-01"),
                                ("102-001", "102", "2026-02-15")):
        enroll_patient(nurse, study, {"subject_id": subject, "site": site, "day1_date": day1,
                                      "baseline_mg": "20", "template_id": "stepdown-a"})

    def dose(subject: str, drug: str, mg: str, freq: str, route: str, start: str,
             end: str = "") -> int:
        return record_dose(nurse, study, subject, {
            "drug": drug, "dose_mg": mg, "frequency": freq, "route": route,
            "start_date": start, "end_date": end}).record_id

    dose("101-001", "prednisone", "20", "QD", "PO", "2025-12-20", "2026-01-31")
    dose("101-001", "Methylprednisolone", "500", "ONCE", "IV", "2026-02-10")
    dose("101-001", "dexamethasone", "2", "BID", "IM", "2026-02-01", "2026-02-09")
    wrong = dose("101-001", "prednisone", "150", "QD", "PO", "2026-02-11", "2026-03-01")
    void_dose(nurse, wrong, "typing error")
    dose("101-001", "hydrocortisone", "20", "QOD", "SC", "2026-02-11")
    dose("102-001", "prednisolone", "20", "QD", "PO", "2026-02-15", "2026-03-31")
    bad = dose("102-001", "prednisolone", "12", "QD", "PO", "2026-04-01", "2026-04-30")
    correct_dose(nurse, study, bad, "diary says 10 mg", {
        "drug": "prednisolone", "dose_mg": "10", "frequency": "QD", "route": "PO",
        "start_date": "2026-04-01", "end_date": "2026-04-30"})
    return {"wrong": wrong, "bad": bad}


def read(path):
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def db_rows(db):
    with UnitOfWork(db, write=False) as uow:
        rows = uow.session.execute(select(DoseRecordRow, Patient.subject_id, Patient.day1_date)
                                   .join(Patient, Patient.id == DoseRecordRow.patient_id)).all()
        return [(r[0].id, r[0].drug, r[0].dose_ug, r[0].frequency, r[0].route,
                 r[0].start_date, r[0].end_date, r[0].voided, r[0].void_reason, r[1], r[2])
                for r in rows]


def test_cm_has_one_row_per_valid_record_and_the_cm_columns(db, study, records, tmp_path):
    result = export_sdtm(db, study, tmp_path / "sdtm", clock=lambda: EXTRACTED)
    columns, rows = read(result.cm_path)
    assert tuple(columns) == CM_COLUMNS
    in_db = db_rows(db)
    assert len(rows) == result.cm_rows == sum(1 for r in in_db if not r[7]) == 6
    assert result.voided_rows == 2 and result.subjects == 2
    assert {r["DOMAIN"] for r in rows} == {"CM"}
    assert {r["STUDYID"] for r in rows} == {"EXAMPLE-IIM-01"}
    assert {r["CMCAT"] for r in rows} == {"SYSTEMIC CORTICOSTEROID"}
    assert {r["CMDOSU"] for r in rows} == {"mg"}


def test_every_cm_row_matches_its_record_in_the_database(db, study, records, tmp_path):
    _, rows = read(export_sdtm(db, study, tmp_path, clock=lambda: EXTRACTED).cm_path)
    by_id = {r[0]: r for r in db_rows(db)}
    routes = {"PO": "ORAL", "IV": "INTRAVENOUS", "IM": "INTRAMUSCULAR", "SC": "SUBCUTANEOUS"}
    for row in rows:
        (_, drug, dose_ug, freq, route, start, end, voided, _, subject, day1) = \
            by_id[int(row["CMSPID"].removeprefix("DOSE-"))]
        assert not voided
        assert row["USUBJID"] == f"EXAMPLE-IIM-01-{subject}"
        assert row["CMTRT"] == drug and row["CMDECOD"] == drug.upper()
        assert Decimal(row["CMDOSE"]) == Decimal(dose_ug) / 1000
        assert row["CMDOSFRQ"] == freq
        assert row["CMROUTE"] == routes[route]
        assert ISO_DATE.match(row["CMSTDTC"]) and row["CMSTDTC"] == start.isoformat()
        assert int(row["CMSTDY"]) == expected_study_day(start, day1)
        last = start if freq == "ONCE" else end
        if last is None:
            assert row["CMENDTC"] == "" and row["CMENDY"] == ""
        else:
            assert ISO_DATE.match(row["CMENDTC"]) and row["CMENDTC"] == last.isoformat()
            assert int(row["CMENDY"]) == expected_study_day(last, day1)


def test_study_days_have_no_day_zero_and_run_in_days_are_negative(db, study, records,
                                                                   tmp_path):
    _, rows = read(export_sdtm(db, study, tmp_path, clock=lambda: EXTRACTED).cm_path)
    first = next(r for r in rows if r["USUBJID"].endswith("101-001") and r["CMSEQ"] == "1")
    assert (first["CMSTDTC"], first["CMSTDY"]) == ("2025-12-20", "-12")
    assert (first["CMENDTC"], first["CMENDY"]) == ("2026-01-31", "31")
    pulse = next(r for r in rows if r["CMDOSFRQ"] == "ONCE")
    assert (pulse["CMSTDY"], pulse["CMENDY"], pulse["CMENDTC"]) == ("41", "41", "2026-02-10")
    assert all(r["CMSTDY"] != "0" and r["CMENDY"] != "0" for r in rows)


def test_cmseq_numbers_each_subjects_records_in_start_date_order(db, study, records, tmp_path):
    _, rows = read(export_sdtm(db, study, tmp_path, clock=lambda: EXTRACTED).cm_path)
    for subject in ("EXAMPLE-IIM-01-101-001", "EXAMPLE-IIM-01-102-001"):
        mine = [r for r in rows if r["USUBJID"] == subject]
        assert [int(r["CMSEQ"]) for r in mine] == list(range(1, len(mine) + 1))
        assert [r["CMSTDTC"] for r in mine] == sorted(r["CMSTDTC"] for r in mine)
    assert [r["USUBJID"] for r in rows] == sorted(r["USUBJID"] for r in rows)


def test_voided_records_are_listed_apart_with_reason_and_correction(db, study, records,
                                                                     tmp_path):
    result = export_sdtm(db, study, tmp_path, clock=lambda: EXTRACTED)
    columns, voided = read(result.voided_path)
    assert tuple(columns) == VOIDED_COLUMNS
    _, cm = read(result.cm_path)
    voided_ids = {f"DOSE-{records['wrong']}", f"DOSE-{records['bad']}"}
    assert {r["CMSPID"] for r in voided} == voided_ids
    assert not voided_ids & {r["CMSPID"] for r in cm}
    wrong = next(r for r in voided if r["CMSPID"] == f"DOSE-{records['wrong']}")
    assert wrong["VOID_REASON"] == "typing error" and wrong["VOIDED_BY"] == "nurse"
    assert wrong["VOIDED_AT_UTC"] == "2026-07-02T14:30:00Z"
    assert wrong["CORRECTED_BY_CMSPID"] == ""
    bad = next(r for r in voided if r["CMSPID"] == f"DOSE-{records['bad']}")
    assert bad["VOID_REASON"] == "diary says 10 mg"
    assert bad["CORRECTED_BY_CMSPID"] in {r["CMSPID"] for r in cm}


def test_readme_describes_every_column_and_the_voided_records(db, study, records, tmp_path):
    result = export_sdtm(db, study, tmp_path, clock=lambda: EXTRACTED)
    readme = " ".join(result.readme_path.read_text(encoding="utf-8").split())
    for column in CM_COLUMNS:
        assert f"**{column}**" in readme
    assert "cm_voided.csv" in readme and "no day 0" in readme
    assert "2026-07-02T15:00:00Z" in readme
    assert "6 CM records" in readme and "2 voided" in readme


def test_export_can_be_limited_to_some_sites(db, study, records, tmp_path):
    result = export_sdtm(db, study, tmp_path, sites=frozenset({"102"}),
                         clock=lambda: EXTRACTED)
    _, rows = read(result.cm_path)
    assert {r["USUBJID"] for r in rows} == {"EXAMPLE-IIM-01-102-001"}
    assert result.subjects == 1
