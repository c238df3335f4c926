"""Issue 18, charts: the marks' words stay inside their axes and off the legends, and the
legends stay in one place, in the window (real Qt canvas) and in the PDF's chart."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation, Text

from taper_app.reports.taper_chart import TaperChart, taper_figure
from taper_app.services.figures import analyse_patient
from taper_app.services.patients import amend_patient_schedule
from taper_app.ui.taper_view import TaperView
from tests.conftest import TODAY

from .conftest import dose, enroll


@pytest.fixture
def crowded(nurse, investigator, study, patient):
    """101-001 plus 101-002, on Day 200 (past the target day, so its last days are the
    chart's right edge): two amendments on Days 190 and 195 and a 1,000 mg pulse far above
    scale on Day 199, all under the dose legend's corner (upper right)."""
    day1 = TODAY - timedelta(days=199)
    enroll(nurse, study, "101-002", day1, baseline="20")
    dose(nurse, study, "101-002", "20", day1, day1 + timedelta(days=40))
    dose(nurse, study, "101-002", "25", day1 + timedelta(days=41))
    dose(nurse, study, "101-002", "1000", TODAY - timedelta(days=1), drug="methylprednisolone",
         frequency="ONCE")
    for day in ("190", "195"):
        amend_patient_schedule(investigator, study, "101-002",
                               {"day": day, "dose_mg": "20",
                                "reason": "flare at the visit, with a long reason to show"})
    return [analyse_patient(nurse.db, study, s, TODAY) for s in ("101-001", "101-002")]


def _texts(axes) -> list[Text]:
    """The texts drawn: visible, with words, and (a mark's) pointing inside the view."""
    def shown(t: Text) -> bool:
        if not (t.get_visible() and t.get_text()):
            return False
        if isinstance(t, Annotation):
            x, y = t.axes.transData.transform(t.xy)
            return t.axes.bbox.contains(x, y)
        return True
    return [t for ax in axes for t in ax.texts if shown(t)]


def _marks(ax) -> list:
    """The display boxes of the marks drawn as points (a pulse's triangle, the target's
    diamond) that are in view: markers without a line."""
    from matplotlib.transforms import Bbox

    boxes = []
    for line in ax.lines:
        if not line.get_visible() or line.get_marker() in (None, "None", "", " ") \
                or line.get_linestyle() not in ("None", "none", "", " "):
            continue
        half = line.get_markersize() * ax.figure.dpi / 72 / 2
        for x, y in ax.transData.transform(np.column_stack(line.get_data())):
            if ax.bbox.contains(x, y):
                boxes.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    return boxes


def _assert_readable(axes, legend_of, renderer) -> int:
    """Every text of the three panels inside its axes, off every legend and off the marks
    drawn as points; how many."""
    checked = 0
    for text in _texts(axes):
        box, frame = text.get_window_extent(renderer), text.axes.bbox
        for mark in _marks(text.axes):
            assert not box.overlaps(mark), (text.get_text(), box, mark)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (text.get_text(), box, frame)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (text.get_text(), box, frame)
        for ax in axes:
            legend = legend_of(ax)
            assert legend is not None
            assert not box.overlaps(legend), (text.get_text(), box, legend)
        checked += 1
    for ax in axes:  # and, with room enough, off each other
        boxes = [t.get_window_extent(renderer) for t in _texts([ax])]
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:]), (ax, boxes)
    return checked


def _panels(chart: TaperChart):
    return (chart.ax_dose, chart.ax_reduction, chart.ax_cumulative)


def _legend_boxes(chart: TaperChart, renderer) -> list[tuple[float, ...]]:
    return [tuple(np.round(chart.legend_extent(ax, renderer).extents, 1))
            for ax in (chart.ax_dose, chart.ax_reduction, chart.ax_cumulative)]


