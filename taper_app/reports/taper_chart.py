"""The taper charts as matplotlib Figures (no Qt): the window and the PDFs draw the same.

Colours follow the Okabe-Ito palette (readable with colour-blind vision) and every series
also differs by line style, width, marker or hatch, so a grey printout still tells them apart.
:class:`TaperChart` builds the three panels once and redraws them in place for each
patient, so switching patients in the window costs one draw, not a new figure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import DrawEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox, offset_copy

from ..domain.figures import MEDIAN_MIN_PATIENTS, FigureSettings, median_window_reduction
from ..domain.schedule import scheduled_doses
from ..domain.studyday import date_of_day, study_day
from ..results import PatientAnalysis

ACTUAL = "#0072B2"      # blue, solid and thick
SCHEDULED = "#333333"   # near black, dashed
ABOVE = "#E69F00"       # orange, hatched ///
BELOW = "#56B4E9"       # sky blue, hatched \\\
PULSE = "#D55E00"       # vermillion, triangle marker
AMENDMENT = "#CC79A7"   # reddish purple, dotted vertical line
TARGET = "#009E73"      # bluish green, dash-dot
BASELINE = "#999999"    # grey, dotted
MISSING = "#b4b4b4"     # light grey band, fine cross-hatch
MISSING_FILL = "#f1f1f1"
TEXT_AMENDMENT = "#7a2f5c"
TEXT_TARGET = "#00573f"
TEXT_PULSE = "#8a3c00"

#: Margins of the window's chart in pixels at 100 dpi (fixed: a redraw needs no layout pass).
WINDOW_MARGINS_PX = {"left": 64, "right": 16, "top": 30, "bottom": 38, "gap": 10}
#: Room for the title line above the dates when the chart is saved to a file.
TITLE_PX = 20
#: The reduction panel shows -100 % (twice the baseline) at the lowest; below is off scale.
REDUCTION_FLOOR = -100.0


@dataclass(frozen=True)
class ChartArtists:
    """Named handles on what was drawn, so tests and the hover read-out can find them."""

    actual: Line2D
    scheduled: Line2D
    daily_reduction: Line2D
    window_reduction: Line2D
    cumulative: Line2D
    scheduled_cumulative: Line2D
    baseline_cumulative: Line2D
    schedule_ahead: Line2D


@dataclass(frozen=True)
class DayReadout:
    """The engine's numbers for one study day, as the hover read-out shows them."""

    day: int
    date: date
    actual_mg: float | None
    scheduled_mg: float
    reduction_pct: float | None
    window_reduction_pct: float | None


def _value(array: np.ndarray, i: int) -> float | None:
    x = float(array[i])
    return None if np.isnan(x) else x


def day_readout(analysis: PatientAnalysis, x: float) -> DayReadout | None:
    """The figures of the study day nearest ``x`` (Day 1 to the as-of day), else None."""
    c = analysis.curves
    if not c.study_days.size or not np.isfinite(x):
        return None
    day = int(np.floor(x + 0.5))
    if day < 1 or day > int(c.study_days[-1]):
        return None
    i = day - 1
    return DayReadout(day, date_of_day(day, analysis.record.day1_date), _value(c.actual, i),
                      float(c.scheduled[i]), _value(c.reduction_pct, i),
                      _value(c.window_reduction_pct, i))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in ``mask`` as (first index, last index)."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def deviation_polygons(days: np.ndarray, actual: np.ndarray, scheduled: np.ndarray,
                       mask: np.ndarray) -> list[np.ndarray]:
    """One polygon per run of deviation days, between the two step lines (each day is
    the interval day ± 0.5, as the step lines draw it), so a single day shows too."""
    polygons = []
    for first, last in runs(mask):
        d = days[first:last + 1]
        xs = np.column_stack((d - 0.5, d + 0.5)).ravel()
        upper = np.repeat(actual[first:last + 1], 2)
        lower = np.repeat(scheduled[first:last + 1], 2)
        polygons.append(np.column_stack((np.concatenate((xs, xs[::-1])),
                                         np.concatenate((upper, lower[::-1])))))
    return polygons


def gap_bands(spans: np.ndarray) -> Path:
    """Rectangles from x0 to x1 (data) over the full height (axes fractions), one path."""
    n = len(spans)
    x0, x1 = spans[:, 0], spans[:, 1]
    zeros, ones = np.zeros(n), np.ones(n)
    xs = np.column_stack((x0, x1, x1, x0, x0)).ravel()
    ys = np.column_stack((zeros, zeros, ones, ones, zeros)).ravel()
    codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], n)
    return Path(np.column_stack((xs, ys)), codes.astype(Path.code_type))


