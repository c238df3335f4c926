"""What every PDF report shares: fonts, styles, tables and the page furniture.

The charts are the window's own matplotlib Figures, drawn into the PDF as vectors with real
text by ``pdf_chart``, so the printout and the screen show the same chart and its words stay
searchable. No Qt here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import CondPageBreak, KeepTogether, Spacer

from ..results import AuditHeadMark

# ---------------------------------------------------------------- fonts

FONT = "TaperSans"
FONT_BOLD = "TaperSans-Bold"
FONT_ITALIC = "TaperSans-Oblique"
FONT_BOLD_ITALIC = "TaperSans-BoldOblique"
FONT_MONO = "TaperMono"

#: matplotlib's own DejaVu fonts: always installed with it, full Unicode (µ, ≥, −, …),
#: and the face the charts are drawn in, so text and charts match.
FONT_FILES = {
    FONT: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_ITALIC: "DejaVuSans-Oblique.ttf",
    FONT_BOLD_ITALIC: "DejaVuSans-BoldOblique.ttf",
    FONT_MONO: "DejaVuSansMono.ttf",
}


def _font_path(filename: str) -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / filename


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Register the report fonts with ReportLab, as one family (for <b> and <i>)."""
    for name, filename in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(_font_path(filename))))
    # Last: registering a TrueType font resets its family to itself, which would make <b>
    # in a Paragraph print regular.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC,
                                  boldItalic=FONT_BOLD_ITALIC)


# ---------------------------------------------------------------- styles and colours

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5f6b76")
ACCENT = colors.HexColor("#1f3b57")
RULE = colors.HexColor("#b8c2cc")
HEADER_FILL = colors.HexColor("#e6ecf2")
ZEBRA = colors.HexColor("#f6f8fa")
VOID_FILL = colors.HexColor("#fbeaea")
VOID_INK = colors.HexColor("#a3272b")

#: Target status: a word and a colour (never the colour alone).
STATUS_LABEL = {"met": "MET", "not_met": "NOT MET", "not_evaluable": "NOT EVALUABLE",
                "pending": "PENDING", "discontinued": "DISCONTINUED"}
STATUS_COLOUR = {"met": colors.HexColor("#007a5a"), "not_met": colors.HexColor("#b3401a"),
                 "not_evaluable": colors.HexColor("#5f6b76"),
                 "pending": colors.HexColor("#1f5f99"),
                 "discontinued": colors.HexColor("#37474f")}


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    note: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_head: ParagraphStyle
    cell_head_right: ParagraphStyle
    callout: ParagraphStyle


@lru_cache(maxsize=1)
def styles() -> Styles:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11.5, textColor=INK)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.2, leading=9)
    head = ParagraphStyle("cell_head", parent=cell, fontName=FONT_BOLD, textColor=ACCENT)
    return Styles(
        title=ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=15,
                             leading=19, textColor=ACCENT, spaceAfter=2),
        h2=ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=11, leading=14,
                          textColor=ACCENT, spaceBefore=12, spaceAfter=5),
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        note=ParagraphStyle("note", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED,
                            spaceBefore=3),
        cell=cell,
        cell_right=ParagraphStyle("cell_right", parent=cell, alignment=TA_RIGHT),
        cell_head=head,
        cell_head_right=ParagraphStyle("cell_head_right", parent=head, alignment=TA_RIGHT),
        callout=ParagraphStyle("callout", parent=body, fontSize=10, leading=13,
                               alignment=TA_LEFT),
    )


def hex_colour(colour: colors.Color) -> str:
    """'#rrggbb' for a colour, as Paragraph markup wants it."""
    return "#" + colour.hexval()[2:]


def text(value: object) -> str:
    """Plain text made safe for a ReportLab Paragraph (which reads a little XML)."""
    return escape("" if value is None else str(value))


# ---------------------------------------------------------------- numbers as printed

DASH = "–"  # a figure that does not exist (null in summary --json)


def fmt_mg(x: float | None) -> str:
    """A reported mg figure (already rounded to 0.001): thousands commas, no trailing zeros."""
    if x is None:
        return DASH
    s = f"{x:,.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_pct(x: float | None) -> str:
    """A reported percentage (already rounded to 0.1), always with one decimal."""
    return DASH if x is None else f"{x:.1f}"


