"""What every PDF report shares: fonts, styles, vector charts, tables and the page furniture.

The charts are the window's own matplotlib Figures, written as SVG with real text
(``svg.fonttype = 'none'``) and turned into ReportLab vector drawings by svglib, so the
printout and the screen show the same chart and its words stay searchable. No Qt here.
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from matplotlib.figure import Figure
from reportlab.graphics.shapes import Drawing
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

# ---------------------------------------------------------------- fonts

FONT = "TaperSans"
FONT_BOLD = "TaperSans-Bold"
FONT_ITALIC = "TaperSans-Oblique"
FONT_BOLD_ITALIC = "TaperSans-BoldOblique"
FONT_MONO = "TaperMono"

#: matplotlib's own DejaVu fonts: always installed with it, full Unicode (µ, ≥, −, …),
#: and the face the charts are drawn in, so text and charts match.
_FONT_FILES = {
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
    """Register the report fonts with ReportLab and tell svglib what 'DejaVu Sans' is."""
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(_font_path(filename))))
    from svglib.svglib import register_font  # (svglib 2 re-exports it from svglib.fonts)

    for weight, style, name in (("normal", "normal", FONT), ("bold", "normal", FONT_BOLD),
                                ("normal", "italic", FONT_ITALIC),
                                ("bold", "italic", FONT_BOLD_ITALIC)):
        register_font("DejaVu Sans", str(_font_path(_FONT_FILES[name])), weight=weight,
                      style=style, rlgFontName=name)
    # Last: registering a TrueType font (svglib does it again) resets its family to itself,
    # which would make <b> in a Paragraph print regular.
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
                "pending": "PENDING"}
STATUS_COLOUR = {"met": colors.HexColor("#007a5a"), "not_met": colors.HexColor("#b3401a"),
                 "not_evaluable": colors.HexColor("#5f6b76"),
                 "pending": colors.HexColor("#1f5f99")}


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


# ---------------------------------------------------------------- charts as vectors

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"[A-Za-z]|{_NUMBER}")
_FILL_URL = re.compile(r"url\(#([^)]+)\)")
# Written back without "ns0:" prefixes, which svglib would not recognise as SVG.
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


def _tag(name: str) -> str:
    return f"{{{SVG_NS}}}{name}"


def _style(element: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in element.get("style", "").split(";"):
        if ":" in part:
            key, value = part.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _style_text(style: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in style.items())


def _path_tokens(d: str) -> list[str]:
    return _TOKEN.findall(d)


def _bbox(d: str) -> tuple[float, float, float, float] | None:
    """Bounding box of an absolute-coordinate path (matplotlib writes only M, L, Q, C, z)."""
    numbers = [float(t) for t in _path_tokens(d) if not t.isalpha()]
    if len(numbers) < 2:
        return None
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _clip_segment(x0: float, y0: float, x1: float, y1: float, box: tuple[float, float, float,
                  float]) -> tuple[float, float, float, float] | None:
    """Liang-Barsky: the part of a segment inside ``box`` (xmin, ymin, xmax, ymax)."""
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy


def _hatch_segments(d: str) -> list[tuple[float, float, float, float]] | None:
    """The pattern path as line segments, or None when it is not made of M-L pairs."""
    tokens = _path_tokens(d)
    segments = []
    i = 0
    while i < len(tokens):
        if tokens[i] in ("z", "Z"):
            i += 1
            continue
        head = tokens[i:i + 6]
        if len(head) < 6 or head[0] != "M" or head[3] != "L":
            return None
        try:
            x0, y0, x1, y1 = (float(head[k]) for k in (1, 2, 4, 5))
        except ValueError:
            return None
        segments.append((x0, y0, x1, y1))
        i += 6
    return segments


@dataclass(frozen=True)
class _Pattern:
    x: float
    y: float
    width: float
    height: float
    background: str
    segments: list[tuple[float, float, float, float]]
    stroke: dict[str, str]


def _patterns(root: ET.Element) -> dict[str, _Pattern]:
    found: dict[str, _Pattern] = {}
    for pattern in root.iter(_tag("pattern")):
        pid = pattern.get("id")
        if not pid or pattern.get("patternUnits") != "userSpaceOnUse":
            continue
        background = "none"
        segments: list[tuple[float, float, float, float]] = []
        stroke: dict[str, str] = {}
        for child in pattern:
            if child.tag == _tag("rect"):
                background = child.get("fill") or _style(child).get("fill", "none")
            elif child.tag == _tag("path"):
                parsed = _hatch_segments(child.get("d", ""))
                if parsed is None:
                    continue
                segments += parsed
                stroke = {k: v for k, v in _style(child).items() if k.startswith("stroke")}
        found[pid] = _Pattern(float(pattern.get("x", 0)), float(pattern.get("y", 0)),
                              float(pattern.get("width", 72)), float(pattern.get("height", 72)),
                              background, segments, stroke)
    return found


def _clip_rects(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    rects = {}
    for clip in root.iter(_tag("clipPath")):
        children = list(clip)
        if clip.get("id") and len(children) == 1 and children[0].tag == _tag("rect"):
            r = children[0]
            x, y = float(r.get("x", 0)), float(r.get("y", 0))
            rects[clip.get("id", "")] = (x, y, x + float(r.get("width", 0)),
                                         y + float(r.get("height", 0)))
    return rects


def expand_hatch_patterns(svg: bytes) -> bytes:
    """Replace matplotlib's hatch ``<pattern>`` fills, which svglib cannot draw, by vectors.

    Each hatched shape keeps its background colour and gets its hatch lines drawn as a
    clipped path, so missing days and deviations stay hatched (and tell apart in grey).
    """
    root = ET.fromstring(svg)
    patterns = _patterns(root)
    if not patterns:
        return svg
    view = [float(v) for v in root.get("viewBox", "0 0 0 0").split()]
    page = (view[0], view[1], view[0] + view[2], view[1] + view[3])
    clip_rects = _clip_rects(root)
    parents = {child: parent for parent in root.iter() for child in parent}
    defs = ET.SubElement(root, _tag("defs"))
    counter = 0
    for element in list(root.iter()):
        style = _style(element)
        match = _FILL_URL.fullmatch(style.get("fill", element.get("fill", "")))
        if not match or match.group(1) not in patterns:
            continue
        pattern = patterns[match.group(1)]
        style["fill"] = pattern.background
        element.attrib.pop("fill", None)
        element.set("style", _style_text(style))
        d = element.get("d")
        if element.tag != _tag("path") or not d or element.get("transform") \
                or not pattern.segments:
            continue  # background colour only
        box = _bbox(d)
        if box is None:
            continue
        clip = element.get("clip-path", "")
        limit = page
        clip_match = _FILL_URL.fullmatch(clip)
        if clip_match and clip_match.group(1) in clip_rects:
            limit = clip_rects[clip_match.group(1)]
        box = (max(box[0], limit[0]), max(box[1], limit[1]), min(box[2], limit[2]),
               min(box[3], limit[3]))
        if box[2] - box[0] <= 0.01 or box[3] - box[1] <= 0.01:
            continue
        pieces = []
        for i in range(math.floor((box[0] - pattern.x) / pattern.width),
                       math.floor((box[2] - pattern.x) / pattern.width) + 1):
            for j in range(math.floor((box[1] - pattern.y) / pattern.height),
                           math.floor((box[3] - pattern.y) / pattern.height) + 1):
                ox, oy = pattern.x + i * pattern.width, pattern.y + j * pattern.height
                tile = (ox, oy, ox + pattern.width, oy + pattern.height)
                for x0, y0, x1, y1 in pattern.segments:
                    seg = _clip_segment(x0 + ox, y0 + oy, x1 + ox, y1 + oy, tile)
                    if seg is not None and (seg[0], seg[1]) != (seg[2], seg[3]):
                        pieces.append(f"M {seg[0]:.3f} {seg[1]:.3f} L {seg[2]:.3f} {seg[3]:.3f}")
        if not pieces:
            continue
        counter += 1
        clip_id = f"hatchclip{counter}"
        clip_path = ET.SubElement(defs, _tag("clipPath"), {"id": clip_id})
        ET.SubElement(clip_path, _tag("path"), {"d": d})
        opacity = float(style.get("fill-opacity", "1")) * float(style.get("opacity", "1"))
        stroke = dict(pattern.stroke)
        stroke["stroke-opacity"] = f"{opacity * float(stroke.get('stroke-opacity', '1')):.3f}"
        stroke["stroke-linecap"] = "butt"
        outer = ET.Element(_tag("g"), {"clip-path": clip} if clip else {})
        inner = ET.SubElement(outer, _tag("g"), {"clip-path": f"url(#{clip_id})"})
        ET.SubElement(inner, _tag("path"), {"d": " ".join(pieces),
                                            "style": _style_text({"fill": "none", **stroke})})
        parent = parents[element]
        parent.insert(list(parent).index(element) + 1, outer)
    return ET.tostring(root, encoding="utf-8")


def figure_svg(fig: Figure) -> bytes:
    """The Figure as SVG with its text kept as text (not outlines)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "taper-app"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def figure_drawing(fig: Figure, max_width: float, max_height: float) -> Drawing:
    """A matplotlib Figure as a ReportLab vector Drawing no larger than the given box."""
    from svglib.svglib import svg2rlg

    register_fonts()
    drawing = svg2rlg(io.BytesIO(expand_hatch_patterns(figure_svg(fig))))
    if drawing is None:  # pragma: no cover - svglib returns None only for unreadable SVG
        raise RuntimeError("the chart could not be converted to a vector drawing")
    scale = min(max_width / drawing.width, max_height / drawing.height)
    drawing.scale(scale, scale)
    drawing.width *= scale
    drawing.height *= scale
    drawing.hAlign = "CENTER"
    return drawing