@pytest.mark.parametrize("size", [(1366, 768), (1000, 520)])
def test_in_the_window_words_stay_inside_the_axes_and_off_the_legends(qtbot, study, crowded,
                                                                       size):
    view = TaperView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    settings = study.protocol.settings
    boxes = []
    for analysis in [*crowded, crowded[0], crowded[1]]:  # patient switches
        view.show_analysis(analysis, settings)
        view.canvas.draw()
        renderer = view.canvas.get_renderer()
        words = [t.get_text() for t in _texts(_panels(view.chart))]
        if analysis is crowded[1]:
            assert any("off scale" in w for w in words)
            assert sum("amended" in w for w in words) == 2
        assert _assert_readable(_panels(view.chart),
                                lambda ax, r=renderer: view.chart.legend_extent(ax, r),
                                renderer) >= 2
        boxes.append(_legend_boxes(view.chart, renderer))
    assert all(b == boxes[0] for b in boxes), boxes  # the legends never moved
    # a zoom (the toolbar sets the limits) keeps the legends where they were, and the
    # words (the pulse and both amendments still in view) off them and inside the axes
    for left, right in ((150, 201), (185, 200.5)):
        view.chart.ax_dose.set_xlim(left, right)
        view.canvas.draw()
        renderer = view.canvas.get_renderer()
        assert _legend_boxes(view.chart, renderer) == boxes[0]
        assert _assert_readable(_panels(view.chart),
                                lambda ax, r=renderer: view.chart.legend_extent(ax, r),
                                renderer) >= 3


def test_in_the_pdf_chart_words_stay_inside_the_axes_and_off_the_legends(study, crowded):
    for analysis in crowded:
        fig, _ = taper_figure(analysis, study.protocol.settings)
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        words = [t.get_text() for t in _texts(fig.axes[:3])]
        assert analysis is crowded[0] or any("off scale" in w for w in words)
        assert _assert_readable(fig.axes[:3],
                                lambda ax, r=renderer: ax.get_legend().get_window_extent(r),
                                renderer) >= 2


def test_the_pdf_chart_legends_sit_in_the_same_corner_for_every_patient(study, crowded):
    corners = []
    for analysis in crowded:
        fig, _ = taper_figure(analysis, study.protocol.settings)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        place = []
        for ax in fig.axes[:3]:
            box, frame = ax.get_legend().get_window_extent(canvas.get_renderer()), ax.bbox
            # which corner: the legend's nearer edges to the axes' edges
            place.append((abs(box.x0 - frame.x0) < abs(frame.x1 - box.x1),
                          abs(box.y0 - frame.y0) < abs(frame.y1 - box.y1)))
        corners.append(place)
    assert corners[0] == corners[1] == [(False, False), (False, True), (True, False)]


def test_in_the_main_window_at_1366x768_across_patient_switches(qtbot, open_window, crowded):
    """The real window at the laptop size: its Charts tab, switching between the patients."""
    from tests.gui.test_taper_view import show_charts

    window = open_window("nurse")
    window.resize(1366, 768)
    qtbot.waitExposed(window)
    view = show_charts(window, qtbot)
    boxes = []
    for subject in ("101-002", "101-001", "101-002"):
        assert window.select_subject(subject)
        qtbot.waitUntil(lambda s=subject: view.is_current()
                        and view.analysis.record.subject_id == s)
        view.canvas.draw()
        renderer = view.canvas.get_renderer()
        if subject == "101-002":
            words = [t.get_text() for t in _texts(_panels(view.chart))]
            assert any("off scale" in w for w in words)
        assert _assert_readable(_panels(view.chart),
                                lambda ax, r=renderer: view.chart.legend_extent(ax, r),
                                renderer) >= 2
        boxes.append(_legend_boxes(view.chart, renderer))
    assert boxes[0] == boxes[1] == boxes[2]


def test_the_patient_pdf_prints_the_moved_words_whole(db, study, crowded):
    """The PDF is drawn from the same figure: its words come back whole from the file."""
    import io

    from pypdf import PdfReader

    from taper_app.services.reporting import patient_report

    report = patient_report(db, study, "101-002", TODAY)
    text = " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(io.BytesIO(report.pdf)).pages)
    for words in ("methylprednisolone 1000 mg PO", "day 199: 1275 mg PEQ (off scale)",
                  "amended from day 190", "amended from day 195", "off scale: -6275 %"):
        assert words in text, words