LegendPlace = Literal["best", "upper left", "upper right", "lower left", "lower right"]


CORNERS: tuple[LegendPlace, ...] = ("upper right", "upper left", "lower left", "lower right")
LEGEND_FONT_PT = 7.0
#: Each panel's legend corner, the same for every patient, redraw and zoom: the dose panel's
#: headroom (the scale is 1.5 times the regular doses), the reduction panel's low right
#: (reductions rise as the taper goes on), the cumulative panel's upper left (it rises).
PANEL_CORNERS: tuple[LegendPlace, LegendPlace, LegendPlace] = ("upper right", "lower right",
                                                               "upper left")
#: Pixels kept between a mark's words and a legend or the axes' edge.
CLEARANCE_PX = 3.0


def _legend_key(ax: Axes, handles: list[Artist], loc: LegendPlace, ncols: int = 1,
                opaque: bool = False) -> Legend:
    legend = ax.legend(handles=handles, loc=loc, fontsize=LEGEND_FONT_PT, ncols=ncols,
                       framealpha=1.0 if opaque else 0.85, fancybox=not opaque, borderpad=0.3,
                       labelspacing=0.25, handlelength=1.8, columnspacing=1.0)
    if opaque:  # nothing of the data shows through: its pixels can be reused (below)
        legend.get_frame().set_linewidth(0)
    legend.set_zorder(5)
    return legend


class LegendSnapshot:
    """Draws a legend that never changes from the pixels of its first drawing on screen.

    A legend is text, and laying out and rendering text is most of what a redraw costs;
    the window redraws on every patient switch. Through matplotlib's public blitting API:
    the legend is *animated* (the figure's own draw leaves it out) and :meth:`on_draw`,
    connected to the canvas's ``draw_event``, puts it on top once the figure is drawn.
    The first time (and at each new resolution) it draws the real legend and keeps the
    pixels inside its frame with ``canvas.copy_from_bbox``; after that they are put back
    with ``canvas.restore_region`` in its fixed corner. The legend is
    opaque, so its pixels hold nothing of the data. Files (PNG, SVG, PDF) get the real
    legend: matplotlib draws animated artists itself when it saves.
    """

    def __init__(self, legend: Legend, preferred: LegendPlace) -> None:
        self.legend = legend
        self.corner = preferred
        # Ties go to the usual corner, so the legend moves only when it has to.
        self.order = (preferred, *(c for c in CORNERS if c != preferred))
        self._pixels: tuple[float, Any, Bbox, Bbox] | None = None  # dpi, region, frame, inner
        self.reused = 0  # draws from the kept pixels (tests, benchmarks)
        legend.set_animated(True)

    def frame_extent(self, renderer: Any) -> Bbox:
        """Where the legend's frame is (display pixels) in its corner of its axes now."""
        if self._pixels is None:
            return self.legend.get_window_extent(renderer)
        frame = self._pixels[2]
        x0, y0 = self._origin(frame)
        return Bbox.from_bounds(x0, y0, frame.width, frame.height)

    def _origin(self, frame: Bbox) -> tuple[float, float]:
        axes, dpi = self.legend.axes.bbox, self.legend.figure.dpi if self.legend.figure else 0
        pad = self.legend.borderaxespad * LEGEND_FONT_PT * dpi / 72
        x0 = axes.x1 - pad - frame.width if "right" in self.corner else axes.x0 + pad
        y0 = axes.y1 - pad - frame.height if "upper" in self.corner else axes.y0 + pad
        return x0, y0

    def on_draw(self, event: DrawEvent) -> None:
        """Put the legend on the figure just drawn (``draw_event``)."""
        legend, canvas, renderer = self.legend, event.canvas, event.renderer
        if not legend.get_visible() or canvas.is_saving():
            return  # a file: matplotlib draws animated artists itself when saving
        if not isinstance(canvas, FigureCanvasAgg):  # no blitting
            legend.draw(renderer)
            return
        dpi = self.legend.figure.dpi if self.legend.figure is not None else 0.0
        if self._pixels is None or self._pixels[0] != dpi:
            legend.draw(renderer)
            frame = legend.get_frame().get_window_extent(renderer)
            # Whole pixels inside the frame: its anti-aliased edge blends with the data.
            inner = Bbox.from_extents(np.ceil(frame.x0) + 1, np.ceil(frame.y0) + 1,
                                      np.floor(frame.x1) - 1, np.floor(frame.y1) - 1)
            self._pixels = (dpi, canvas.copy_from_bbox(inner), frame, inner)
            return
        _dpi, region, frame, inner = self._pixels
        x0, y0 = self._origin(frame)
        left = round(x0 + inner.x0 - frame.x0)
        bottom = round(y0 + inner.y0 - frame.y0)
        # restore_region's xy counts rows from the top; the display from the bottom.
        height = canvas.figure.bbox.height
        canvas.restore_region(region, xy=(left, round(height - bottom - inner.height)))
        self.reused += 1


