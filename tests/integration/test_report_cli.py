"""`taper-app report` and `taper-app export --format sdtm|csv` through the real command line.

The PDF's figures are compared with what `summary --json` prints for the same patient:
two doors, one set of numbers.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.storage.engine import Database
from tests.cli_door import taper
from tests.conftest import context
from tests.unit.reports.test_pdf_patient import FIGURE_LABELS, printed_number

pytestmark = pytest.mark.sqlite_only  # the door is tested here; the services on both backends


@pytest.fixture
def cli_study_data(db: Database, study) -> None:  # type: ignore[no-untyped-def]
    """Two patients at two sites."""
    nurse = context(db, "nurse")
    for subject, site in (("101-001", "101"), ("102-001", "102")):
        enroll_patient(nurse, study, {"subject_id": subject, "site": site,
                                      "day1_date": "2026-02-01", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
        record_dose(nurse, study, subject, {
            "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
            "start_date": "2026-01-15", "end_date": "2026-03-15"})
        record_dose(nurse, study, subject, {
            "drug": "prednisone", "dose_mg": "15", "frequency": "QD", "route": "PO",
            "start_date": "2026-03-20"})


def pdf_pages(path: Path) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(path).pages]


def test_report_subject_prints_the_figures_of_summary_json(location: str, tmp_path: Path):
    out_pdf = tmp_path / "101-001.pdf"
    status, out, err = taper("report", "--subject", "101-001", "--out", str(out_pdf),
                             "--as-of", "2026-07-02", "--db", location)
    assert (status, err) == (0, "")
    match = re.fullmatch(rf"wrote {re.escape(str(out_pdf))} \((\d+) pages; data SHA-256 "
                         r"([0-9a-f]{64})\)\n", out)
    assert match
    pages = pdf_pages(out_pdf)
    assert len(pages) == int(match.group(1))
    assert all(f"Data fingerprint SHA-256 {match.group(2)}" in p for p in pages)
    assert all("Site 101 Subject 101-001" in p for p in pages)
    status, out, _ = taper("summary", "--json", "--subject", "101-001", "--as-of",
                           "2026-07-02", "--db", location)
    assert status == 0
    summary = json.loads(out)[0]
    for label, key in FIGURE_LABELS.items():
        assert printed_number(pages[0], label) == summary[key], label


def test_report_cohort_lists_every_patient(location: str, tmp_path: Path):
    out_pdf = tmp_path / "study.pdf"
    status, _out, err = taper("report", "--cohort", "--out", str(out_pdf), "--as-of",
                             "2026-07-02", "--db", location)
    assert (status, err) == (0, "")
    text = " ".join(pdf_pages(out_pdf))
    assert "101-001 101" in text and "102-001 102" in text
    assert "All sites 2" in text


def test_report_needs_out(location: str):
    status, _, err = taper("report", "--cohort", "--db", location)
    assert status == 2
    assert "--out" in err


@pytest.mark.parametrize(("argv", "words"), [
    (["--subject", "999-999"], "no patient '999-999'"),
    (["--cohort", "--as-of", "July"], "is not a date"),
])
def test_report_invalid_input_exits_1(location: str, tmp_path: Path, argv: list[str],
                                      words: str):
    status, out, err = taper("report", *argv, "--out", str(tmp_path / "x.pdf"),
                             "--db", location)
    assert status == 1 and words in err and out == ""
    assert not (tmp_path / "x.pdf").exists()


def test_report_into_a_missing_folder_exits_1_and_leaves_nothing(location: str,
                                                                 tmp_path: Path):
    target = tmp_path / "no-such-folder" / "study.pdf"
    status, _, err = taper("report", "--cohort", "--out", str(target), "--as-of",
                           "2026-07-02", "--db", location)
    assert status == 1
    assert "does not exist" in err
    assert not target.parent.exists()


def test_export_sdtm_writes_cm_the_voided_listing_and_a_readme(location: str,
                                                               tmp_path: Path):
    out_dir = tmp_path / "sdtm"
    status, out, err = taper("export", "--format", "sdtm", "--out", str(out_dir),
                             "--db", location)
    assert (status, err) == (0, "")
    assert "4 CM records for 2 subjects; 0 voided records listed apart" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["README.md", "cm.csv",
                                                        "cm_voided.csv"]
    with (out_dir / "cm.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["USUBJID"], r["CMSEQ"], r["CMSTDY"]) for r in rows] == [
        ("EXAMPLE-IIM-01-101-001", "1", "-17"), ("EXAMPLE-IIM-01-101-001", "2", "48"),
        ("EXAMPLE-IIM-01-102-001", "1", "-17"), ("EXAMPLE-IIM-01-102-001", "2", "48")]


def test_export_csv_still_works(location: str, tmp_path: Path):
    status, _out, err = taper("export", "--format", "csv", "--out", str(tmp_path / "csv"),
                             "--as-of", "2026-07-02", "--db", location)
    assert (status, err) == (0, "")
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "README.md", "daily_series.csv", "dose_records.csv"]
