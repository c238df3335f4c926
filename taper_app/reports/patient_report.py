"""The per-patient PDF: identification, figures, the taper chart, schedule, records, signatures.

Every number printed comes from the ``summary --json`` dictionary it is given (the same
rounding as the command line and the window) or from the stored record itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from reportlab.platypus import Flowable, Paragraph

from ..domain.doses import peq_mg_per_day
from ..domain.studyday import date_of_day, study_day
from ..domain.units import format_mg
from ..results import (
    AuditHeadMark,
    DoseRecordView,
    PatientAnalysis,
    PatientRecord,
    QueryView,
    SignatureManifestation,
    StudyInfo,
)
from .pdf_chart import figure_flowable
from .pdf_common import (
    DASH,
    MUTED,
    PORTRAIT,
    STATUS_COLOUR,
    STATUS_LABEL,
    VOID_FILL,
    VOID_INK,
    BuildResult,
    PageFurniture,
    build_pdf,
    callout,
    data_table,
    fit_widths,
    fmt_mg,
    fmt_pct,
    fmt_utc,
    frame_size,
    hex_colour,
    key_value_table,
    markup_cell,
    section,
    spacer,
    styles,
    text,
)
from .taper_chart import taper_figure

REPORT_TITLE = "Steroid taper report (per patient)"


def _mg_text(x: float | None, unit: str = "mg") -> str:
    return DASH if x is None else f"{fmt_mg(x)} {unit}"


def _pct_text(x: float | None) -> str:
    return DASH if x is None else f"{fmt_pct(x)} %"


def _day_and_date(day: int, day1: date) -> str:
    return f"day {day} ({date_of_day(day, day1).isoformat()})"


def _target_sentence(s: dict[str, Any], settings_target_dose: object) -> tuple[str, str]:
    t = s["target"]
    status = t["status"]
    window = t["window_reduction_pct"]
    goal = f"≥ {fmt_pct(t['reduction_pct'])} % window reduction by day {t['day']}"
    figure = DASH if window is None else f"{fmt_pct(window)} %"
    if status == "pending":
        detail = (f"the as-of date is before day {t['day']}; 28-day window reduction so far: "
                  f"{figure}")
    elif status == "discontinued":
        end = s.get("participation", {}).get("end_date")
        detail = (f"participation ended on {end} ({s['participation']['status']}), "
                  f"before day {t['day']}")
    elif status == "not_evaluable":
        detail = f"fewer than 14 observed days in the 28-day window ending on day {t['day']}"
    else:
        detail = f"28-day window reduction at day {t['day']}: {figure}"
    return (f"<b>Target status: {STATUS_LABEL[status]}</b> &nbsp; "
            f"<font size=8.5>(target {text(goal)}; {text(detail)})</font>", status)


def _figure_pairs(s: dict[str, Any], target_dose_mg: object) -> list[tuple[str, str]]:
    """Every figure of domain.md §5, printed from the summary --json values."""
    t = s["target"]
    if target_dose_mg is None:
        to_target = "no target dose in the protocol"
    elif s["days_to_target_dose"] is None:
        to_target = "not reached"
    else:
        to_target = f"day {s['days_to_target_dose']}"
    dose_label = "" if target_dose_mg is None else f" (≤ {target_dose_mg} mg)"
    return [
        ("As-of date", f"{s['as_of']} (study day {s['as_of_day']})"),
        ("Baseline dose", _mg_text(s["baseline_mg"], "mg/day")),
        ("Observed days", str(s["observed_days"])),
        ("Missing days", str(s["missing_days"])),
        ("Actual dose on as-of date", _mg_text(s["actual_mg"], "mg/day")
         if s["actual_mg"] is not None else f"{DASH} (day missing)"),
        ("Scheduled dose on as-of date", _mg_text(s["scheduled_mg"], "mg/day")),
        ("Daily reduction", _pct_text(s["reduction_pct"])),
        ("28-day window reduction", _pct_text(s["window_reduction_pct"])),
        ("Cumulative dose", _mg_text(s["cumulative_mg"])),
        ("Scheduled cumulative dose", _mg_text(s["scheduled_cumulative_mg"])),
        ("Cumulative reduction", _pct_text(s["cumulative_reduction_pct"])),
        ("Steroid spared", _mg_text(s["spared_mg"])),
        ("Deviation days above schedule", str(s["deviation_days_above"])),
        ("Deviation days below schedule", str(s["deviation_days_below"])),
        ("Deviation episodes", str(s["deviation_episodes"])),
        (f"Days to target dose{dose_label}", to_target),
        (f"Target window reduction at day {t['day']}", _pct_text(t["window_reduction_pct"])),
        ("Target status", STATUS_LABEL[t["status"]]),
    ]


def _identification(record: PatientRecord, study: StudyInfo, s: dict[str, Any],
                    width: float) -> Flowable:
    template = study.templates.get(record.template_id)
    template_text = record.template_id + (f" – {template.name}" if template else "")
    settings = study.protocol.settings
    target = (f"≥ {settings.target_reduction_pct} % by day {settings.target_day}; tolerance "
              f"{settings.tolerance_mg} mg")
    if settings.target_dose_mg is not None:
        target += f"; target dose {settings.target_dose_mg} mg"
    pairs = [
        ("Study", text(study.name)),
        ("Protocol version", text(study.protocol_version)),
        ("Site", text(record.site)),
        ("Subject", text(record.subject_id)),
        ("Day 1 (first dose of study product)", record.day1_date.isoformat()),
        ("Baseline (prednisone-equivalent)", f"{format_mg(record.baseline_ug)} mg/day"),
        ("Schedule template", text(template_text)),
        ("Kit / randomisation number", text(record.kit_number or DASH)),
        ("As of", f"{s['as_of']} (study day {s['as_of_day']})"),
        ("Protocol target", text(target)),
    ]
    return key_value_table(pairs, [0.17 * width, 0.33 * width, 0.17 * width, 0.33 * width])


def _schedule_steps(record: PatientRecord, as_of_day: int, width: float) -> list[Flowable]:
    day1 = record.day1_date
    rows: list[list[Any]] = []
    first_day = record.steps[0].day if record.steps else None
    if first_day is None or first_day > 1:
        rows.append(["1", day1.isoformat(), format_mg(record.baseline_ug), "baseline, held "
                     "until the first step"])
    for step in record.steps:
        source = ("template" if step.amendment_seq is None
                  else f"amendment {step.amendment_seq}")
        if step.day > as_of_day:
            source += " (after the as-of date)"
        rows.append([str(step.day), date_of_day(step.day, day1).isoformat(),
                     fmt_mg(float(step.dose_mg)), source])
    table = data_table(["From study day", "From date", "Scheduled dose\n(mg PEQ/day)", "Set by"],
                       rows, [0.16 * width, 0.18 * width, 0.24 * width, 0.42 * width],
                       right=(0, 2))
    return section("Schedule (current steps)", table, keep=len(rows) <= 8)


def _amendments(record: PatientRecord, width: float) -> list[Flowable]:
    day1 = record.day1_date
    if not record.amendments:
        return section("Schedule amendments", Paragraph(
            "No amendments: the schedule is the one generated at enrollment.", styles().body))
    rows = [[str(a.seq), _day_and_date(a.day, day1), f"{format_mg(a.dose_ug)} mg/day",
             a.reason, a.created_by, fmt_utc(a.created_at)] for a in record.amendments]
    table = data_table(["#", "From", "New dose", "Reason", "By", "Entered"], rows,
                       [0.05 * width, 0.19 * width, 0.12 * width, 0.36 * width,
                        0.11 * width, 0.17 * width], right=(0,))
    return [*section("Schedule amendments", table),
            Paragraph("Steps before an amendment's day stay; from that day the dose is the "
                      "amended dose and the taper resumes from it. Superseded steps are kept in "
                      "the database and its audit trail.", styles().note)]


def _dose_notes(d: DoseRecordView) -> str:
    parts = []
    if d.voided:
        by = f" – by {text(d.voided_by)}" if d.voided_by else ""
        at = f", {fmt_utc(d.voided_at)}" if d.voided_at else ""
        parts.append(f'<font color="{hex_colour(VOID_INK)}"><b>VOIDED:</b> '
                     f"{text(d.void_reason)}{by}{at}</font>")
    if d.replaces_id:
        parts.append(f"corrects #{d.replaces_id}")
    if d.comment:
        parts.append(text(d.comment))
    if d.deviation_reason:
        parts.append(f"<i>Deviation reason:</i> {text(d.deviation_reason)}")
    return "<br/>".join(parts)


def _plain_notes(d: DoseRecordView) -> str | None:
    """The notes of ``_dose_notes`` as plain lines, when they have no markup (else None)."""
    if d.voided or d.deviation_reason or (d.comment and "\n" in d.comment):
        return None  # (a Paragraph prints a newline in a comment as a space)
    parts = []
    if d.replaces_id:
        parts.append(f"corrects #{d.replaces_id}")
    if d.comment:
        parts.append(d.comment)
    return "\n".join(parts)


def _dose_records(record: PatientRecord, study: StudyInfo, width: float) -> list[Flowable]:
    s = styles()
    day1 = record.day1_date
    header = ["Rec.", "Drug", "Dose\n(mg)", "Freq.", "Route", "Start", "End", "PEQ\nmg/day",
              "Source", "Entered (UTC)", "Status and notes"]
    plain: list[list[str]] = []
    rows: list[list[Any]] = []
    extra: list[tuple[Any, ...]] = []
    # (Cells are plain strings with "\n" line breaks, which data_table prints as such or, if
    # one does not fit, as a wrapping Paragraph; struck-through voided records and notes with
    # markup are Paragraphs. A three-year daily diary has thousands of cells.)
    for i, d in enumerate(record.doses, start=1):
        peq = peq_mg_per_day(d, study.equivalence)
        end = d.start_date if d.frequency == "ONCE" else d.end_date
        values = [
            f"#{d.id}", d.drug, format_mg(d.dose_ug), d.frequency, d.route,
            f"{d.start_date.isoformat()}\nday {study_day(d.start_date, day1)}",
            ("ongoing" if end is None else f"{end.isoformat()}\nday {study_day(end, day1)}"),
            fmt_mg(peq), d.source or "",
            f"{d.created_by}\n{fmt_utc(d.created_at).removesuffix(' UTC')}",
        ]
        plain.append([*values, ""])
        if d.voided:
            cells: list[Any] = []
            for col, value in enumerate(values):
                markup = text(value).replace("\n", "<br/>")
                markup = f'<font color="{hex_colour(MUTED)}"><strike>{markup}</strike></font>'
                cells.append(markup_cell(markup, s.cell_right if col in (2, 7) else s.cell))
            rows.append([*cells, markup_cell(_dose_notes(d))])
            extra.append(("BACKGROUND", (0, i), (-1, i), VOID_FILL))
        else:
            notes = _plain_notes(d)
            rows.append([*values, markup_cell(_dose_notes(d)) if notes is None else notes])
    widths = fit_widths(header, plain, width, flexible=len(header) - 1)
    table = data_table(header, rows, widths, right=(2, 7), extra=extra, line_breaks=True)
    voided = sum(1 for d in record.doses if d.voided)
    note = (f"{len(record.doses)} records, {voided} voided. Voided records are struck through "
            "and shaded; they stay in the record and the audit trail but no figure counts them. "
            "A ONCE record (a pulse) counts on its start date only; mg PEQ / day is the "
            "prednisone-equivalent dose the record adds on each day it covers.")
    if not record.doses:
        return [*section("Dose records", Paragraph("No dose records.", s.body))]
    return [*section("Dose records (all, including voided)", table),
            Paragraph(text(note), s.note)]


def _episodes(analysis: PatientAnalysis, tolerance_mg: object, width: float) -> list[Flowable]:
    day1 = analysis.record.day1_date
    episodes = analysis.figures.episodes
    note = Paragraph(f"A deviation day is an observed day whose actual dose is more than "
                     f"{tolerance_mg} mg (the protocol's tolerance) above or below the schedule; "
                     "an episode is a run of such days in one direction, ended by a missing "
                     "day.", styles().note)
    if not episodes:
        return [*section("Deviation episodes", Paragraph(
            "No deviation episodes between Day 1 and the as-of date.", styles().body)), note]
    rows = [[str(n), e.direction, _day_and_date(e.first_day, day1),
             _day_and_date(e.last_day, day1), str(e.days)]
            for n, e in enumerate(episodes, start=1)]
    table = data_table(["#", "Direction", "From", "To", "Days"], rows,
                       [0.06 * width, 0.16 * width, 0.3 * width, 0.3 * width, 0.1 * width],
                       right=(0, 4))
    return [*section("Deviation episodes", table), note]


def _gaps(analysis: PatientAnalysis, width: float) -> list[Flowable]:
    day1 = analysis.record.day1_date
    gaps = analysis.gaps
    if analysis.figures.as_of_day < 1:
        return section("Missing days", Paragraph(
            "The as-of date is before Day 1: no study day is counted yet.", styles().body))
    if not gaps:
        return section("Missing days", Paragraph(
            "No missing days: every day from Day 1 to the as-of date is covered by a record.",
            styles().body))
    rows = [[f"day {study_day(first, day1)} ({first.isoformat()})",
             f"day {study_day(last, day1)} ({last.isoformat()})", str((last - first).days + 1)]
            for first, last in gaps]
    table = data_table(["First missing day", "Last missing day", "Days"], rows,
                       [0.35 * width, 0.35 * width, 0.12 * width], right=(2,))
    return [*section("Missing days (no record covers them)", table),
            Paragraph("A missing day is not a zero dose: it is left out of every figure. "
                      "Days after the last record up to the as-of date are missing too.",
                      styles().note)]


QUERY_STEPS = {"answer": "Answered", "reask": "Asked again", "close": "Closed"}
QUERY_STATES = {"open": "open (to answer)", "answered": "answered (to close)",
                "closed": "closed"}


def _query_time(at_utc: str) -> str:
    return at_utc[:16].replace("T", " ")


def _queries(queries: Sequence[QueryView], width: float) -> list[Flowable]:
    """Each query to the site (discrepancy note) with every step: opened, answered, asked
    again, closed; who and when."""
    s = styles()
    if not queries:
        return section("Queries", Paragraph("No queries have been raised on this patient.",
                                            s.body))
    rows: list[list[str]] = []
    for q in queries:
        about = q.record_text or "the patient"
        rows.append([f"Q{q.id}", f"Opened – on {about}", q.opened_by,
                     _query_time(q.opened_at_utc), q.text])
        for m in q.messages:
            rows.append(["", QUERY_STEPS.get(m.kind, m.kind), m.by, _query_time(m.at_utc),
                         m.text or DASH])
        rows.append(["", f"Now {QUERY_STATES.get(q.state, q.state)}", "", "", ""])
    table = data_table(["Query", "Step", "By", "When (UTC)", "Text"], rows,
                       [0.07 * width, 0.25 * width, 0.11 * width, 0.17 * width, 0.40 * width],
                       line_breaks=True)
    unresolved = sum(1 for q in queries if q.state != "closed")
    return [*section("Queries", table),
            Paragraph(f"{len(queries)} queries, {unresolved} not closed. A monitor opens a "
                      "query; the site answers it; the monitor closes it or asks again. "
                      "Every step is in the audit trail.", s.note)]


def signature_section(signatures: Sequence[SignatureManifestation],
                      width: float) -> list[Flowable]:
    """The signature block: "Not signed", or each signature's manifestation and validity."""
    s = styles()
    if not signatures:
        box = callout("<b>Not signed</b> &nbsp; <font size=8.5>No investigator has signed this "
                      "record electronically.</font>", MUTED, width)
        return [*section("Investigator signature", box),
                Paragraph("An electronic signature shows the signer's printed name, the date "
                          "and time (UTC) and the meaning of the signature (21 CFR 11.50).",
                          s.note)]
    rows = []
    for sig in signatures:
        status = "Valid" if sig.valid else f"NOT VALID{': ' + sig.note if sig.note else ''}"
        if sig.audit_head is not None:
            status += f" (audit head {sig.audit_head.short})"
        rows.append([sig.printed_name, fmt_utc(sig.signed_at), sig.meaning,
                     sig.signed_through.isoformat() if sig.signed_through else DASH, status])
    table = data_table(["Printed name", "Signed (UTC)", "Meaning", "Record through", "Status"],
                       rows, [0.22 * width, 0.18 * width, 0.26 * width, 0.13 * width,
                              0.21 * width])
    return section("Investigator signatures", table)


