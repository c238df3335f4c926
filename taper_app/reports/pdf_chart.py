"""matplotlib Figures drawn straight into the PDF as vectors, with their words as real text.

:class:`RendererReportLab` is a small matplotlib renderer (like the ones behind ``savefig``)
whose output is a list of ReportLab canvas calls: paths with their clips, fills, strokes,
alpha, dashes, caps and joins; hatches as clipped lines; text in the reports' DejaVu fonts at
matplotlib's positions. :func:`figure_flowable` records a Figure once and returns a Flowable
that plays the calls back, scaled into its box, wherever the page layout puts it. Nothing is
rasterised and no SVG is written or parsed. No Qt here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Any

import numpy as np
from matplotlib import rcParams
from matplotlib.backend_bases import FigureCanvasBase, GraphicsContextBase, RendererBase
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.path import Path
from matplotlib.textpath import TextToPath
from matplotlib.transforms import Transform
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas
from reportlab.pdfgen.pathobject import PDFPathObject
from reportlab.platypus import Flowable

from .pdf_common import FONT, FONT_FILES, register_fonts

#: A hatch pattern repeats every inch (72 pt), as in matplotlib's PDF and SVG output; the
#: tiles start at the figure's top left corner, as in its SVG output.
HATCH_TILE = 72.0

_CAPS = {"butt": 0, "round": 1, "projecting": 2}
_JOINS = {"miter": 0, "round": 1, "bevel": 2}
_ANCHORS = {"left": "drawString", "right": "drawRightString", "center": "drawCentredString"}

#: One recorded canvas call: the Canvas method's name and its arguments.
Call = tuple[str, tuple[Any, ...]]


# ---------------------------------------------------------------- paths as PDF operators

_MOVETO, _LINETO, _CURVE3, _CURVE4, _CLOSE, _STOP = (
    int(Path.MOVETO), int(Path.LINETO), int(Path.CURVE3), int(Path.CURVE4),
    int(Path.CLOSEPOLY), int(Path.STOP))
# The PDF operator printed for each vertex, by matplotlib path code: a cubic Bézier's two
# control points print with no operator, its end point with "c".
_TEMPLATES = np.full(256, "%.3f %.3f", dtype=object)
_TEMPLATES[_MOVETO] = "%.3f %.3f m"
_TEMPLATES[_LINETO] = "%.3f %.3f l"
_TEMPLATES[_CLOSE] = "h"
_CURVE_END = "%.3f %.3f c"


def _quads_to_cubics(vertices: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same path with each quadratic Bézier (CURVE3) as the equivalent cubic (PDF has
    no quadratic curves)."""
    out_v: list[tuple[float, float]] = []
    out_c: list[int] = []
    i, n = 0, len(codes)
    last = start = (0.0, 0.0)
    while i < n:
        code = int(codes[i])
        point = (float(vertices[i][0]), float(vertices[i][1]))
        if code == _CURVE3 and i + 1 < n:
            control, end = point, (float(vertices[i + 1][0]), float(vertices[i + 1][1]))
            out_v += [(last[0] + 2 / 3 * (control[0] - last[0]),
                       last[1] + 2 / 3 * (control[1] - last[1])),
                      (end[0] + 2 / 3 * (control[0] - end[0]),
                       end[1] + 2 / 3 * (control[1] - end[1])),
                      end]
            out_c += [_CURVE4] * 3
            last = end
            i += 2
            continue
        out_v.append(point)
        out_c.append(code)
        if code == _MOVETO:
            start = last = point
        elif code == _CLOSE:
            last = start
        elif code != _STOP:
            last = point
        i += 1
    return np.asarray(out_v, dtype=float).reshape(-1, 2), np.asarray(out_c, dtype=np.uint8)


def path_operators(path: Path, transform: Transform | None = None, *,
                   clip: tuple[float, float, float, float] | None = None,
                   simplify: bool = False, sketch: Any = None) -> str:
    """The path (after ``transform``) as PDF path-construction operators (m, l, c, h).

    NaNs break the path, as matplotlib draws them; ``clip`` and ``simplify`` are matplotlib's
    own clipping to the figure and simplification of long lines, as its PDF output uses.
    """
    cleaned = path.cleaned(transform=transform, remove_nans=True, clip=clip,
                           simplify=simplify, curves=True, sketch=sketch)
    if cleaned.codes is None:
        return ""
    vertices = np.asarray(cleaned.vertices, dtype=float)
    codes = np.asarray(cleaned.codes, dtype=np.uint8)
    if (codes == _CURVE3).any():
        vertices, codes = _quads_to_cubics(vertices, codes)
    templates = _TEMPLATES[codes]
    curve = codes == _CURVE4
    if curve.any():
        # A cubic segment is three CURVE4 vertices in a row: the third prints "c".
        index = np.arange(len(codes))
        run_start = np.maximum.accumulate(np.where(curve, -1, index))
        templates[curve & ((index - run_start) % 3 == 0)] = _CURVE_END
    drawn = codes != _STOP
    printed = drawn & (codes != _CLOSE)
    return str(" ".join(templates[drawn].tolist()) % tuple(vertices[printed].ravel().tolist()))