def fmt_utc(moment: datetime | None) -> str:
    """A UTC time as printed; naive values are stored UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- tables

def cell(value: object, style: ParagraphStyle | None = None) -> Paragraph:
    """A table cell that wraps (plain text, escaped)."""
    return Paragraph(text(value), style or styles().cell)


def markup_cell(markup: str, style: ParagraphStyle | None = None) -> Paragraph:
    """A table cell from trusted ReportLab markup (callers escape the data in it)."""
    return Paragraph(markup, style or styles().cell)


class DataTable(Table):
    """A table that, when split over pages, never leaves fewer than ``MIN_ROWS`` body rows on
    either side (a lone row under a repeated header reads as a mistake).

    A row taller than the room left (a 5,000-character reason fills more than a page) is
    split inside itself, its cells' lines continuing on the next page under the repeated
    header (ReportLab's ``splitInRow``: at least ``MIN_SPLIT_HEIGHT`` points either side).
    """

    MIN_ROWS = 3
    #: The least height (points) of a row's part on either side of a split inside it.
    MIN_SPLIT_HEIGHT = 30

    def __init__(self, data: Sequence[Sequence[Any]], **options: Any) -> None:
        options.setdefault("splitInRow", self.MIN_SPLIT_HEIGHT)
        super().__init__(data, **options)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        parts = super().split(availWidth, availHeight)
        if len(parts) != 2:
            return parts
        header = self.repeatRows if isinstance(self.repeatRows, int) else 0
        first = len(parts[0]._cellvalues) - header
        rest = len(parts[1]._cellvalues) - header
        if first + rest > len(self._cellvalues) - header:
            return parts  # a row was split inside itself: each part holds a piece of it
        if rest >= self.MIN_ROWS:
            return parts
        keep = first - (self.MIN_ROWS - rest)
        if keep < self.MIN_ROWS:
            # Too few rows for both sides: start the table on the next page, if it fits
            # whole on any page; a taller one (long text in a few rows) splits as it can.
            return [] if self._height <= _smallest_frame_height() else parts
        height = sum(self._rowHeights[:header + keep])
        return super().split(availWidth, height + 0.01)


def _smallest_frame_height() -> float:
    """The height of the smallest frame of any page template (build_pdf's)."""
    return min(frame_size(PORTRAIT)[1], frame_size(LANDSCAPE)[1])


#: The padding of every data-table cell (points).
CELL_PADDING = 3


def _plain(value: str, width: float, line_breaks: bool) -> bool:
    """True when ``value`` prints as a plain table string exactly as its Paragraph would:
    single-spaced words, each line (split at "\n" when ``line_breaks``) within ``width``.

    A Paragraph collapses runs of spaces, wraps what is too wide and (plainly) treats "\n"
    as a space; such values stay Paragraphs. A plain string is drawn at the Paragraph's
    first baseline (the top padding plus the font size) and has its height (lines x leading),
    at a small fraction of its cost.
    """
    s = styles()
    for line in value.split("\n") if line_breaks else (value,):
        if not line or " ".join(line.split()) != line:
            return False
        if pdfmetrics.stringWidth(line, s.cell.fontName, s.cell.fontSize) > width - 0.01:
            return False
    return True


def data_table(header: Sequence[str], rows: Sequence[Sequence[Any]],
               widths: Sequence[float], *, right: Sequence[int] = (),
               extra: Sequence[tuple[Any, ...]] = (), zebra: bool = True,
               line_breaks: bool = False) -> Table:
    """A table with a repeated header row; strings are wrapped, ``right`` columns aligned right.

    A newline in a header is a line break; in a cell too with ``line_breaks`` (else a space).
    Flowables are used as they are. A string that needs no wrapping is printed as a plain
    table string (it looks the same as a Paragraph and costs far less in long tables).
    """
    s = styles()
    right_set = set(right)
    head = [Paragraph(text(h).replace("\n", "<br/>"),
                      s.cell_head_right if i in right_set else s.cell_head)
            for i, h in enumerate(header)]
    room = [w - 2 * CELL_PADDING for w in widths]
    body = []
    for row in rows:
        cells: list[Any] = []
        for i, c in enumerate(row):
            if isinstance(c, Flowable):
                cells.append(c)
                continue
            value = "" if c is None else str(c)
            if _plain(value, room[i], line_breaks):
                cells.append(value)
            elif line_breaks:
                cells.append(Paragraph(text(value).replace("\n", "<br/>"),
                                       s.cell_right if i in right_set else s.cell))
            else:
                cells.append(cell(value, s.cell_right if i in right_set else s.cell))
        if any((isinstance(c, str) and c) or (isinstance(c, Paragraph) and c.text)
               for c in cells):
            # An empty Paragraph has no height, an empty string one line: beside a cell
            # with text (a line high at least) they look the same, and "" costs nothing.
            cells = ["" if isinstance(c, Paragraph) and not c.text else c for c in cells]
        body.append(cells)
    table = DataTable([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        # plain strings in the body as the cell Paragraphs print
        ("FONTNAME", (0, 1), (-1, -1), s.cell.fontName),
        ("FONTSIZE", (0, 1), (-1, -1), s.cell.fontSize),
        ("LEADING", (0, 1), (-1, -1), s.cell.leading),
        ("TEXTCOLOR", (0, 1), (-1, -1), s.cell.textColor),
        *(("ALIGN", (i, 1), (i, -1), "RIGHT") for i in sorted(right_set)),
    ]
    if zebra:
        commands.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]))
    commands += list(extra)
    table.setStyle(TableStyle(commands))
    return table


