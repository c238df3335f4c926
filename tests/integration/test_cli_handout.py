"""`taper-app handout` through the real command line: the PDF, the CSV of interfaces.md,
the audit row, and clear refusals that write nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.storage.engine import Database, open_database
from taper_app.storage.models import AuditEntry
from taper_app.storage.uow import UnitOfWork
from tests.cli_door import taper
from tests.conftest import context

pytestmark = pytest.mark.sqlite_only  # the door is tested here; the services on both backends


@pytest.fixture
def cli_study_data(db: Database, study) -> None:  # type: ignore[no-untyped-def]
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-05-01", "baseline_mg": "20",
                                  "template_id": "table-12wk"})
    record_dose(nurse, study, "101-001", {"drug": "methylprednisolone", "dose_mg": "16",
                                          "frequency": "QD", "route": "PO",
                                          "start_date": "2026-05-01"})  # ongoing


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_handout_writes_the_pdf_and_csv_and_audits_the_print(location: str, out_dir: Path):
    tmp_path = out_dir
    pdf, table = tmp_path / "cal.pdf", tmp_path / "cal.csv"
    status, out, err = taper("handout", "--subject", "101-001", "--from", "2026-07-06",
                             "--weeks", "2", "--out", str(pdf), "--csv", str(table),
                             "--db", location, "--user", "nurse")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"wrote {pdf} (") and "2026-07-06 to 2026-07-19, " \
        "methylprednisolone; data SHA-256 " in lines[0]
    assert lines[1] == f"wrote {table} (14 days)"
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert list(rows[0]) == ["date", "study_day", "scheduled_peq_mg", "drug", "dose_mg",
                             "tablets", "note"]
    # Day 67 (2026-07-06): 10 mg PEQ is 8 mg methylprednisolone; Day 71: 5 mg PEQ QOD is 4 mg
    assert rows[0] == {"date": "2026-07-06", "study_day": "67", "scheduled_peq_mg": "10",
                       "drug": "methylprednisolone", "dose_mg": "8", "tablets": "1 x 8 mg",
                       "note": ""}
    assert rows[4]["dose_mg"] == "4" and rows[4]["note"].startswith("new dose from today")
    assert rows[5]["dose_mg"] == "0" and rows[5]["tablets"] == ""
    pages = PdfReader(pdf).pages
    assert all("101-001" in p.extract_text() for p in pages)
    db = open_database(location)
    try:
        with UnitOfWork(db, write=False) as uow:
            (row,) = uow.session.scalars(select(AuditEntry).where(
                AuditEntry.action == "print_calendar")).all()
            assert (row.username, row.subject_id) == ("nurse", "101-001")
            assert row.new_value.startswith("2026-07-06 to 2026-07-19, methylprednisolone")
    finally:
        db.dispose()


def test_handout_warns_about_days_no_tablet_makes(location: str, out_dir: Path):
    tmp_path = out_dir
    status, out, _ = taper("handout", "--subject", "101-001", "--from", "2026-07-06",
                           "--weeks", "1", "--drug", "triamcinolone", "--out",
                           str(tmp_path / "c.pdf"), "--db", location, "--user", "nurse")
    assert status == 0
    assert "warning: on 6 day(s) no triamcinolone tablets make the dose exactly" in out


@pytest.mark.parametrize(("extra", "message"), [
    (("--drug", "aspirin"), "unknown drug 'aspirin'"),
    (("--weeks", "0"), "weeks: 0 is not a number of weeks from 1 to 26"),
    (("--from", "6 July"), "--from: '6 July' is not a date"),
])
def test_bad_input_is_refused_and_writes_nothing(location: str, out_dir: Path, extra, message):
    tmp_path = out_dir
    pdf = tmp_path / "c.pdf"
    status, out, err = taper("handout", "--subject", "101-001", "--out", str(pdf), *extra,
                             "--db", location, "--user", "nurse")
    assert status == 1 and out == ""
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_subject_a_missing_folder_and_no_user(location: str, out_dir: Path):
    tmp_path = out_dir
    status, _, err = taper("handout", "--subject", "999", "--out", str(tmp_path / "c.pdf"),
                           "--db", location, "--user", "nurse")
    assert status == 1 and "no patient '999'" in err
    status, _, err = taper("handout", "--subject", "101-001", "--from", "2026-07-06",
                           "--out", str(tmp_path / "no" / "c.pdf"), "--csv",
                           str(tmp_path / "c.csv"), "--db", location, "--user", "nurse")
    assert status == 1 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []  # the CSV is not written without its PDF
    status, _, err = taper("handout", "--subject", "101-001", "--out",
                           str(tmp_path / "c.pdf"), "--db", location)
    assert status == 2 and "give --user NAME" in err