def _rect_path(x: float, y: float, width: float, height: float) -> PDFPathObject:
    path = PDFPathObject()
    path.rect(x, y, width, height)
    return path


# ---------------------------------------------------------------- fonts

@lru_cache(maxsize=64)
def _font_for_file(filename: str) -> str:
    """The ReportLab font for a font file matplotlib chose (the reports' DejaVu when it is)."""
    register_fonts()
    base = FilePath(filename).name
    for name, known in FONT_FILES.items():
        if known == base:
            return name
    name = f"mpl-{FilePath(filename).stem}"
    try:
        pdfmetrics.getFont(name)
    except KeyError:
        try:
            pdfmetrics.registerFont(TTFont(name, filename))
        except Exception:  # not a TrueType font ReportLab can embed: print in DejaVu Sans
            return FONT
    return name


def font_name(prop: FontProperties) -> str:
    """The ReportLab font name for matplotlib's font properties."""
    return _font_for_file(findfont(prop))


# ---------------------------------------------------------------- the renderer

class RendererReportLab(RendererBase):
    """A matplotlib renderer that records ReportLab canvas calls, in points (72 dpi).

    Coordinates are matplotlib's display coordinates (origin bottom left, like PDF). Markers
    and collections use RendererBase's defaults, which come back here through draw_path.
    """

    def __init__(self, width: float, height: float) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.calls: list[Call] = []
        self._metrics = TextToPath()
        self._figure_box = (0.0, 0.0, width, height)

    # ---- what matplotlib asks of a renderer

    def flipy(self) -> bool:
        return False

    def get_canvas_width_height(self) -> tuple[float, float]:
        return self.width, self.height

    def points_to_pixels(self, points: Any) -> Any:
        return points

    def get_text_width_height_descent(self, s: str, prop: FontProperties,
                                      ismath: Any) -> tuple[float, float, float]:
        # The same metrics as matplotlib's vector (SVG, PDF-with-text) output.
        return self._metrics.get_text_width_height_descent(s, prop, ismath)

    def new_gc(self) -> GraphicsContextBase:
        return GraphicsContextBase()

    def option_image_nocomposite(self) -> bool:
        return not rcParams["image.composite_image"]

    def get_image_magnification(self) -> float:
        return 2.0  # images (none in the taper charts) are sampled at 144 dpi

    # ---- state

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def _clip(self, gc: GraphicsContextBase) -> None:
        """Clip to the graphics context's rectangle and path (inside a saved state)."""
        rect = gc.get_clip_rectangle()
        if rect is not None:
            x0, y0, w, h = rect.bounds
            self._call("clipPath", _rect_path(x0, y0, w, h), 0, 0, FILL_NON_ZERO)
        clip: tuple[Any, Any] = gc.get_clip_path()  # (Path, its Transform) or (None, None)
        clip_path, clip_transform = clip
        if clip_path is not None:
            code = path_operators(clip_path, clip_transform)
            if code:
                self._call("clipPath", PDFPathObject([code]), 0, 0, FILL_NON_ZERO)

    @staticmethod
    def _fill_alpha(gc: GraphicsContextBase, rgb_face: Any) -> float:
        """The fill's opacity, as matplotlib's vector backends take it."""
        if gc.get_forced_alpha():
            return float(gc.get_alpha())
        if rgb_face is not None and len(rgb_face) == 4:
            return float(rgb_face[3])
        return 1.0

    @staticmethod
    def _colour(gc: GraphicsContextBase) -> tuple[float, float, float, float]:
        """The stroke (and text) colour and its opacity."""
        rgba: Any = gc.get_rgb()
        r, g, b = (float(c) for c in rgba[:3])
        if gc.get_forced_alpha():
            return r, g, b, float(gc.get_alpha())
        return r, g, b, float(rgba[3]) if len(rgba) == 4 else 1.0

    def _stroke_style(self, gc: GraphicsContextBase) -> bool:
        """Set the stroke colour, alpha, width, dashes, cap and join; False: no stroke."""
        width = float(gc.get_linewidth())
        r, g, b, alpha = self._colour(gc)
        if width <= 0 or alpha <= 0:
            return False
        self._call("setStrokeColorRGB", r, g, b)
        if alpha < 1:
            self._call("setStrokeAlpha", alpha)
        self._call("setLineWidth", float(width))
        self._call("setLineCap", _CAPS.get(gc.get_capstyle(), 0))
        self._call("setLineJoin", _JOINS.get(gc.get_joinstyle(), 0))
        dash: tuple[Any, Any] = gc.get_dashes()
        offset, dashes = dash
        if dashes is not None and len(dashes) and sum(dashes) > 0:
            self._call("setDash", [max(float(d), 0.0) for d in dashes],
                       max(float(offset or 0), 0.0))
        return True

    # ---- drawing

    def draw_path(self, gc: GraphicsContextBase, path: Path, transform: Transform,
                  rgbFace: Any = None) -> None:
        hatch = gc.get_hatch_path()
        fill_alpha = self._fill_alpha(gc, rgbFace)
        fill = rgbFace is not None and fill_alpha > 0
        # Lines only: clipped to the figure and simplified, as matplotlib's vector backends do.
        lines_only = rgbFace is None and hatch is None
        code = path_operators(path, transform,
                              clip=self._figure_box if lines_only else None,
                              simplify=path.should_simplify and lines_only,
                              sketch=gc.get_sketch_params())
        if not code:
            return
        shape = PDFPathObject([code])
        self._call("saveState")
        self._clip(gc)
        if fill and rgbFace is not None:
            self._call("setFillColorRGB", *(float(c) for c in rgbFace[:3]))
            if fill_alpha < 1:
                self._call("setFillAlpha", fill_alpha)
            self._call("drawPath", shape, 0, 1, FILL_NON_ZERO)
        if hatch is not None:
            self._hatch(gc, shape, path, transform, fill_alpha)
        if self._stroke_style(gc):
            self._call("drawPath", shape, 1, 0, FILL_NON_ZERO)
        self._call("restoreState")

    def _hatch(self, gc: GraphicsContextBase, shape: PDFPathObject, path: Path,
               transform: Transform, alpha: float) -> None:
        """The hatch lines over the shape's extent, clipped to the shape."""
        extents = path.get_extents(transform)
        x0, y0, x1, y1 = extents.x0, extents.y0, extents.x1, extents.y1
        rect = gc.get_clip_rectangle()
        if rect is not None:
            x0, y0 = max(x0, rect.x0), max(y0, rect.y0)
            x1, y1 = min(x1, rect.x1), min(y1, rect.y1)
        x0, y0 = max(x0, 0.0), max(y0, 0.0)
        x1, y1 = min(x1, self.width), min(y1, self.height)
        if not (np.isfinite([x0, y0, x1, y1]).all() and x1 - x0 > 0.01 and y1 - y0 > 0.01):
            return
        unit = gc.get_hatch_path()  # the pattern's lines in the unit square
        if unit is None:
            return
        unit_vertices = np.asarray(unit.vertices, dtype=float)
        if unit.codes is None:
            unit_codes = np.full(len(unit_vertices), _LINETO, dtype=np.uint8)
            unit_codes[0] = _MOVETO
        else:
            unit_codes = np.asarray(unit.codes, dtype=np.uint8)
        # Tiles of HATCH_TILE points from the figure's top left corner.
        top = self.height
        columns = range(math.floor(x0 / HATCH_TILE), math.floor(x1 / HATCH_TILE) + 1)
        rows = range(math.floor((top - y1) / HATCH_TILE), math.floor((top - y0) / HATCH_TILE) + 1)
        tiles = np.array([(i * HATCH_TILE, top - (j + 1) * HATCH_TILE)
                          for i in columns for j in rows], dtype=float)
        lines = Path(np.concatenate([unit_vertices * HATCH_TILE + origin for origin in tiles]),
                     np.tile(unit_codes, len(tiles)))
        code = path_operators(lines)
        if not code:
            return
        colour: Any = gc.get_hatch_color()
        width = (gc.get_hatch_linewidth() if hasattr(gc, "get_hatch_linewidth")
                 else rcParams["hatch.linewidth"])  # (matplotlib < 3.10)
        self._call("saveState")
        self._call("clipPath", shape, 0, 0, FILL_NON_ZERO)
        r, g, b = (float(c) for c in colour[:3])
        self._call("setStrokeColorRGB", r, g, b)
        self._call("setFillColorRGB", r, g, b)
        if alpha < 1:
            self._call("setStrokeAlpha", alpha)
            self._call("setFillAlpha", alpha)
        self._call("setLineWidth", float(width))
        self._call("setLineCap", 0)
        self._call("setLineJoin", 0)
        self._call("drawPath", PDFPathObject([code]), 1, 1, FILL_NON_ZERO)
        self._call("restoreState")

    def draw_text(self, gc: GraphicsContextBase, x: float, y: float, s: str,
                  prop: FontProperties, angle: float, ismath: Any = False,
                  mtext: Any = None) -> None:
        if ismath:  # mathtext (none in the reports' charts): as outlines, still vectors
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return
        r, g, b, alpha = self._colour(gc)
        if not s or alpha <= 0:
            return
        draw = "drawString"
        if mtext is not None and (angle == 0 or mtext.get_rotation_mode() == "anchor"):
            # As matplotlib's SVG output: from the text's anchor point, aligned by the PDF's
            # own font metrics, so right-aligned tick labels end exactly at the tick.
            ax, ay = mtext.get_transform().transform(mtext.get_unitless_position())
            rad = math.radians(angle)
            up = (-math.sin(rad), math.cos(rad))
            offset = up[0] * (x - ax) + up[1] * (y - ay)
            x, y = ax + offset * up[0], ay + offset * up[1]
            draw = _ANCHORS.get(mtext.get_horizontalalignment(), "drawString")
        self._call("saveState")
        self._clip(gc)
        self._call("setFillColorRGB", r, g, b)
        if alpha < 1:
            self._call("setFillAlpha", alpha)
        self._call("setFont", font_name(prop), float(prop.get_size_in_points()))
        self._call("translate", float(x), float(y))
        if angle:
            self._call("rotate", float(angle))
        self._call(draw, 0, 0, s)
        self._call("restoreState")

    def draw_image(self, gc: GraphicsContextBase, x: float, y: float, im: Any,
                   transform: Any = None) -> None:
        pixels = np.asarray(im, dtype=np.uint8)  # RGBA, top row first
        height, width = pixels.shape[:2]
        if not width or not height:
            return
        from PIL import Image  # matplotlib's own dependency

        picture = io.BytesIO()
        Image.fromarray(pixels).save(picture, format="PNG")
        picture.seek(0)
        scale = 1 / self.get_image_magnification()
        self._call("saveState")
        self._clip(gc)
        self._call("drawImage", ImageReader(picture), float(x), float(y), width * scale,
                   height * scale, "auto")
        self._call("restoreState")


