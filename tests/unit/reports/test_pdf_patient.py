"""The per-patient PDF read back with pypdf: header, page numbers, figures, voided records.

One patient with a run-in, a diary gap, a wrong record voided, a corrected record, an IV
pulse and an amended schedule; the PDF is built once for the module (it takes seconds).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from taper_app import __version__
from taper_app.services.errors import PermissionDenied
from taper_app.services.figures import PatientAnalysis, analyse_patient, summary_dict
from taper_app.services.patients import (
    amend_patient_schedule,
    correct_dose,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.reporting import Report, fingerprint, patient_payload, patient_report
from taper_app.services.study import StudyInfo, load_study
from taper_app.storage.engine import copy_sqlite_file, open_database
from tests.conftest import TODAY, context

SUBJECT = "101-001"
PRINTED = datetime(2026, 7, 3, 8, 15, 42, tzinfo=UTC)
VOID_REASON = "Typing error: 160 mg entered for 16 mg"
CORRECTION_REASON = "Diary read again: 11 mg, not 12 mg"
FLARE_REASON = "Flare on two visits: hold 16 mg"


@dataclass(frozen=True)
class Built:
    study: StudyInfo
    analysis: PatientAnalysis
    summary: dict
    report: Report
    pages: list[str]
    voided_id: int
    corrected_id: int
    correction_id: int


def enroll_example_patient(db, study) -> tuple[int, int, int]:
    """The example patient (Day 1 2026-01-01, 20 mg/day); returns voided, corrected, new ids."""
    nurse, investigator = context(db, "nurse"), context(db, "investigator")
    enroll_patient(nurse, study, {"subject_id": SUBJECT, "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a", "kit_number": "K-0042"})
    qd = {"drug": "prednisone", "frequency": "QD", "route": "PO", "source": "clinic"}

    def dose(mg: str, start: str, end: str | None = None, **extra: str) -> int:
        return record_dose(nurse, study, SUBJECT, {**qd, "dose_mg": mg, "start_date": start,
                                                   "end_date": end or "", **extra}).record_id

    dose("20", "2025-12-04", "2026-01-28")                 # run-in and days 1-28
    dose("16", "2026-02-05", "2026-02-11")                 # days 29-35 missing (diary gap)
    wrong = dose("160", "2026-02-12", "2026-03-11")
    void_dose(nurse, wrong, VOID_REASON)
    dose("16", "2026-02-12", "2026-03-11")
    dose("500", "2026-03-01", drug="methylprednisolone", frequency="ONCE", route="IV",
         comment="IV pulse for flare")
    amend_patient_schedule(investigator, study, SUBJECT,
                           {"day": "60", "dose_mg": "16", "reason": FLARE_REASON})
    corrected = dose("12", "2026-03-12", "2026-04-30", source="diary")
    new = correct_dose(nurse, study, corrected, CORRECTION_REASON,
                       {**qd, "dose_mg": "11", "start_date": "2026-03-12",
                        "end_date": "2026-04-30", "source": "diary"})
    dose("10", "2026-05-01")                                # ongoing to the as-of date
    return wrong, corrected, new


@pytest.fixture(scope="module")
def built(_template_study, tmp_path_factory) -> Built:
    path = tmp_path_factory.mktemp("patient-pdf") / "study.sqlite"
    copy_sqlite_file(_template_study, path)
    db = open_database(path)
    try:
        study = load_study(db)
        voided, corrected, new = enroll_example_patient(db, study)
        analysis = analyse_patient(db, study, SUBJECT, TODAY)
        report = patient_report(db, study, SUBJECT, TODAY, printed_at=PRINTED)
    finally:
        db.dispose()
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(report.pdf)).pages]
    return Built(study, analysis, summary_dict(analysis.record, analysis.figures), report,
                 pages, voided, corrected, new)


def test_every_page_carries_study_protocol_site_and_subject(built):
    assert len(built.pages) >= 3
    for text in built.pages:
        assert "Study EXAMPLE-IIM-01 Protocol 2.0 Site 101 Subject 101-001" in text
        assert "Data as of 2026-07-02" in text


def test_pages_are_numbered_n_of_m(built):
    total = len(built.pages)
    assert built.report.pages == total
    for number, text in enumerate(built.pages, start=1):
        assert re.findall(r"Page (\d+) of (\d+)", text) == [(str(number), str(total))]


def test_footer_has_printing_time_version_and_the_data_fingerprint(built):
    expected = fingerprint(patient_payload(built.study, built.analysis))
    assert built.report.fingerprint == expected
    for text in built.pages:
        assert f"Printed 2026-07-03 08:15 UTC by taper-app {__version__}" in text
        assert f"Data fingerprint SHA-256 {expected}" in text


FIGURE_LABELS = {
    "Baseline dose": "baseline_mg",
    "Observed days": "observed_days",
    "Missing days": "missing_days",
    "Actual dose on as-of date": "actual_mg",
    "Scheduled dose on as-of date": "scheduled_mg",
    "Daily reduction": "reduction_pct",
    "28-day window reduction": "window_reduction_pct",
    "Cumulative dose": "cumulative_mg",
    "Scheduled cumulative dose": "scheduled_cumulative_mg",
    "Cumulative reduction": "cumulative_reduction_pct",
    "Steroid spared": "spared_mg",
    "Deviation days above schedule": "deviation_days_above",
    "Deviation days below schedule": "deviation_days_below",
    "Deviation episodes": "deviation_episodes",
}
NUMBER = r"(-?[\d,]+(?:\.\d+)?|–)"


def printed_number(text: str, label: str) -> float | None:
    match = re.search(rf"(?<![\w-]){re.escape(label)} {NUMBER}", text)
    assert match, f"{label!r} is not printed"
    return None if match.group(1) == "–" else float(match.group(1).replace(",", ""))


def test_printed_figures_equal_summary_json(built):
    text = built.pages[0]
    s = built.summary
    assert s["as_of_day"] == 183 and s["missing_days"] > 0, "the scenario has a gap"
    for label, key in FIGURE_LABELS.items():
        assert printed_number(text, label) == s[key], label
    t = s["target"]
    assert printed_number(text, f"Target window reduction at day {t['day']}") == \
        t["window_reduction_pct"]
    status = {"met": "MET", "not_met": "NOT MET", "not_evaluable": "NOT EVALUABLE",
              "pending": "PENDING"}[t["status"]]
    assert f"Target status {status}" in text
    assert f"Target status: {status}" in text
    assert f"As-of date 2026-07-02 (study day {s['as_of_day']})" in text
    expected_day = s["days_to_target_dose"]
    shown = re.search(r"Days to target dose \(≤ 7.5 mg\) (day (\d+)|not reached)", text)
    assert shown and shown.group(2) == (None if expected_day is None else str(expected_day))


def test_identification_shows_day1_baseline_and_template(built):
    text = built.pages[0]
    assert "Day 1 (first dose of study product) 2026-01-01" in text
    assert re.search(r"Baseline \(prednisone ?-equivalent\) 20 mg/day", text)
    assert "stepdown-a – Band step-down from Day 29" in text


def test_voided_records_are_printed_with_their_reasons(built):
    text = " ".join(built.pages)
    assert f"#{built.voided_id} prednisone 160 QD PO" in text
    assert f"VOIDED: {VOID_REASON} – by nurse" in text
    assert f"VOIDED: {CORRECTION_REASON}" in text
    assert f"#{built.correction_id} prednisone 11 QD PO" in text
    assert f"corrects #{built.corrected_id}" in text
    assert "8 records, 2 voided" in text


def test_schedule_amendment_pulse_episodes_and_gaps_are_listed(built):
    text = " ".join(built.pages)
    assert f"1 day 60 (2026-03-01) 16 mg/day {FLARE_REASON} investigator" in text
    assert "amendment 1" in text
    assert "methylprednisolone 500 ONCE IV 2026-03-01 day 60 2026-03-01 day 60 625" in text
    assert "First missing day Last missing day Days day 29 (2026-01-29) day 35 (2026-02-04) 7" \
        in text
    for n, e in enumerate(built.analysis.figures.episodes, start=1):
        assert f"{n} {e.direction} day {e.first_day} (" in text


def test_charts_are_vectors_whose_words_are_text(built):
    reader = PdfReader(io.BytesIO(built.report.pdf))
    for page in reader.pages:
        for ref in page.get("/Resources", {}).get("/XObject", {}).values():
            assert ref.get_object().get("/Subtype") != "/Image"
    text = " ".join(built.pages)
    for words in ("mg PEQ / day", "% reduction", "cumulative mg PEQ", "study day",
                  "methylprednisolone 500 mg IV", "amended from day 60"):
        assert words in text


def test_the_record_is_not_signed_yet(built):
    assert "Investigator signature Not signed" in built.pages[-1]


def test_a_patient_of_another_site_is_refused(db, study):
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": SUBJECT, "site": "101", "day1_date": "2026-01-01",
        "baseline_mg": "20", "template_id": "stepdown-a"})
    with pytest.raises(PermissionDenied):
        patient_report(db, study, SUBJECT, date(2026, 7, 2), printed_at=PRINTED,
                       sites=frozenset({"102"}))