def build_patient_report(analysis: PatientAnalysis, study: StudyInfo, summary: dict[str, Any],
                         *, printed_at: datetime, fingerprint: str, app_version: str,
                         signatures: Sequence[SignatureManifestation] = (),
                         audit_head: AuditHeadMark | None = None,
                         queries: Sequence[QueryView] = ()) -> BuildResult:
    """The per-patient PDF for ``analysis``; ``summary`` is its ``summary --json`` dictionary."""
    s = styles()
    record = analysis.record
    width, height = frame_size(PORTRAIT)
    settings = study.protocol.settings
    furniture = PageFurniture(
        report_title=REPORT_TITLE,
        header_items=(("Study", study.name), ("Protocol", study.protocol_version),
                      ("Site", record.site), ("Subject", record.subject_id)),
        printed_at=printed_at, app_version=app_version, fingerprint=fingerprint,
        as_of=analysis.figures.as_of, audit_head=audit_head)
    markup, status = _target_sentence(summary, settings.target_dose_mg)
    figures_table = key_value_table(
        [(label, text(value)) for label, value in _figure_pairs(summary,
                                                                 settings.target_dose_mg)],
        [0.27 * width, 0.23 * width, 0.27 * width, 0.23 * width])
    fig, _ = taper_figure(analysis, settings)
    chart = figure_flowable(fig, width, height * 0.62)
    story: list[Flowable] = [
        Paragraph(f"Steroid taper report – subject {text(record.subject_id)}", s.title),
        Paragraph(f"Site {text(record.site)} · figures as of {summary['as_of']} "
                  f"(study day {summary['as_of_day']}) · all doses in prednisone-equivalent "
                  "mg (PEQ)", s.note),
        spacer(6),
        _identification(record, study, summary, width),
        spacer(8),
        callout(markup, STATUS_COLOUR[status], width),
        *section("Figures", figures_table),
        Paragraph("The same values as the window and 'taper-app summary --json'. "
                  "Figures count Day 1 to the as-of date and leave missing days out. "
                  "Percentages are reductions from baseline, to 0.1 %; mg to 0.001 mg. "
                  "The window reduction is over the 28 days ending on the day, with at least "
                  "14 observed.", s.note),
        *_amendments(record, width),
        *_episodes(analysis, settings.tolerance_mg, width),
        *_gaps(analysis, width),
        *section("Taper charts", chart, room=chart.height + 60),
        Paragraph("Top: actual and scheduled daily dose (hatched: missing days and deviations; "
                  "triangles: one-off doses such as IV pulses; dotted lines: amendments). "
                  "Middle: daily and 28-day window % reduction from baseline with the target. "
                  "Bottom: cumulative dose against the schedule and the baseline continued.",
                  s.note),
        *_schedule_steps(record, summary["as_of_day"], width),
        *_dose_records(record, study, width),
        *_queries(queries, width),
        *signature_section(signatures, width),
    ]
    return build_pdf(story, furniture, title=f"Steroid taper report {record.subject_id}",
                     subject=f"{study.name} subject {record.subject_id}, as of "
                             f"{summary['as_of']}")