# ---------------------------------------------------------------- figures

class _RecordingCanvas(FigureCanvasBase):
    """The figure's canvas while it is recorded: constrained layout measures text with the
    renderer that draws it (as ``savefig`` does), and nothing is saved to a file."""

    def __init__(self, figure: Figure, renderer: RendererReportLab) -> None:
        super().__init__(figure)
        self._renderer = renderer
        self._is_saving = True

    def get_renderer(self) -> RendererReportLab:
        return self._renderer


def record_figure(fig: Figure) -> tuple[float, float, list[Call]]:
    """Draw ``fig`` at 72 dpi; its size in points and the canvas calls that print it."""
    width_in, height_in = fig.get_size_inches()
    renderer = RendererReportLab(width_in * 72, height_in * 72)
    original_canvas, original_dpi = fig.canvas, fig.dpi
    _RecordingCanvas(fig, renderer)  # (becomes fig.canvas)
    try:
        fig.dpi = 72  # points, as matplotlib's own vector output
        try:
            fig.draw(renderer)
        finally:
            fig.dpi = original_dpi
    finally:
        fig.set_canvas(original_canvas)
    return renderer.width, renderer.height, renderer.calls


def play(calls: Sequence[Call], canvas: Canvas) -> None:
    """Make the recorded calls on ``canvas``."""
    for name, args in calls:
        getattr(canvas, name)(*args)


class FigureFlowable(Flowable):
    """A recorded figure, scaled to fit its box and centred in the frame."""

    def __init__(self, width: float, height: float, calls: Sequence[Call],
                 scale: float) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.calls = list(calls)
        self.scale = scale
        self.hAlign = "CENTER"

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.saveState()
        self.canv.scale(self.scale, self.scale)
        play(self.calls, self.canv)
        self.canv.restoreState()


def figure_flowable(fig: Figure, max_width: float, max_height: float) -> FigureFlowable:
    """A matplotlib Figure as a vector Flowable no larger than the given box.

    The figure is drawn now (later changes to it do not show); its text stays text.
    """
    width, height, calls = record_figure(fig)
    scale = min(max_width / width, max_height / height)
    return FigureFlowable(width * scale, height * scale, calls, scale)