class TaperChart:
    """The three panels sharing the study-day axis: daily dose, % reduction, cumulative dose.

    The axes, lines and legends are made once; :meth:`draw` sets each patient's data in
    place and replaces only what differs between patients (shading, gaps, marks, labels).
    ``fixed_margins`` (the window) sets pixel margins instead of a layout pass per draw.
    """

    def __init__(self, figure: Figure | None = None, *, fixed_margins: bool = False) -> None:
        fig = figure if figure is not None else Figure(figsize=(10, 7.5),
                                                       layout=None if fixed_margins
                                                       else "constrained")
        fig.clear()
        self.figure = fig
        self.fixed_margins = fixed_margins
        if fixed_margins:
            fig.set_layout_engine("none")
        axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]})
        self.ax_dose, self.ax_reduction, self.ax_cumulative = axes
        self._day1 = date(2000, 1, 1)
        self._transient: list[Artist] = []
        # The marks' words (and a pulse's marker) with where they were first put, which
        # keep_clear moves off the legends and inside the axes.
        self._labels: list[tuple[Annotation, tuple[float, float], tuple[float, float],
                                 Line2D | None]] = []
        dose, red, cum = axes
        empty: list[float] = []

        # --- panel 1: actual against scheduled daily dose
        self.actual, = dose.step(empty, empty, where="mid", color=ACTUAL, lw=2.0, zorder=3,
                                 label="actual (mg PEQ/day)")
        self.scheduled, = dose.step(empty, empty, where="mid", color=SCHEDULED, lw=1.2,
                                    ls="--", zorder=4, label="scheduled")
        self.schedule_ahead, = dose.step(empty, empty, where="mid", color=SCHEDULED, lw=1.0,
                                         ls=(0, (2, 3)), alpha=0.55, zorder=2,
                                         label="schedule ahead")
        dose.set_ylabel("mg PEQ / day", fontsize=8)
        # Every legend has one fixed corner (CORNERS_BY_PANEL): a legend that moves between
        # patients or redraws is hard to read, and the marks' words keep clear of it instead.
        place: LegendPlace = PANEL_CORNERS[0]
        legends = [_legend_key(dose, [
            self.actual, self.scheduled,
            Patch(facecolor=ABOVE, alpha=0.5, hatch="///", edgecolor=ABOVE, lw=0,
                  label="above schedule"),
            Patch(facecolor=BELOW, alpha=0.5, hatch="\\\\\\", edgecolor=BELOW, lw=0,
                  label="below schedule"),
            Patch(facecolor=MISSING_FILL, edgecolor=MISSING, hatch="xxx", lw=0,
                  label="missing days (no record)"),
            self.schedule_ahead,
            Line2D([], [], color=PULSE, marker="v", ls="none", ms=7, label="one-off dose"),
            Line2D([], [], color=AMENDMENT, ls=":", lw=1.5, label="amendment / flare"),
        ], place, ncols=2, opaque=fixed_margins)]

        # --- panel 2: % reduction from baseline
        self.daily_reduction, = red.plot(empty, empty, color=ACTUAL, lw=0.8, alpha=0.55,
                                         label="daily")
        self.window_reduction, = red.plot(empty, empty, color=ACTUAL, lw=2.2, zorder=3,
                                          label="28-day window")
        self.target_line = red.axhline(0, color=TARGET, lw=1.3, ls="-.",
                                       label="protocol target")
        self.target_day_line = red.axvline(1, color=TARGET, lw=1, ls=":")
        red.set_ylabel("% reduction", fontsize=8)
        red.axhline(0, color=BASELINE, lw=0.8)
        legends.append(_legend_key(red, [self.daily_reduction, self.window_reduction,
                                         self.target_line], PANEL_CORNERS[1], ncols=3,
                                   opaque=fixed_margins))

        # --- panel 3: cumulative dose
        self.cumulative, = cum.plot(empty, empty, color=ACTUAL, lw=2.0, zorder=3,
                                    label="actual")
        self.scheduled_cumulative, = cum.plot(empty, empty, color=SCHEDULED, lw=1.2, ls="--",
                                              label="scheduled")
        self.baseline_cumulative, = cum.plot(empty, empty, color=BASELINE, lw=1.5, ls=":",
                                             label="baseline continued")
        cum.set_ylabel("cumulative mg PEQ", fontsize=8)
        cum.set_xlabel("study day (dates on top)", fontsize=8)
        legends.append(_legend_key(cum, [self.cumulative, self.scheduled_cumulative,
                                         self.baseline_cumulative,
                                         Patch(facecolor=TARGET, alpha=0.18,
                                               label="steroid spared")],
                                   PANEL_CORNERS[2], opaque=fixed_margins))
        self.legend_keys = legends
        # In the window the legends are drawn from their first pixels, in their fixed corner.
        self.legends = ([LegendSnapshot(lg, corner) for lg, corner in zip(legends,
                                                                          PANEL_CORNERS,
                                                                          strict=True)]
                        if fixed_margins else [])
        for snapshot in self.legends:
            fig.canvas.mpl_connect("draw_event", snapshot.on_draw)
        self._drawing = False
        if fixed_margins:  # a zoom or pan moves the marks: measure their words again
            for ax in axes:
                ax.callbacks.connect("xlim_changed", self._limits_changed)
                ax.callbacks.connect("ylim_changed", self._limits_changed)

        for ax in axes:
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        dose.set_zorder(1)
        if fixed_margins:
            # Labels at fixed offsets: placing them from the tick labels' extents costs a
            # tenth of every redraw, and fixed margins hold the tick labels anyway.
            for ax in axes:
                ax.yaxis.set_label_coords(0, 0.5, transform=offset_copy(
                    ax.transAxes, fig=fig, x=-34, y=0, units="points"))
            cum.xaxis.set_label_coords(0.5, 0, transform=offset_copy(
                cum.transAxes, fig=fig, x=0, y=-15, units="points"))
        top = dose.secondary_xaxis("top")
        top.xaxis.set_major_formatter(FuncFormatter(self._date_label))
        top.tick_params(labelsize=7, colors="#555555")
        if fixed_margins:
            # The axes without a label (the upper panels' study days, the dates on top)
            # would still measure every tick label of the shared axes to place nothing.
            for axis in (dose.xaxis, red.xaxis, top.xaxis, top.yaxis):
                axis.set_label_coords(0.5, 0.5)
            # in the pixel margin fit_margins keeps for it
            self.title = fig.text(0.01, 0.995, "", ha="left", va="top", fontsize=9)
        else:  # a layout engine makes room for a suptitle
            self.title = fig.suptitle("", x=0.01, ha="left", fontsize=9)
        self.artists = ChartArtists(self.actual, self.scheduled, self.daily_reduction,
                                    self.window_reduction, self.cumulative,
                                    self.scheduled_cumulative, self.baseline_cumulative,
                                    self.schedule_ahead)

    # ------------------------------------------------------------------ layout

    def _date_label(self, x: float, _pos: int) -> str:
        day = round(x)
        offset = day - 1 if day > 0 else day
        return (self._day1 + timedelta(days=offset)).strftime("%d %b %y")

    def fit_margins(self, *, with_title: bool = False) -> None:
        """Fixed margins for the figure's current size (the window calls it on resize).

        The margins are in hundredths of an inch, like the fonts in points, so they hold
        the tick labels at any display scaling. On screen the window's header already says
        who the patient is; a saved file needs ``with_title``.
        """
        m = WINDOW_MARGINS_PX
        width_in, height_in = self.figure.get_size_inches()
        w, h = max(width_in * 100, 200.0), max(height_in * 100, 200.0)
        top_px = m["top"] + (TITLE_PX if with_title else 0)
        self.title.set_visible(with_title)
        usable = h - top_px - m["bottom"]
        mean_axes = max(usable - 2 * m["gap"], 60.0) / 3
        self.figure.subplots_adjust(left=m["left"] / w, right=1 - m["right"] / w,
                                    top=1 - top_px / h, bottom=m["bottom"] / h,
                                    hspace=m["gap"] / mean_axes)
        if isinstance(self.figure.canvas, FigureCanvasAgg):
            self.keep_clear(self.figure.canvas.get_renderer())  # the axes moved: measure again

    # ------------------------------------------------------------------ drawing

    def _keep(self, artist: Artist) -> Artist:
        self._transient.append(artist)
        return artist

    def _limits_changed(self, _ax: Axes) -> None:
        if not self._drawing and isinstance(self.figure.canvas, FigureCanvasAgg):
            self.keep_clear(self.figure.canvas.get_renderer())

    def _label(self, annotation: Annotation, marker: Line2D | None = None) -> None:
        self._keep(annotation)
        annotation.set_in_layout(False)  # kept inside the axes: the layout need not see it
        (x, y), (ox, oy) = annotation.xy, annotation.xyann
        self._labels.append((annotation, (float(x), float(y)), (float(ox), float(oy)),
                             marker))

    def legend_extent(self, ax: Any, renderer: Any) -> Bbox | None:
        """The display extent of the legend of ``ax`` (None if it has none shown)."""
        for snapshot in self.legends:
            if snapshot.legend.axes is ax:
                return snapshot.frame_extent(renderer) if snapshot.legend.get_visible() \
                    else None
        legend = ax.get_legend()
        return legend.get_window_extent(renderer) if legend and legend.get_visible() else None

    def keep_clear(self, renderer: Any) -> None:
        """Move each mark's words inside its axes and off its legend, from their measured
        extents (a handful of texts, whose layout the draw then reuses from matplotlib's
        cache). The window calls it after each patient and resize; files before saving."""
        to_points = 72 / self.figure.dpi
        placed: dict[Any, list[Bbox]] = {}
        marks: dict[Any, list[Bbox]] = {}
        for annotation, xy, offset, marker in self._labels:
            ax = annotation.axes
            if ax is None:
                continue
            annotation.xy, annotation.xyann = xy, offset
            if marker is not None:
                marker.set_ydata([xy[1]])
            legend = self.legend_extent(ax, renderer)
            if legend is not None:
                legend = Bbox.from_extents(legend.x0 - CLEARANCE_PX, legend.y0 - CLEARANCE_PX,
                                           legend.x1 + CLEARANCE_PX, legend.y1 + CLEARANCE_PX)
            if marker is not None and legend is not None:
                x, y = ax.transData.transform(xy)
                if legend.x0 - 6 <= x <= legend.x1 + 6 and legend.y0 - 6 <= y <= legend.y1 + 6:
                    # a pulse's marker under the legend: put it just beside the legend
                    y = legend.y0 - 8 if legend.y0 > ax.bbox.y0 + 20 else legend.y1 + 8
                    moved = float(ax.transData.inverted().transform((x, y))[1])
                    annotation.xy = (xy[0], moved)
                    marker.set_ydata([moved])
            others = placed.setdefault(ax, [])
            others.append(_fit(annotation, ax.bbox, legend, others, renderer, to_points,
                               marks.setdefault(ax, self._mark_extents(ax))))

    def _mark_extents(self, ax: Any) -> list[Bbox]:
        """Where the marks drawn as points in ``ax`` are (a pulse's triangle, the target's
        diamond: a marker and no line), as display boxes with the words' clearance, after
        the pulses' markers have been moved off the legend."""
        boxes = []
        for line in ax.lines:
            if (not line.get_visible() or line.get_marker() in (None, "None", "", " ")
                    or line.get_linestyle() not in ("None", "none", "", " ")):
                continue
            half = line.get_markersize() * self.figure.dpi / 72 / 2 + CLEARANCE_PX
            xs, ys = line.get_data()
            for x, y in ax.transData.transform(np.column_stack([xs, ys])):
                if ax.bbox.contains(x, y):
                    boxes.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
        return boxes

    def keep_clear_for_file(self) -> None:
        """Lay the figure out as a file will (its layout engine), then :meth:`keep_clear`."""
        canvas = self.figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(self.figure)
        self.figure.draw_without_rendering()
        self.keep_clear(canvas.get_renderer())

    def draw(self, analysis: PatientAnalysis, settings: FigureSettings) -> ChartArtists:
        """Show ``analysis`` (set the data in place; the caller draws the canvas)."""
        self._drawing = True  # the limits set below need no keep_clear each
        try:
            return self._draw(analysis, settings)
        finally:
            self._drawing = False

    def _draw(self, analysis: PatientAnalysis, settings: FigureSettings) -> ChartArtists:
        for artist in self._transient:
            artist.remove()
        self._transient.clear()
        self._labels.clear()
        c = analysis.curves
        rec = analysis.record
        self._day1 = rec.day1_date
        days = c.study_days.astype(float)
        baseline = float(rec.baseline_mg)
        last_day = int(c.study_days[-1]) if days.size else 0
        right = float(max(last_day, settings.target_day, 1)) + 0.5
        self.title.set_text(f"{rec.subject_id} (site {rec.site}) · baseline "
                            f"{rec.baseline_mg} mg/day · template {rec.template_id} · as of "
                            f"{analysis.figures.as_of.isoformat()} (day "
                            f"{analysis.figures.as_of_day})")
        top = self._draw_dose(analysis, settings, days, baseline, last_day, right)
        self._draw_reduction(analysis, settings, days)
        self._draw_cumulative(analysis, days, baseline)
        spans = [(study_day(first, rec.day1_date) - 0.5, study_day(last, rec.day1_date) + 0.5)
                 for first, last in analysis.gaps]
        panels = (self.ax_dose, self.ax_reduction, self.ax_cumulative)
        if spans and self.fixed_margins:
            # The window: one hatched band per panel holding every gap, one path to fill
            # and hatch instead of a patch per gap and panel (a diary has dozens of gaps);
            # bands never change the data limits.
            bands = gap_bands(np.array(spans))
            for ax in panels:
                self._keep(ax.add_artist(PathPatch(
                    bands, facecolor=MISSING_FILL, edgecolor=MISSING, hatch="xxx", lw=0,
                    zorder=0.5, label="missing days", transform=ax.get_xaxis_transform())))
        else:
            # A file: a rectangle per gap.
            for n, (x0, x1) in enumerate(spans):
                for ax in panels:
                    self._keep(ax.axvspan(x0, x1, facecolor=MISSING_FILL, edgecolor=MISSING,
                                          hatch="xxx", lw=0, zorder=0.5,
                                          label="missing days" if n == 0 else "_gap"))
        self.ax_dose.set_ylim(0, top)
        self.ax_cumulative.set_xlim(0.5, right)
        if self.fixed_margins and isinstance(self.figure.canvas, FigureCanvasAgg):
            self.keep_clear(self.figure.canvas.get_renderer())
        return self.artists

    def _draw_dose(self, analysis: PatientAnalysis, settings: FigureSettings, days: np.ndarray,
                   baseline: float, last_day: int, right: float) -> float:
        c, rec, ax = analysis.curves, analysis.record, self.ax_dose
        self.actual.set_data(days, c.actual)
        self.scheduled.set_data(days, c.scheduled)
        ahead_days = np.arange(max(last_day, 1), int(right) + 1)  # no Day 0
        if ahead_days.size > 1:
            ahead = scheduled_doses(rec.steps, baseline, ahead_days)
            self.schedule_ahead.set_data(ahead_days.astype(float), ahead)
        else:
            self.schedule_ahead.set_data([], [])
        for direction, colour, hatch in ((1, ABOVE, "///"), (-1, BELOW, "\\\\\\")):
            mask = c.deviation == direction
            if mask.any():
                self._keep(ax.add_collection(PolyCollection(
                    deviation_polygons(days, c.actual, c.scheduled, mask), facecolors=colour,
                    alpha=0.5, hatch=hatch, edgecolors=colour, linewidths=0, zorder=1.5,
                    label="above schedule" if direction > 0 else "below schedule"),
                    autolim=False))
        # A lone observed day between missing days has no step to draw: give it a mark.
        observed = np.isfinite(c.actual)
        before = np.concatenate(([False], observed[:-1]))
        after = np.concatenate((observed[1:], [False]))
        lone = observed & ~before & ~after
        if lone.any():
            self._keep(ax.plot(days[lone], c.actual[lone], ls="none", marker="_", ms=9,
                               mew=2.0, color=ACTUAL, zorder=3, label="_lone day")[0])
        finite = c.actual[np.isfinite(c.actual)]
        candidates = [baseline, float(c.scheduled.max()) if days.size else baseline]
        if finite.size:  # a pulse must not flatten the rest: scale to the regular doses
            candidates.append(float(np.percentile(finite, 98)))
        top = max(candidates) * 1.5 + 1
        pulses = [d for d in rec.valid_doses if d.frequency == "ONCE"
                  and rec.day1_date <= d.start_date <= analysis.series.as_of]
        for p in pulses:
            day = study_day(p.start_date, rec.day1_date)
            total = _value(c.actual, day - 1) if 1 <= day <= days.size else None
            off_scale = total is not None and total > top
            words = f"{p.drug} {p.dose_mg} mg {p.route}"
            if off_scale:
                words += f"\nday {day}: {total:g} mg PEQ (off scale)"
            marker = ax.plot([day], [top * 0.95], marker="v", ms=8, color=PULSE, ls="none",
                             zorder=6)[0]
            self._keep(marker)
            leftward = day >= 0.5 * right  # late in the course: the words go to the left
            self._label(ax.annotate(words, (day, top * 0.95), xytext=(-6 if leftward else 6, 0),
                                    textcoords="offset points", fontsize=7, color=TEXT_PULSE,
                                    va="top", ha="right" if leftward else "left", zorder=6),
                        marker)
        for n, a in enumerate(rec.amendments):
            right_half = a.day > 0.6 * right
            # One line in the headroom above the doses; the Schedule tab has the full reason.
            words = textwrap.shorten(f"amended from day {a.day}: {a.dose_mg} mg/day, {a.reason}",
                                     64, placeholder="…")
            self._keep(ax.axvline(a.day, color=AMENDMENT, lw=1.5, ls=":", zorder=2))
            for other in (self.ax_reduction, self.ax_cumulative):
                self._keep(other.axvline(a.day, color=AMENDMENT, lw=1, ls=":", zorder=2))
            self._label(ax.annotate(
                words, (a.day, top * (0.78 - 0.09 * (n % 2))), xytext=(-5 if right_half else 5, 0),
                textcoords="offset points", fontsize=7, color=TEXT_AMENDMENT, va="top",
                ha="right" if right_half else "left", zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8}))
        return top

    def _draw_reduction(self, analysis: PatientAnalysis, settings: FigureSettings,
                        days: np.ndarray) -> None:
        c, ax = analysis.curves, self.ax_reduction
        self.daily_reduction.set_data(days, c.reduction_pct)
        self.window_reduction.set_data(days, c.window_reduction_pct)
        target_pct = float(settings.target_reduction_pct)
        self.target_line.set_ydata([target_pct, target_pct])
        self.target_day_line.set_xdata([settings.target_day, settings.target_day])
        t = analysis.figures.target
        status = t.status.replace("_", " ")
        so_far = "-" if t.window_reduction_pct is None else f"{t.window_reduction_pct:.1f} %"
        if t.status == "discontinued":
            words = (f"target ≥ {target_pct:g} % by day {t.day}\ndiscontinued on day "
                     f"{analysis.figures.as_of_day}")
        elif t.status == "pending":
            words = (f"target ≥ {target_pct:g} % by day {t.day}\npending: 28-day "
                     f"{so_far} on day {analysis.figures.as_of_day}")
        else:
            words = f"target ≥ {target_pct:g} % by day {t.day}\nday {t.day}: {status} ({so_far})"
            if t.window_reduction_pct is not None:
                self._keep(ax.plot([t.day], [t.window_reduction_pct], marker="D", ms=6,
                                   color=TARGET, mec="black", ls="none", zorder=6)[0])
        early = settings.target_day < 0.5 * max(float(days[-1]) if days.size else 1.0,
                                                settings.target_day)
        self._label(ax.annotate(words, (settings.target_day, target_pct),
                               xytext=(5 if early else -5, -5), textcoords="offset points",
                               ha="left" if early else "right", va="top", fontsize=7,
                               color=TEXT_TARGET, zorder=6,
                               bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                     "alpha": 0.8}))
        finite = np.concatenate([c.reduction_pct[np.isfinite(c.reduction_pct)],
                                 c.window_reduction_pct[np.isfinite(c.window_reduction_pct)]])
        lowest = float(finite.min()) if finite.size else 0.0
        low = max(min(-10.0, lowest - 5), REDUCTION_FLOOR - 5)
        ax.set_ylim(low, 108)
        if lowest < low:
            day = int(np.nanargmin(np.fmin(c.reduction_pct, c.window_reduction_pct))) + 1
            late = day > 0.5 * float(days[-1])
            self._label(ax.annotate(f"off scale: {lowest:.0f} % (day {day})", (day, low),
                                    xytext=(-4 if late else 4, 3), textcoords="offset points",
                                    fontsize=7, color=ACTUAL, va="bottom",
                                    ha="right" if late else "left", zorder=6))

    def _draw_cumulative(self, analysis: PatientAnalysis, days: np.ndarray,
                         baseline: float) -> None:
        c, ax = analysis.curves, self.ax_cumulative
        baseline_cum = c.baseline_cumulative  # spared = its last value - the cumulative's
        self.cumulative.set_data(days, c.cumulative)
        self.scheduled_cumulative.set_data(days, c.scheduled_cumulative)
        self.baseline_cumulative.set_data(days, baseline_cum)
        if days.size:
            self._keep(ax.fill_between(days, c.cumulative, baseline_cum,
                                       where=baseline_cum >= c.cumulative, facecolor=TARGET,
                                       interpolate=True, alpha=0.18, lw=0,
                                       label="steroid spared"))
            spared = analysis.figures.spared_mg
            words = (f"steroid spared (shaded): {spared:,.1f} mg by day {int(days[-1])}"
                     if spared >= 0 else f"no steroid spared: {-spared:,.1f} mg more than "
                     "the baseline continued")
            # In the lower right corner, which the rising lines leave empty.
            self._keep(ax.text(0.99, 0.05, words, transform=ax.transAxes, ha="right",
                               va="bottom", fontsize=8, fontweight="bold", zorder=6,
                               color=TEXT_TARGET if spared >= 0 else TEXT_PULSE))
            high = max(float(baseline_cum[-1]), float(np.nanmax(c.cumulative)),
                       float(c.scheduled_cumulative[-1]))
        else:
            high = baseline
        ax.set_ylim(0, high * 1.08 + 1)