def fit_widths(header: Sequence[str], rows: Sequence[Sequence[str]], total: float, *,
               flexible: int | None = None, padding: float = 7) -> list[float]:
    """Column widths from content, so no header word and no cell line is broken.

    Each column needs its widest header word (bold) and its widest cell line ("\n" separates
    lines). The spare room goes to the ``flexible`` column (a free-text one that may wrap), or
    is shared in proportion; too little room shrinks every column alike.
    """
    s = styles()
    need = []
    for i, head in enumerate(header):
        words = head.replace("\n", " ").split() or [""]
        widest = max(pdfmetrics.stringWidth(w, FONT_BOLD, s.cell_head.fontSize) for w in words)
        if i != flexible:
            for row in rows:
                for line in str(row[i]).split("\n"):
                    widest = max(widest, pdfmetrics.stringWidth(line, FONT, s.cell.fontSize))
        need.append(widest + padding)
    spare = total - sum(need)
    if spare >= 0:
        if flexible is not None:
            return [n + (spare if i == flexible else 0) for i, n in enumerate(need)]
        return [n + spare * n / sum(need) for n in need]
    return [n * total / sum(need) for n in need]


def key_value_table(pairs: Sequence[tuple[str, str]], widths: Sequence[float],
                    columns: int = 2) -> Table:
    """Label/value pairs laid out ``columns`` pairs per row (label, then its value)."""
    s = styles()
    rows: list[list[Any]] = []
    for start in range(0, len(pairs), columns):
        row: list[Any] = []
        for label, value in pairs[start:start + columns]:
            row += [Paragraph(text(label), s.cell), Paragraph(value, s.cell_head)]
        while len(row) < 2 * columns:
            row += ["", ""]
        rows.append(row)
    table = Table(rows, colWidths=list(widths), hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ]
    for c in range(0, 2 * columns, 2):
        commands.append(("BACKGROUND", (c, 0), (c, -1), ZEBRA))
    table.setStyle(TableStyle(commands))
    return table


def callout(markup: str, colour: colors.Color, width: float) -> Table:
    """A coloured band with one paragraph: the target status, a blinding note."""
    table = Table([[Paragraph(markup, styles().callout)]], colWidths=[width], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.2, colour),
        ("LINEBEFORE", (0, 0), (0, -1), 5, colour),
        ("BACKGROUND", (0, 0), (-1, -1), colors.Color(colour.red, colour.green, colour.blue,
                                                      alpha=0.07)),
        ("LEFTPADDING", (0, 0), (-1, -1), 9),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return table


def section(title: str, *flowables: Flowable, room: float = 80,
            keep: bool = False) -> list[Flowable]:
    """A heading that starts a new page unless ``room`` points are left for what follows it.

    With ``keep`` the heading and the first flowable move to the next page together when
    they do not fit (for short tables; a long one would leave a page nearly empty).
    """
    heading = Paragraph(text(title), styles().h2)
    if keep and flowables:
        return [CondPageBreak(room), KeepTogether([heading, flowables[0]]), *flowables[1:]]
    return [CondPageBreak(room), heading, *flowables]


def spacer(height: float = 4) -> Spacer:
    return Spacer(1, height)


# ---------------------------------------------------------------- pages

PORTRAIT = A4
LANDSCAPE = landscape(A4)
MARGIN = 15 * mm
HEADER_HEIGHT = 17 * mm
FOOTER_HEIGHT = 14 * mm


def frame_size(pagesize: tuple[float, float]) -> tuple[float, float]:
    """Width and height of the text frame on a page of ``pagesize``."""
    return (pagesize[0] - 2 * MARGIN,
            pagesize[1] - 2 * MARGIN - HEADER_HEIGHT - FOOTER_HEIGHT)


