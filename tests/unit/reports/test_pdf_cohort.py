"""The study PDF read back with pypdf: every patient, attainment counts, completeness, blinding.

Five patients at three sites, one per target status (two pending); built once per module.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from taper_app.services.figures import analyse_all, summary
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.reporting import Report, cohort_payload, cohort_report, fingerprint
from taper_app.services.study import load_study
from taper_app.storage.engine import copy_sqlite_file, open_database
from tests.conftest import TODAY, context

PRINTED = datetime(2026, 7, 2, 18, 0, tzinfo=UTC)
#: subject, site, Day 1, baseline, [(mg, start, end)], the status expected at 2026-07-02
PATIENTS = [
    ("101-001", "101", "2026-01-01", "20", [("20", "2026-01-01", "2026-01-28"),
                                            ("8", "2026-01-29", "")], "met"),
    ("101-002", "101", "2026-01-01", "20", [("20", "2026-01-01", "")], "not_met"),
    ("102-001", "102", "2026-01-01", "10", [("10", "2026-01-01", "2026-05-31")],
     "not_evaluable"),
    ("102-002", "102", "2026-05-01", "10", [("10", "2026-05-01", "")], "pending"),
    ("103-001", "103", "2026-04-01", "15", [("15", "2026-04-01", "2026-04-30"),
                                            ("12", "2026-05-10", "")], "pending"),
]
STATUS_WORDS = {"met": "MET", "not_met": "NOT MET", "not_evaluable": "NOT EVALUABLE",
                "pending": "PENDING"}


@dataclass(frozen=True)
class Built:
    summaries: list[dict]
    report: Report
    expected_fingerprint: str
    pages: list[str]
    reader: PdfReader


@pytest.fixture(scope="module")
def built(_template_study, tmp_path_factory) -> Built:
    path = tmp_path_factory.mktemp("cohort-pdf") / "study.sqlite"
    copy_sqlite_file(_template_study, path)
    db = open_database(path)
    try:
        study = load_study(db)
        nurse = context(db, "nurse")
        for subject, site, day1, baseline, doses, _ in PATIENTS:
            enroll_patient(nurse, study, {"subject_id": subject, "site": site,
                                          "day1_date": day1, "baseline_mg": baseline,
                                          "template_id": "stepdown-a"})
            for mg, start, end in doses:
                record_dose(nurse, study, subject, {
                    "drug": "prednisone", "dose_mg": mg, "frequency": "QD", "route": "PO",
                    "start_date": start, "end_date": end})
        summaries = summary(db, study, TODAY)
        expected = fingerprint(cohort_payload(study, analyse_all(db, study, TODAY), TODAY))
        report = cohort_report(db, study, TODAY, printed_at=PRINTED)
    finally:
        db.dispose()
    reader = PdfReader(io.BytesIO(report.pdf))
    pages = [" ".join(p.extract_text().split()) for p in reader.pages]
    return Built(summaries, report, expected, pages, reader)


def test_the_scenario_has_every_target_status(built):
    assert [s["target"]["status"] for s in built.summaries] == [p[5] for p in PATIENTS]


def test_every_page_has_the_header_page_numbers_and_fingerprint(built):
    total = len(built.pages)
    assert built.report.pages == total >= 2
    assert built.report.fingerprint == built.expected_fingerprint
    for number, text in enumerate(built.pages, start=1):
        assert "Study EXAMPLE-IIM-01 Protocol 2.0 Sites 101, 102, 103 Patients 5" in text
        assert f"Page {number} of {total}" in text
        assert "Printed 2026-07-02 18:00 UTC" in text
        assert f"Data fingerprint SHA-256 {built.expected_fingerprint}" in text


def counts(group: list[dict]) -> str:
    """The attainment row after the group and its size: met of reached, then each status."""
    statuses = [s["target"]["status"] for s in group]
    met = statuses.count("met")
    reached = sum(statuses.count(k) for k in ("met", "not_met", "not_evaluable"))
    parts = [f"{met} / {reached} ({100 * met / reached:.1f} %)" if reached
             else f"{met} / {reached} (– %)"]
    for status in ("met", "not_met", "not_evaluable", "pending"):
        n = sum(1 for s in group if s["target"]["status"] == status)
        parts.append(f"{n} ({100 * n / len(group):.1f} %)")
    return " ".join(parts)


def test_target_attainment_overall_and_per_site(built):
    text = built.pages[0]
    assert f"All sites 5 {counts(built.summaries)}" in text
    assert "All sites 5 1 / 3 (33.3 %) 1 (20.0 %) 1 (20.0 %) 1 (20.0 %) 2 (40.0 %)" in text
    for site in ("101", "102", "103"):
        group = [s for s in built.summaries if s["site"] == site]
        assert f"Site {site} {len(group)} {counts(group)}" in text
    assert "Site 103 1 0 / 0 (– %) 0 (0.0 %) 0 (0.0 %) 0 (0.0 %) 1 (100.0 %)" in text


def test_data_completeness_per_site_sums_observed_and_missing_days(built):
    text = built.pages[0]
    for name, group in [("All sites", built.summaries)] + [
            (f"Site {site}", [s for s in built.summaries if s["site"] == site])
            for site in ("101", "102", "103")]:
        observed = sum(s["observed_days"] for s in group)
        missing = sum(s["missing_days"] for s in group)
        with_gaps = sum(1 for s in group if s["missing_days"])
        pct = f"{100 * observed / (observed + missing):.1f}"
        assert (f"{name} {len(group)} {observed:,} {missing:,} {observed + missing:,} {pct} "
                f"{with_gaps}") in text
    assert any(s["missing_days"] for s in built.summaries), "the scenario has missing days"


ROW_KEYS = ["as_of_day", "baseline_mg", "actual_mg", "scheduled_mg", "reduction_pct",
            "window_reduction_pct", "cumulative_mg", "scheduled_cumulative_mg",
            "cumulative_reduction_pct", "spared_mg", "deviation_days_above",
            "deviation_days_below", "deviation_episodes", "days_to_target_dose",
            "observed_days", "missing_days"]


def test_every_patient_is_listed_with_the_figures_of_summary_json(built):
    text = " ".join(built.pages[1:])
    for s in built.summaries:
        match = re.search(rf"{s['subject_id']} {s['site']} ((?:\S+ ){{17}})"
                          r"(MET|NOT MET|NOT EVALUABLE|PENDING)", text)
        assert match, f"{s['subject_id']} is not listed"
        tokens = match.group(1).split()
        printed = [None if t == "–" else float(t.replace(",", "")) for t in tokens]
        expected = [s[k] for k in ROW_KEYS] + [s["target"]["window_reduction_pct"]]
        assert printed == expected, s["subject_id"]
        assert match.group(2) == STATUS_WORDS[s["target"]["status"]]


def test_the_patient_table_is_landscape_with_its_header_repeated(built):
    page = built.reader.pages[-1]
    assert float(page.mediabox.width) > float(page.mediabox.height)
    assert "Subject Site As-of day Baseline mg/day" in built.pages[-1]


def test_the_report_is_blinded(built):
    text = " ".join(built.pages)
    assert "Blinded report" in text
    assert not re.search(r"\barms?\b", text, re.IGNORECASE)
    assert "placebo" not in text.lower()