def _fit(annotation: Annotation, axes: Bbox, legend: Bbox | None, placed: list[Bbox],
         renderer: Any, to_points: float, marks: Sequence[Bbox] = ()) -> Bbox:
    """Shift ``annotation``'s words (display pixels) inside ``axes``, off ``legend`` and,
    where there is room, off the ``marks`` drawn as points and the words ``placed`` before
    (in that order of need); returns where they ended."""
    c = CLEARANCE_PX

    def shift(dx: float, dy: float) -> None:
        ox, oy = annotation.xyann
        annotation.xyann = (ox + dx * to_points, oy + dy * to_points)

    def inside(b: Bbox) -> bool:
        return (b.x0 >= axes.x0 + c and b.x1 <= axes.x1 - c and b.y0 >= axes.y0 + c
                and b.y1 <= axes.y1 - c)

    box = annotation.get_window_extent(renderer)
    dx = min(0.0, axes.x1 - c - box.x1) or max(0.0, axes.x0 + c - box.x0)
    dy = min(0.0, axes.y1 - c - box.y1) or max(0.0, axes.y0 + c - box.y0)
    if dx or dy:
        shift(dx, dy)
        box = box.translated(dx, dy)
    hard = [legend] if legend is not None else []
    points = list(marks)
    soft = [Bbox.from_extents(p.x0 - c, p.y0 - c, p.x1 + c, p.y1 + c) for p in placed]
    if not any(box.overlaps(o) for o in hard + points + soft):
        return box
    moves = [(0.0, 0.0)]
    for o in hard + points + soft:
        # half a pixel past the edge: Bbox.overlaps counts boxes that touch
        moves += [(0.0, o.y0 - box.y1 - 0.5), (0.0, o.y1 - box.y0 + 0.5),
                  (o.x0 - box.x1 - 0.5, 0.0), (o.x1 - box.x0 + 0.5, 0.0)]
    moves.sort(key=lambda m: abs(m[0]) + abs(m[1]))
    # off everything if there is room, else off the legend and the marks, else the legend
    for obstacles in (hard + points + soft, hard + points, hard):
        for mx, my in moves:
            moved = box.translated(mx, my)
            if inside(moved) and not any(moved.overlaps(o) for o in obstacles):
                shift(mx, my)
                return moved
    return box  # no room anywhere (a tiny window): leave the words where they are


