"""The study-wide PDF: the dashboard chart, target attainment, data completeness, every patient.

Blinded: the application never stores the arm, and nothing here groups or labels by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from reportlab.platypus import Flowable, NextPageTemplate, PageBreak, Paragraph

from ..domain.units import round_half_up
from ..results import (
    STATUSES,
    Attainment,
    AuditHeadMark,
    Completeness,
    PatientAnalysis,
    StudyInfo,
)
from .pdf_chart import figure_flowable
from .pdf_common import (
    ACCENT,
    DASH,
    LANDSCAPE,
    PORTRAIT,
    STATUS_COLOUR,
    STATUS_LABEL,
    BuildResult,
    PageFurniture,
    build_pdf,
    callout,
    data_table,
    fit_widths,
    fmt_mg,
    fmt_pct,
    frame_size,
    key_value_table,
    section,
    spacer,
    styles,
    text,
)
from .taper_chart import dashboard_figure

REPORT_TITLE = "Steroid taper report (study, blinded)"
CHART_HEIGHT = 215.0


def _count_pct(n: int, pct: float | None) -> str:
    return f"{n} ({DASH if pct is None else fmt_pct(round_half_up(pct, 1))} %)"


def _met_of_reached(a: Attainment) -> str:
    share = a.met_of_reached_pct
    return (f"{a.counts['met']} / {a.reached} "
            f"({DASH if share is None else fmt_pct(round_half_up(share, 1))} %)")


def _attainment_table(rows: Sequence[Attainment], width: float) -> Flowable:
    body = [[a.group, str(a.patients), _met_of_reached(a),
             *(_count_pct(a.counts[k], a.pct(k)) for k in STATUSES)] for a in rows]
    extra = [("LINEBELOW", (0, 1), (-1, 1), 0.8, ACCENT)]
    return data_table(["Group", "Patients", "Met of reached", "Met", "Not met",
                       "Not evaluable", "Pending", "Discontinued"], body,
                      [0.14 * width, 0.08 * width, 0.16 * width, *([0.124 * width] * 5)],
                      right=(1, 2, 3, 4, 5, 6, 7), extra=extra)


def _completeness_table(rows: Sequence[Completeness], width: float) -> Flowable:
    body = [[c.group, str(c.patients), f"{c.observed_days:,}", f"{c.missing_days:,}",
             f"{c.expected_days:,}", fmt_pct(None if c.observed_pct is None
                                                else round_half_up(c.observed_pct, 1)),
             str(c.patients_with_gaps)] for c in rows]
    extra = [("LINEBELOW", (0, 1), (-1, 1), 0.8, ACCENT)]
    return data_table(["Group", "Patients", "Observed days", "Missing days", "Days Day 1 to "
                       "as-of", "Observed %", "Patients with missing days"], body,
                      [0.2 * width, 0.1 * width, 0.14 * width, 0.14 * width, 0.15 * width,
                       0.12 * width, 0.15 * width], right=(1, 2, 3, 4, 5, 6), extra=extra)


PATIENT_COLUMNS = (
    # header ("\n" breaks the line), right-aligned, the value from a summary --json dict
    ("Subject", False, lambda s: s["subject_id"]),
    ("Site", False, lambda s: s["site"]),
    ("As-of\nday", True, lambda s: str(s["as_of_day"])),
    ("Baseline\nmg/day", True, lambda s: fmt_mg(s["baseline_mg"])),
    ("Actual\nmg/day", True, lambda s: fmt_mg(s["actual_mg"])),
    ("Sched.\nmg/day", True, lambda s: fmt_mg(s["scheduled_mg"])),
    ("Daily\nred. %", True, lambda s: fmt_pct(s["reduction_pct"])),
    ("Window\nred. %", True, lambda s: fmt_pct(s["window_reduction_pct"])),
    ("Cum.\nmg", True, lambda s: fmt_mg(s["cumulative_mg"])),
    ("Sched.\ncum. mg", True, lambda s: fmt_mg(s["scheduled_cumulative_mg"])),
    ("Cum.\nred. %", True, lambda s: fmt_pct(s["cumulative_reduction_pct"])),
    ("Spared\nmg", True, lambda s: fmt_mg(s["spared_mg"])),
    ("Dev. days\nabove", True, lambda s: str(s["deviation_days_above"])),
    ("Dev. days\nbelow", True, lambda s: str(s["deviation_days_below"])),
    ("Dev.\nepisodes", True, lambda s: str(s["deviation_episodes"])),
    ("Day to\ntarget\ndose", True,
     lambda s: DASH if s["days_to_target_dose"] is None else str(s["days_to_target_dose"])),
    ("Obs.\ndays", True, lambda s: str(s["observed_days"])),
    ("Miss.\ndays", True, lambda s: str(s["missing_days"])),
    ("Target\nwindow\nred. %", True,
     lambda s: fmt_pct(s["target"]["window_reduction_pct"])),
    ("Target\nstatus", False, lambda s: STATUS_LABEL[s["target"]["status"]]),
)


def _patient_table(summaries: Sequence[dict[str, Any]], width: float) -> Flowable:
    right = [i for i, c in enumerate(PATIENT_COLUMNS) if c[1]]
    rows = [[c[2](s) for c in PATIENT_COLUMNS] for s in summaries]
    widths = fit_widths([c[0] for c in PATIENT_COLUMNS], rows, width)
    status_col = len(PATIENT_COLUMNS) - 1
    extra = [("TEXTCOLOR", (status_col, i), (status_col, i),
              STATUS_COLOUR[s["target"]["status"]]) for i, s in enumerate(summaries, start=1)]
    return data_table([c[0] for c in PATIENT_COLUMNS], rows, widths, right=right, extra=extra)


def build_cohort_report(analyses: Sequence[PatientAnalysis], summaries: Sequence[dict[str, Any]],
                        attainment: Sequence[Attainment], completeness: Sequence[Completeness],
                        study: StudyInfo, as_of: date, *, printed_at: datetime,
                        fingerprint: str, app_version: str,
                        audit_head: AuditHeadMark | None = None) -> BuildResult:
    """The study PDF; ``summaries`` are the patients' ``summary --json`` dicts, same order;
    ``attainment`` and ``completeness`` the study's groupings of them (services.cohort)."""
    s = styles()
    width, _ = frame_size(PORTRAIT)
    wide, _ = frame_size(LANDSCAPE)
    settings = study.protocol.settings
    sites = sorted({x["site"] for x in summaries})
    furniture = PageFurniture(
        report_title=REPORT_TITLE,
        header_items=(("Study", study.name), ("Protocol", study.protocol_version),
                      ("Sites", ", ".join(sites) if sites else DASH),
                      ("Patients", str(len(summaries)))),
        printed_at=printed_at, app_version=app_version, fingerprint=fingerprint, as_of=as_of,
        audit_head=audit_head)
    target = (f"≥ {settings.target_reduction_pct} % reduction (28-day window) by day "
              f"{settings.target_day}")
    pairs = [
        ("Study", text(study.name)), ("Protocol version", text(study.protocol_version)),
        ("Figures as of", as_of.isoformat()), ("Patients", str(len(summaries))),
        ("Sites", text(", ".join(sites) or DASH)), ("Target", text(target)),
        ("Tolerance", f"{settings.tolerance_mg} mg"),
        ("Target dose", DASH if settings.target_dose_mg is None
         else f"≤ {settings.target_dose_mg} mg/day"),
    ]
    story: list[Flowable] = [
        Paragraph("Steroid taper report – study summary", s.title),
        Paragraph(f"{text(study.name)} · protocol {text(study.protocol_version)} · figures as "
                  f"of {as_of.isoformat()} · all doses in prednisone-equivalent mg (PEQ)",
                  s.note),
        spacer(6),
        key_value_table(pairs, [0.15 * width, 0.35 * width, 0.15 * width, 0.35 * width]),
        spacer(8),
        callout("<b>Blinded report.</b> <font size=8.5>The application never stores a "
                "patient's treatment allocation, so nothing here is grouped or labelled by "
                "it.</font>", STATUS_COLOUR["pending"], width),
        *section(f"Target attainment at day {settings.target_day}",
                 _attainment_table(attainment, width)),
        Paragraph("Met of reached: patients who met the target among those whose target day "
                  "has come (met, not met or not evaluable). Then counts of patients by target "
                  "status, with the percentage of the group's patients. Met / not met: the "
                  "28-day window reduction at the target day is at or above / below the "
                  "target. Not evaluable: fewer than 14 observed days in that window. Pending: "
                  "the as-of date is before the target day for that patient. Discontinued: the "
                  "patient's participation ended before the target day (counted apart, not in "
                  "met of reached; the patient's figures stop at the end date).", s.note),
        *section("Data completeness (Day 1 to the as-of date)",
                 _completeness_table(completeness, width)),
        Paragraph("Observed days are days covered by a valid dose record; missing days are "
                  "covered by none (not zero doses). Days before Day 1 are not counted.",
                  s.note),
        *section("Reduction from baseline, every patient",
                 figure_flowable(dashboard_figure(analyses, settings), width, CHART_HEIGHT),
                 room=CHART_HEIGHT + 30),
        Paragraph("Thin lines: each patient's 28-day window % reduction by study day; bold: "
                  "the median where at least 3 patients have a value.", s.note),
        NextPageTemplate("landscape"),
        PageBreak(),
        *section("Figures per patient (the same values as 'taper-app summary --json')",
                 _patient_table(summaries, wide)),
        Paragraph("mg are prednisone-equivalent mg (to 0.001), percentages are reductions from "
                  f"baseline (to 0.1). {DASH}: the figure does not exist (for example the "
                  "as-of day is missing, or the window has fewer than 14 observed days).",
                  s.note),
    ]
    return build_pdf(story, furniture, title=f"Steroid taper study report {study.name}",
                     subject=f"{study.name} all patients, as of {as_of.isoformat()}")
