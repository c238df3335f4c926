"""The Charts tab: the patient's taper chart with pan/zoom, a hover read-out and export.

The chart itself is :class:`reports.taper_chart.TaperChart` (the PDF draws the same); this
widget only shows it. It keeps one Figure and redraws it in place, and only while it is
visible: switching patients with the Doses tab open costs nothing here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from matplotlib.backend_bases import LocationEvent
from matplotlib.figure import Figure

from ..domain.figures import FigureSettings
from ..reports.taper_chart import DayReadout, TaperChart, day_readout
from ..services.figures import PatientAnalysis
from . import messages
from .dialogs import DialogHost
from .formatting import DASH, iso, mg, pct
from .qt import (
    FigureCanvasQTAgg,
    NavigationToolbar2QT,
    QAction,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QShowEvent,
    QSizePolicy,
    Qt,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

HOVER_HINT = "Point at the chart to read a day's figures."
EXPORT_FORMATS = {"png": ("PNG image (*.png)", 150), "svg": ("SVG drawing (*.svg)", 72)}


class ChartToolbar(NavigationToolbar2QT):
    """Matplotlib's toolbar cut to navigation: saving goes through the view's own export."""

    toolitems: list[tuple[str, ...] | tuple[None, ...]] = [
        t for t in NavigationToolbar2QT.toolitems
        if t[0] in ("Home", "Back", "Forward", "Pan", "Zoom")]


def readout_text(r: DayReadout | None) -> str:
    """One short line of the engine's numbers for a day (figures already computed)."""
    if r is None:
        return HOVER_HINT
    actual = "missing" if r.actual_mg is None else f"{mg(round(r.actual_mg, 3))} mg"
    window = DASH if r.window_reduction_pct is None else f"{pct(r.window_reduction_pct)} %"
    daily = DASH if r.reduction_pct is None else f"{pct(r.reduction_pct)} %"
    return (f"Day {r.day} · {iso(r.date)} · actual {actual} · sched. "
            f"{mg(round(r.scheduled_mg, 3))} mg · red. {daily} · 28-day {window}")


class TaperView(QWidget):
    """Shows one patient's :class:`PatientAnalysis` as the three-panel taper chart."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taper_view")
        self.figure = Figure(figsize=(9, 5), dpi=100)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setObjectName("taper_canvas")
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumHeight(168)  # the window must still fit a small laptop
        self._chart: TaperChart | None = None  # made when first needed: see ``chart``
        self.toolbar = ChartToolbar(self.canvas, self, coordinates=False)
        self.toolbar.setObjectName("chart_toolbar")
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
        self.export_actions: dict[str, QAction] = {}
        # One "Export" button with both formats: the read-out beside it needs the width.
        self.export_menu = QMenu(self)
        for kind in EXPORT_FORMATS:
            action = QAction(f"Export {kind.upper()}…", self)
            action.setObjectName(f"export_{kind}")
            action.setToolTip(f"Save this chart as a {kind.upper()} file")
            action.triggered.connect(lambda _checked=False, k=kind: self.export(k))
            self.export_actions[kind] = action
            self.export_menu.addAction(action)
        self.export_button = QToolButton()
        self.export_button.setObjectName("export_button")
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save this chart as a PNG image or an SVG drawing")
        self.export_button.setMenu(self.export_menu)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.readout = QLabel(HOVER_HINT)
        self.readout.setObjectName("chart_readout")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setMinimumWidth(10)
        self.readout.setWordWrap(True)  # beside the toolbar on a small screen: two lines
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.toolbar)
        top.addWidget(self.readout, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)

        self.analysis: PatientAnalysis | None = None
        self.settings: FigureSettings | None = None
        self._drawn: PatientAnalysis | None = None
        self.canvas.mpl_connect("resize_event", self._fit_margins)
        self.canvas.mpl_connect("motion_notify_event", self._hover)
        self.canvas.mpl_connect("figure_leave_event", lambda _event: self._show_readout(None))
        self._update_enabled()

    @property
    def chart(self) -> TaperChart:
        """The three panels on the canvas, made the first time anything needs them.

        Making them is about 80 ms of matplotlib. The window opens on the Doses tab, so
        they are not made at start-up, before the patient list, but when the Charts tab
        first shows (or a chart is exported).
        """
        if self._chart is None:
            self._chart = TaperChart(self.figure, fixed_margins=True)
            self._chart.fit_margins()
        return self._chart

    def _fit_margins(self, _event: object = None) -> None:
        if self._chart is not None:  # a chart not made yet is fitted when it is
            self._chart.fit_margins()

    # ------------------------------------------------------------ showing a patient

    def show_analysis(self, analysis: PatientAnalysis | None, settings: FigureSettings) -> None:
        """Show ``analysis``; drawn now if the chart is on screen, else when it appears."""
        self.analysis, self.settings = analysis, settings
        self._update_enabled()
        if self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        if self.analysis is None or self.settings is None or self._drawn is self.analysis:
            return
        self.chart.draw(self.analysis, self.settings)
        self._drawn = self.analysis
        self.toolbar.update()  # a new patient: forget the old pan/zoom history
        self._show_readout(None)
        self.canvas.draw_idle()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.chart  # noqa: B018  (made now: the empty panels show before any patient)
        self.redraw()

    def is_current(self) -> bool:
        """Whether the chart on the canvas is the patient last given (tests, benchmarks)."""
        return self.analysis is not None and self._drawn is self.analysis

    def _update_enabled(self) -> None:
        for action in self.export_actions.values():
            action.setEnabled(self.analysis is not None)
        self.export_button.setEnabled(self.analysis is not None)

    # ------------------------------------------------------------ hover read-out

    def _hover(self, event: LocationEvent) -> None:
        if self.analysis is None or event.inaxes is None or event.xdata is None:
            self._show_readout(None)
            return
        self._show_readout(day_readout(self.analysis, float(event.xdata)))

    def _show_readout(self, readout: DayReadout | None) -> None:
        text = readout_text(readout)
        self.readout.setText(text)
        self.readout.setToolTip(text)

    # ------------------------------------------------------------ export

    def export(self, kind: str) -> None:
        """Ask where to save the chart (a dialog tests can answer), then write it."""
        if self.analysis is None:
            return
        name_filter, _dpi = EXPORT_FORMATS[kind]
        record = self.analysis.record
        dialog = QFileDialog(self, f"Export the chart as {kind.upper()}")
        dialog.setObjectName(f"export_{kind}_dialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setNameFilter(name_filter)
        dialog.setDefaultSuffix(kind)
        dialog.selectFile(f"taper-{record.subject_id}-{self.analysis.figures.as_of}.{kind}")
        dialog.fileSelected.connect(lambda path: self.save_chart(Path(path), kind))
        DialogHost.present(dialog)

    def save_chart(self, path: Path, kind: str) -> bool:
        """Write the chart as shown (patient, zoom) to ``path``; False after a message."""
        if self.analysis is None:
            return False
        self.redraw()  # a chart exported from a hidden tab is still the current patient's
        _filter, dpi = EXPORT_FORMATS[kind]
        self.chart.fit_margins(with_title=True)  # a file must say whose chart it is
        try:
            self.figure.savefig(path, format=kind, dpi=dpi, facecolor="white")
        except OSError as exc:
            self.chart.fit_margins()
            messages.error(self, "The chart could not be saved", f"{path}: {exc.strerror or exc}",
                           "Choose another folder or file name.")
            return False
        self.chart.fit_margins()
        self.canvas.draw_idle()
        log.info("chart of %s exported to %s", self.analysis.record.subject_id, path)
        return True