# ---------------------------------------------------------------- tables

def cell(value: object, style: ParagraphStyle | None = None) -> Paragraph:
    """A table cell that wraps (plain text, escaped)."""
    return Paragraph(text(value), style or styles().cell)


def markup_cell(markup: str, style: ParagraphStyle | None = None) -> Paragraph:
    """A table cell from trusted ReportLab markup (callers escape the data in it)."""
    return Paragraph(markup, style or styles().cell)


class DataTable(Table):
    """A table that, when split over pages, never leaves fewer than ``MIN_ROWS`` body rows on
    either side (a lone row under a repeated header reads as a mistake)."""

    MIN_ROWS = 3

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        parts = super().split(availWidth, availHeight)
        if len(parts) != 2:
            return parts
        header = self.repeatRows if isinstance(self.repeatRows, int) else 0
        first = len(parts[0]._cellvalues) - header
        rest = len(parts[1]._cellvalues) - header
        if rest >= self.MIN_ROWS:
            return parts
        keep = first - (self.MIN_ROWS - rest)
        if keep < self.MIN_ROWS:
            return []  # too little room here: start the table on the next page
        height = sum(self._rowHeights[:header + keep])
        return super().split(availWidth, height + 0.01)


def data_table(header: Sequence[str], rows: Sequence[Sequence[Any]],
               widths: Sequence[float], *, right: Sequence[int] = (),
               extra: Sequence[tuple[Any, ...]] = (), zebra: bool = True) -> Table:
    """A table with a repeated header row; strings are wrapped, ``right`` columns aligned right.

    A newline in a header is a line break.
    """
    s = styles()
    right_set = set(right)
    head = [Paragraph(text(h).replace("\n", "<br/>"),
                      s.cell_head_right if i in right_set else s.cell_head)
            for i, h in enumerate(header)]
    body = []
    for row in rows:
        body.append([c if isinstance(c, Flowable) else
                     cell(c, s.cell_right if i in right_set else s.cell)
                     for i, c in enumerate(row)])
    table = DataTable([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
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
                               f"Data as of {furniture.as_of.isoformat()}")
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
                          f"{furniture.app_version}")
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