def taper_figure(analysis: PatientAnalysis, settings: FigureSettings,
                 figure: Figure | None = None) -> tuple[Figure, ChartArtists]:
    """Three panels sharing the study-day axis: dose, % reduction, cumulative dose."""
    chart = TaperChart(figure)
    artists = chart.draw(analysis, settings)
    chart.keep_clear_for_file()
    return chart.figure, artists


def dashboard_figure(analyses: Sequence[PatientAnalysis], settings: FigureSettings,
                     figure: Figure | None = None) -> Figure:
    """Every patient's 28-day window % reduction by study day; the median bold. Blinded."""
    fig = figure if figure is not None else Figure(figsize=(10, 5), layout="constrained")
    fig.clear()
    ax = fig.subplots()
    for i, a in enumerate(analyses):
        ax.plot(a.curves.study_days, a.curves.window_reduction_pct, color=ACTUAL, lw=0.7,
                alpha=0.35, label="each patient" if i == 0 else "_patient")
    median = median_window_reduction([a.curves for a in analyses])
    longest = median.size
    if longest:
        ax.plot(np.arange(1, longest + 1), median, color="black", lw=2.8,
                label=f"median (days with {MEDIAN_MIN_PATIENTS}+ patients)")
    target_pct = float(settings.target_reduction_pct)
    ax.axhline(target_pct, color=TARGET, ls="-.", lw=1.4,
               label=f"target ≥ {target_pct:g} % by day {settings.target_day}")
    ax.axvline(settings.target_day, color=TARGET, ls=":", lw=1.2)
    ax.axhline(0, color=BASELINE, lw=0.8)
    ax.set_ylim(-50, 105)
    ax.set_xlim(0.5, max(longest, settings.target_day) + 0.5)
    ax.set_xlabel("study day")
    ax.set_ylabel("28-day window % reduction")
    ax.set_title(f"% reduction from baseline, {len(analyses)} patients (below -50 %: off "
                 "scale)", fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig
