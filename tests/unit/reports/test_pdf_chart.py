"""Charts drawn straight into the PDF: vectors, real text, matplotlib's colours, hatches, clips.

The recorded canvas calls are checked where geometry matters (which clip a path is drawn
under, where hatch lines go); the PDF itself, read back with pypdf, for what a reader sees:
text, fonts, path operators, transparency, no pictures.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import numpy as np
import pytest
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from pypdf import PdfReader
from pypdf.generic import ContentStream

from taper_app.reports.pdf_chart import (
    HATCH_TILE,
    FigureFlowable,
    figure_flowable,
    path_operators,
    record_figure,
)
from taper_app.reports.pdf_common import PageFurniture, build_pdf

FURNITURE = PageFurniture("Test report", (("Study", "STUDY-X"), ("Subject", "101-001")),
                          datetime(2026, 7, 2, 14, 30, tzinfo=UTC), "1.2.3", "ab" * 32,
                          date(2026, 7, 2))


def hatched_figure() -> Figure:
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([1, 2, 3], [3, 1, 2], label="dose")
    ax.axvspan(1.2, 1.6, facecolor="none", edgecolor="#bbbbbb", hatch="xx", lw=0)
    ax.fill_between([2, 3], [0, 0], [1, 1], hatch="///", facecolor="#E69F00", alpha=0.4)
    ax.set_title("Hatched µg −5 chart")
    return fig


def pdf_of(flowable: FigureFlowable) -> bytes:
    return build_pdf([flowable], FURNITURE, title="t", subject="s").pdf


def page_text(pdf: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())


def operations(pdf: bytes) -> list[tuple[list, bytes]]:
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    return ContentStream(page.get_contents(), reader).operations


def numbers(operands: list) -> list[float]:
    return [float(x) for x in operands]


def has_images(pdf: bytes) -> bool:
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                return True
    return False


def fonts(pdf: bytes) -> set[str]:
    resources = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]
    return {str(f.get_object()["/BaseFont"]).split("+")[-1]
            for f in resources["/Font"].values()}


def test_chart_is_a_vector_flowable_with_real_text_scaled_into_its_box():
    flowable = figure_flowable(hatched_figure(), 200, 100)
    assert flowable.width <= 200.01 and flowable.height <= 100.01
    assert flowable.width / flowable.height == pytest.approx(4 / 3, rel=1e-3)
    assert flowable.wrap(500, 500) == (flowable.width, flowable.height)
    pdf = pdf_of(flowable)
    text = page_text(pdf)
    assert "Hatched µg −5 chart" in text
    for tick in ("1.0", "1.5", "2.0", "2.5", "3.0"):
        assert tick in text
    assert not has_images(pdf), "charts must be vectors, not pictures"
    ops = {op for _, op in operations(pdf)}
    assert {b"m", b"l", b"S", b"f", b"W", b"re", b"cm"} <= ops


def test_chart_text_is_in_the_report_fonts_bold_where_matplotlib_says():
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.text(0.5, 0.5, "steroid spared", fontweight="bold")
    ax.set_xlabel("study day")
    pdf = pdf_of(figure_flowable(fig, 300, 200))
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= fonts(pdf)  # (the reports' TaperSans)
    assert "steroid spared" in page_text(pdf) and "study day" in page_text(pdf)


def test_lines_keep_matplotlibs_colour_width_dashes_and_caps():
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 1, 0], color="#0072B2", lw=2, ls="--", dash_capstyle="round")
    ops = operations(pdf_of(figure_flowable(fig, 300, 200)))
    stroke_colours = [numbers(o) for o, op in ops if op == b"RG"]
    assert [0.0, pytest.approx(0x72 / 255, abs=1e-3), pytest.approx(0xB2 / 255, abs=1e-3)] \
        in stroke_colours
    assert [2.0] in [numbers(o) for o, op in ops if op == b"w"]
    dashes = [o for o, op in ops if op == b"d"]
    # matplotlib's dashed pattern (3.7, 1.6) scaled by the line width
    assert any(numbers(o[0]) == pytest.approx([7.4, 3.2]) for o in dashes)
    assert [1.0] in [numbers(o) for o, op in ops if op == b"J"]  # round cap


def test_alpha_becomes_pdf_transparency():
    pdf = pdf_of(figure_flowable(hatched_figure(), 300, 200))
    states = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/ExtGState"]
    fills = {float(s.get_object().get("/ca", 1)) for s in states.values()}
    assert 0.4 in {round(f, 3) for f in fills}


def hatch_calls(fig: Figure) -> list[tuple[str, tuple]]:
    """The calls between the clip to a hatched shape and the end of that state."""
    _, _, calls = record_figure(fig)
    names = [name for name, _ in calls]
    out = []
    for i, (name, args) in enumerate(calls):
        if name == "drawPath" and args[1] == 1 and args[2] == 1:  # hatch lines: stroke+fill
            start = max(j for j in range(i) if names[j] == "saveState")
            out.append(calls[start:i + 1])
    return out


def segments(code: str) -> list[tuple[float, float, float, float]]:
    found = re.findall(r"(\S+) (\S+) m (\S+) (\S+) l", code)
    return [tuple(float(v) for v in seg) for seg in found]


@pytest.mark.parametrize(("hatch", "slope"), [("///", 1.0), ("\\\\\\", -1.0)])
def test_a_hatch_is_drawn_as_lines_clipped_to_its_shape(hatch, slope):
    fig = Figure(figsize=(4, 3))
    # 1 x 0.5 inch at (1 inch, 1 inch) from the bottom left: 72 x 36 pt at (72, 72)
    fig.add_artist(Rectangle((0.25, 1 / 3), 0.25, 1 / 6, transform=fig.transFigure,
                             facecolor="#E69F00", edgecolor="#0000ff", hatch=hatch, lw=0))
    groups = hatch_calls(fig)
    assert len(groups) == 1
    group = groups[0]
    clip = [args for name, args in group if name == "clipPath"][-1]
    numbers_in_clip = [float(v) for v in re.findall(r"-?\d+\.\d+", clip[0].getCode())]
    xs, ys = numbers_in_clip[0::2], numbers_in_clip[1::2]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((72, 144, 72, 108))
    colours = [args for name, args in group if name == "setStrokeColorRGB"]
    assert colours == [(0.0, 0.0, 1.0)], "hatch lines in the hatch (edge) colour"
    lines = segments(group[-1][1][0].getCode())
    assert len(lines) >= 6
    for x0, y0, x1, y1 in lines:
        assert (y1 - y0) / (x1 - x0) == pytest.approx(slope)
    # the lines cover the whole shape: they reach past it on every side, and the clip
    # keeps them inside
    assert min(min(x0, x1) for x0, _, x1, _ in lines) <= 72
    assert max(max(x0, x1) for x0, _, x1, _ in lines) >= 144
    assert min(min(y0, y1) for _, y0, _, y1 in lines) <= 72
    assert max(max(y0, y1) for _, y0, _, y1 in lines) >= 108


def test_hatch_tiles_start_at_the_figures_top_left_corner():
    def offsets_from_top(height_in: float) -> list[float]:
        fig = Figure(figsize=(2, height_in))
        fig.add_artist(Rectangle((0, 0), 1, 1, transform=fig.transFigure, facecolor="none",
                                 hatch="-", lw=0))
        (group,) = hatch_calls(fig)
        top = height_in * 72
        ys = {y0 for _, y0, _, _ in segments(group[-1][1][0].getCode())}
        return sorted({round((top - y) % HATCH_TILE, 6) for y in ys})

    whole = offsets_from_top(2.0)  # 144 pt: two tiles high
    assert len(whole) == 6  # matplotlib's hatch density: 6 lines an inch for "-"
    assert offsets_from_top(1.5) == whole  # 108 pt: the tiles still start at the top


def test_the_cross_hatch_of_missing_days_shows_in_the_pdf():
    pdf = pdf_of(figure_flowable(hatched_figure(), 300, 200))
    ops = operations(pdf)
    grey = [0xBB / 255] * 3
    stroked_grey = False
    current = None
    for operands, op in ops:
        if op == b"RG":
            current = numbers(operands)
        if op == b"B" and current == pytest.approx(grey):
            stroked_grey = True
    assert stroked_grey, "the 'xx' hatch is stroked in its grey"


def clip_before(calls: list[tuple[str, tuple]], index: int) -> list[str]:
    """The clip paths in force for the call at ``index`` (those since its saveState)."""
    depth, clips = 0, []
    for name, args in reversed(calls[:index]):
        if name == "restoreState":
            depth += 1
        elif name == "saveState":
            if depth == 0:
                break
            depth -= 1
        elif name == "clipPath" and depth == 0:
            clips.append(args[0].getCode())
    return clips


def test_data_is_clipped_to_the_axes_and_clip_on_false_is_not():
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 10], [0, 10], color="#ff0000")
    ax.plot([0, 10], [10, 0], color="#00ff00", clip_on=False)
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 5)
    width, height, calls = record_figure(fig)
    left, bottom, right, top = ax.get_position().extents
    x0, y0, w, h = left * width, bottom * height, (right - left) * width, (top - bottom) * height
    stroke = {}
    for i, (name, args) in enumerate(calls):
        if name == "setStrokeColorRGB" and args in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)):
            draw = next(j for j in range(i, len(calls)) if calls[j][0] == "drawPath")
            stroke[args] = clip_before(calls, draw)
    (red_clip,) = stroke[(1.0, 0.0, 0.0)]
    assert [float(v) for v in red_clip.split()[1:5]] == pytest.approx([x0, y0, w, h],
                                                                       abs=1e-3)
    assert stroke[(0.0, 1.0, 0.0)] == []


def test_text_is_placed_as_matplotlib_aligns_it():
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.text(0.9, 0.5, "right", ha="right", va="baseline", transform=ax.transAxes)
    ax.text(0.5, 0.2, "centre", ha="center", transform=ax.transAxes)
    ax.set_ylabel("rotated label")
    _, _, calls = record_figure(fig)
    drawn = {}
    for i, (name, args) in enumerate(calls):
        if name in ("drawString", "drawRightString", "drawCentredString"):
            start = max(j for j in range(i) if calls[j][0] == "saveState")
            drawn[args[2]] = (name, dict(calls[start:i]))
    name, state = drawn["right"]
    assert name == "drawRightString"
    fig.dpi = 72  # (the anchor in points, as recorded)
    anchor = ax.transAxes.transform((0.9, 0.5))
    assert state["translate"] == pytest.approx(anchor)  # va="baseline": on the anchor
    assert drawn["centre"][0] == "drawCentredString"
    assert drawn["rotated label"][1]["rotate"] == (90.0,)
    assert "rotate" not in state


def test_recording_leaves_the_figure_as_it_was():
    fig = hatched_figure()
    canvas, dpi = fig.canvas, fig.dpi
    record_figure(fig)
    assert fig.canvas is canvas and fig.dpi == dpi
    assert fig.get_size_inches() == pytest.approx((4, 3))


def test_layout_is_the_one_matplotlibs_own_vector_output_makes():
    def constrained() -> Figure:
        fig = Figure(figsize=(6, 4), layout="constrained")
        axes = fig.subplots(2, 1)
        axes[0].set_ylabel("a long y label\nover two lines")
        axes[1].set_xlabel("study day (dates on top)")
        axes[1].set_ylabel("cumulative mg PEQ")
        axes[0].set_title("title", loc="left")
        fig.suptitle("suptitle", x=0.01, ha="left")
        for ax in axes:
            ax.plot([0, 1000], [0, 12000])
        return fig

    ours, theirs = constrained(), constrained()
    record_figure(ours)
    FigureCanvasSVG(theirs).print_svg(io.StringIO())
    for a, b in zip(ours.axes, theirs.axes, strict=True):
        assert a.get_position().bounds == pytest.approx(b.get_position().bounds, abs=1e-9)


def test_path_operators_write_pdf_path_syntax():
    square = Path([(0, 0), (1, 0), (1, 1), (0, 0)],
                  [Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY])
    assert path_operators(square) == "0.000 0.000 m 1.000 0.000 l 1.000 1.000 l h"
    quad = Path([(0, 0), (3, 3), (6, 0)], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
    assert path_operators(quad) == "0.000 0.000 m 2.000 2.000 4.000 2.000 6.000 0.000 c"
    cubic = Path([(0, 0), (1, 1), (2, 1), (3, 0), (4, 4), (5, 5), (6, 6)],
                 [Path.MOVETO] + [Path.CURVE4] * 6)
    assert path_operators(cubic).count(" c") == 2
    broken = Path(np.array([(0, 0), (1, 1), (np.nan, np.nan), (3, 3), (4, 4)]))
    assert path_operators(broken).count(" m") == 2, "a NaN breaks the line"
    assert path_operators(Path(np.empty((0, 2)))) == ""


def test_an_image_in_a_chart_is_drawn():
    fig = Figure(figsize=(2, 2))
    fig.subplots().imshow(np.arange(16).reshape(4, 4))
    pdf = pdf_of(figure_flowable(fig, 200, 200))
    assert has_images(pdf)


def test_mathtext_is_drawn_as_outlines_and_other_fonts_are_embedded():
    fig = Figure(figsize=(2, 1))
    fig.text(0.1, 0.6, "Computer Modern", family="cmr10")
    fig.text(0.1, 0.2, r"$x^2$")
    _, _, calls = record_figure(fig)
    strings = [args[2] for name, args in calls if name.endswith("String")]
    assert strings == ["Computer Modern"]
    assert ("setFont", ("mpl-cmr10", 10.0)) in calls
    fills = [args for name, args in calls if name == "drawPath" and args[2] == 1]
    assert len(fills) >= 2, "the figure's background and the formula's glyphs"