@dataclass(frozen=True)
class PageFurniture:
    """What is printed on every page: who and what the report is about, and its provenance."""

    report_title: str
    header_items: tuple[tuple[str, str], ...]   # ("Study", "EXAMPLE-IIM-01"), ("Site", ...)
    printed_at: datetime                        # UTC
    app_version: str
    fingerprint: str                            # SHA-256 hex of the data (see docs/reports.md)
    as_of: date
    as_of_label: str = "Data as of"             # the patient's calendar: "Printed on"
    #: The audit trail's head when the data was read (``audit verify --head`` checks it later).
    audit_head: AuditHeadMark | None = None


@dataclass
class BuildResult:
    pdf: bytes
    pages: int


@dataclass
class _PageCount:
    pages: int = 0
    label: Callable[[int, int], str] = field(default=lambda n, m: f"Page {n} of {m}")


def _numbered_canvas(count: _PageCount) -> type[Canvas]:
    """A canvas that holds its pages back until the end, to print "Page N of M" on each."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held_pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held_pages)
            count.pages = total
            for number, state in enumerate(self._held_pages, start=1):
                self.__dict__.update(state)
                width = self._pagesize[0]
                self.saveState()
                self.setFont(FONT_BOLD, 8)
                self.setFillColor(ACCENT)
                self.drawRightString(width - MARGIN, MARGIN + FOOTER_HEIGHT - 9 * mm,
                                     count.label(number, total))
                self.restoreState()
                super().showPage()
            super().save()

    return NumberedCanvas


def _draw_furniture(furniture: PageFurniture, pagesize: tuple[float, float]
                    ) -> Callable[[Canvas, BaseDocTemplate], None]:
    width, height = pagesize

    def draw(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        canvas.saveState()
        top = height - MARGIN
        # header: the identification items on one line, the report title under them
        x = MARGIN
        baseline = top - 10
        for label, value in furniture.header_items:
            canvas.setFont(FONT, 7)
            canvas.setFillColor(MUTED)
            canvas.drawString(x, baseline, label)
            x += pdfmetrics.stringWidth(label, FONT, 7) + 3
            canvas.setFont(FONT_BOLD, 9.5)
            canvas.setFillColor(ACCENT)
            canvas.drawString(x, baseline, value)
            x += pdfmetrics.stringWidth(value, FONT_BOLD, 9.5) + 14
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, baseline - 12, furniture.report_title)
        canvas.drawRightString(width - MARGIN, baseline - 12,
                               f"{furniture.as_of_label} {furniture.as_of.isoformat()}")
        canvas.setStrokeColor(ACCENT)
        canvas.setLineWidth(0.8)
        canvas.line(MARGIN, top - HEADER_HEIGHT + 5 * mm, width - MARGIN,
                    top - HEADER_HEIGHT + 5 * mm)
        # footer: provenance on the left; "Page N of M" is added by the canvas at the end
        bottom = MARGIN + FOOTER_HEIGHT
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, bottom - 3 * mm, width - MARGIN, bottom - 3 * mm)
        canvas.setFont(FONT, 6.8)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, bottom - 6.5 * mm,
                          f"Printed {fmt_utc(furniture.printed_at)} by taper-app "
                          f"{furniture.app_version}" + ("" if furniture.audit_head is None else
                          f"  ·  audit trail head {furniture.audit_head.short}"))
        canvas.setFont(FONT_MONO, 6.3)
        canvas.drawString(MARGIN, bottom - 9.8 * mm,
                          f"Data fingerprint SHA-256 {furniture.fingerprint}")
        canvas.restoreState()

    return draw


def build_pdf(story: Sequence[Flowable], furniture: PageFurniture, *, title: str,
              subject: str, first: str = "portrait") -> BuildResult:
    """Lay out ``story`` on A4 pages (portrait, or landscape after ``NextPageTemplate``)."""
    register_fonts()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=PORTRAIT, leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN + HEADER_HEIGHT, bottomMargin=MARGIN + FOOTER_HEIGHT,
                          title=title, subject=subject, author="taper-app",
                          creator=f"taper-app {furniture.app_version}")
    templates = []
    for name, pagesize in (("portrait", PORTRAIT), ("landscape", LANDSCAPE)):
        fw, fh = frame_size(pagesize)
        frame = Frame(MARGIN, MARGIN + FOOTER_HEIGHT, fw, fh, id=f"{name}-frame",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        templates.append(PageTemplate(id=name, frames=[frame], pagesize=pagesize,
                                      onPage=_draw_furniture(furniture, pagesize)))
    if first == "landscape":
        templates.reverse()
    doc.addPageTemplates(templates)
    count = _PageCount()
    doc.build(list(story), canvasmaker=_numbered_canvas(count))
    return BuildResult(buffer.getvalue(), count.pages)
