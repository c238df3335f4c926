"""The patient's dosing calendar as a large-print PDF sheet and as CSV (no Qt).

For the patient: plain words, large print, a box a day to tick; identified by subject id
and site only. The page furniture (header, footer, page numbers) is the other reports'.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table, TableStyle

from ..domain.calendar import format_mg
from ..results import AuditHeadMark, CalendarLine, DosingCalendar
from .calendar_words import (  # noqa: F401  (the sheet's words, also used by the window)
    MONTHS,
    WEEKDAYS,
    dose_words,
    long_date,
    short_date,
    tablet_words,
    week_span,
)
from .csv_cells import safe_writer
from .pdf_common import (
    ACCENT,
    FONT,
    FONT_BOLD,
    INK,
    MUTED,
    PORTRAIT,
    RULE,
    BuildResult,
    PageFurniture,
    build_pdf,
    frame_size,
    spacer,
    styles,
    text,
)

REPORT_TITLE = "Dosing calendar – bring this sheet to your next visit"
CSV_COLUMNS = ("date", "study_day", "scheduled_peq_mg", "drug", "dose_mg", "tablets", "note")

#: Large print (points): the day lines, and the words around them.
BODY_SIZE = 14
LINE_SIZE = 13.5
NEW_DOSE_FILL = colors.HexColor("#fff4d6")
NEW_DOSE_INK = colors.HexColor("#7a4b00")
ASK_INK = colors.HexColor("#a3272b")
NONE_FILL = colors.HexColor("#f1f3f5")


# ---------------------------------------------------------------- PDF

def _styles() -> dict[str, ParagraphStyle]:
    base = styles().body
    return {
        "title": ParagraphStyle("cal_title", parent=base, fontName=FONT_BOLD, fontSize=22,
                                leading=27, textColor=ACCENT, spaceAfter=4),
        "body": ParagraphStyle("cal_body", parent=base, fontSize=BODY_SIZE, leading=19,
                               textColor=INK),
        "strong": ParagraphStyle("cal_strong", parent=base, fontName=FONT_BOLD,
                                 fontSize=BODY_SIZE + 1, leading=20, textColor=ACCENT),
        "week": ParagraphStyle("cal_week", parent=base, fontName=FONT_BOLD, fontSize=16,
                               leading=20, textColor=ACCENT, spaceBefore=10, spaceAfter=4),
        "cell": ParagraphStyle("cal_cell", parent=base, fontSize=LINE_SIZE, leading=16,
                               textColor=INK),
        "cell_bold": ParagraphStyle("cal_cell_bold", parent=base, fontName=FONT_BOLD,
                                    fontSize=LINE_SIZE, leading=16, textColor=INK),
        "cell_note": ParagraphStyle("cal_cell_note", parent=base, fontSize=11.5, leading=14,
                                    textColor=INK),
        "head": ParagraphStyle("cal_head", parent=base, fontName=FONT_BOLD, fontSize=11.5,
                               leading=14, textColor=ACCENT),
        "small": ParagraphStyle("cal_small", parent=base, fontSize=10, leading=13,
                                textColor=MUTED),
        "new": ParagraphStyle("cal_new", parent=base, fontName=FONT_BOLD, fontSize=11.5,
                              leading=14, textColor=NEW_DOSE_INK),
        "ask": ParagraphStyle("cal_ask", parent=base, fontName=FONT_BOLD, fontSize=LINE_SIZE,
                              leading=16, textColor=ASK_INK),
        "ask_plain": ParagraphStyle("cal_ask_plain", parent=base, fontSize=LINE_SIZE,
                                    leading=16, textColor=ASK_INK),
    }


class TickBox(Flowable):
    """An empty square to tick, with room beside it to write what was taken."""

    def __init__(self, size: float = 18) -> None:
        super().__init__()
        self.size = size
        self.width = size
        self.height = size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        self.canv.setStrokeColor(INK)
        self.canv.setLineWidth(1.4)
        self.canv.rect(0, 0, self.size, self.size, stroke=1, fill=0)


def column_widths(width: float) -> list[float]:
    """Date, study day, dose, tablets, the box: the first four never wrap a usual line."""
    return [0.21 * width, 0.13 * width, 0.18 * width, 0.30 * width, 0.18 * width]


#: Each cell's padding left and right (points).
CELL_SIDE_PADDING = 4


def _week_table(lines: list[CalendarLine], drug: str, width: float,
                st: dict[str, ParagraphStyle]) -> Table:
    widths = column_widths(width)
    header = [Paragraph(h, st["head"]) for h in
              ("Date", "Study day", f"Dose of {text(drug)}", "Tablets to take",
               "Taken? Tick, or write what you took")]
    rows: list[list[object]] = [header]
    commands: list[tuple[object, ...]] = [
        ("LINEBELOW", (0, 0), (-1, 0), 1.2, ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4.5),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_SIDE_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_SIDE_PADDING),
    ]
    for i, line in enumerate(lines, start=1):
        date_cell = [Paragraph(text(short_date(line.date)), st["cell_bold"])]
        if line.new_dose:
            date_cell.append(Paragraph("New dose from today", st["new"]))
            commands += [("BACKGROUND", (0, i), (-1, i), NEW_DOSE_FILL),
                         ("LINEABOVE", (0, i), (-1, i), 2, NEW_DOSE_INK)]
        elif line.none:
            commands.append(("BACKGROUND", (0, i), (-1, i), NONE_FILL))
        dose_style = st["ask"] if not line.exact else (
            st["cell"] if line.none else st["cell_bold"])
        tablets_style = st["ask_plain"] if line.ask_nurse else st["cell"]
        rows.append([
            date_cell,
            Paragraph(str(line.study_day), st["cell"]),
            Paragraph(text(dose_words(line, drug)), dose_style),
            [Paragraph(text(w), st["cell_note"] if w.startswith(("(", "each time"))
                       else tablets_style) for w in tablet_words(line)],
            TickBox(),
        ])
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def _weeks(calendar: DosingCalendar) -> list[list[CalendarLine]]:
    lines = list(calendar.lines)
    return [lines[i:i + 7] for i in range(0, len(lines), 7)]


def build_calendar_pdf(calendar: DosingCalendar, *, printed_at: datetime, printed_on: date,
                       fingerprint: str, app_version: str,
                       audit_head: AuditHeadMark | None = None) -> BuildResult:
    """The sheet: a heading with what to know, then a table a week, then where to bring it."""
    st = _styles()
    width, _height = frame_size(PORTRAIT)
    furniture = PageFurniture(
        report_title=REPORT_TITLE,
        header_items=(("Subject", calendar.subject_id), ("Site", calendar.site)),
        printed_at=printed_at, app_version=app_version, fingerprint=fingerprint,
        as_of=printed_on, as_of_label="Printed on", audit_head=audit_head)
    strengths = ", ".join(f"{format_mg(s)} mg" for s in sorted(calendar.strengths))
    story: list[Flowable] = [
        Paragraph("Your steroid dosing calendar", st["title"]),
        Paragraph(f"Subject <b>{text(calendar.subject_id)}</b> &nbsp; · &nbsp; site "
                  f"<b>{text(calendar.site)}</b>", st["body"]),
        Paragraph(f"From <b>{text(long_date(calendar.first_date))}</b> to "
                  f"<b>{text(long_date(calendar.last_date))}</b>", st["body"]),
        Paragraph(f"Medicine: <b>{text(calendar.drug)}</b>, taken by mouth"
                  + (f" (tablets of {text(strengths)})" if strengths else ""), st["body"]),
        Paragraph(f"Printed on {text(long_date(printed_on))}. Schedule version: "
                  f"{text(calendar.schedule_version)}.", st["small"]),
        spacer(6),
        Paragraph("Each day, take the dose on that day's line and tick its box. If you took "
                  "something different, write what you took in the box's space.", st["body"]),
        Paragraph("Bring this sheet to your next visit.", st["strong"]),
    ]
    if calendar.days_to_ask:
        story.append(Paragraph(
            f"On {len(calendar.days_to_ask)} day(s) your tablets cannot make the dose "
            "exactly: ask your study nurse what to take on those days.", st["ask"]))
    for number, week in enumerate(_weeks(calendar), start=1):
        heading = Paragraph(f"Week {number}: {text(week_span(week[0].date, week[-1].date))}",
                            st["week"])
        story.append(KeepTogether([heading, _week_table(week, calendar.drug, width, st)]))
    story += [
        spacer(10),
        Paragraph("Bring this sheet to your next visit.", st["strong"]),
        Paragraph(f"Printed on {text(long_date(printed_on))}. Schedule version: "
                  f"{text(calendar.schedule_version)}.", st["body"]),
        Paragraph("Do not change your dose on your own. If you feel unwell, or are unsure "
                  "what to take, call your study nurse.", st["small"]),
    ]
    return build_pdf(story, furniture, title=f"Dosing calendar – {calendar.subject_id}",
                     subject=f"Dosing calendar {calendar.first_date.isoformat()} to "
                             f"{calendar.last_date.isoformat()}")


# ---------------------------------------------------------------- CSV

def calendar_csv(calendar: DosingCalendar) -> str:
    """The calendar's days with the columns of interfaces.md (one row a day)."""
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in calendar.lines:
        writer.writerow([line.date.isoformat(), line.study_day,
                         f"{line.scheduled_peq_mg:f}", calendar.drug, f"{line.dose_mg:f}",
                         line.tablets, line.note])
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "FONT", "build_calendar_pdf", "calendar_csv", "long_date"]
