"""The Charts tab: the chart follows the selected patient, plots the engine's numbers, reads
them out under the mouse, and exports valid PNG and SVG files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from taper_app.services.figures import analyse_patient
from taper_app.services.patients import amend_patient_schedule
from taper_app.ui.qt import QFileDialog, QLineEdit, Qt
from taper_app.ui.taper_view import HOVER_HINT, TaperView
from tests.conftest import TODAY
from tests.unit.reports.test_taper_chart import gap_band_days

from .conftest import DAY1, dose, enroll

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def two_patients(nurse, investigator, study, patient):
    """101-001 (the conftest patient, no gaps) and 102-001: a gap of Days 20-24, a pulse
    on Day 40 and an amendment from Day 40 for a flare."""
    enroll(nurse, study, "102-001", DAY1, baseline="15", site="102")
    dose(nurse, study, "102-001", "15", DAY1, DAY1 + timedelta(days=18))
    dose(nurse, study, "102-001", "15", DAY1 + timedelta(days=24))
    dose(nurse, study, "102-001", "500", DAY1 + timedelta(days=39), drug="methylprednisolone",
         frequency="ONCE")
    amend_patient_schedule(investigator, study, "102-001",
                           {"day": "40", "dose_mg": "15", "reason": "flare on two visits"})
    return ["101-001", "102-001"]


def charts_of(window) -> TaperView:
    return window.detail.charts


def click_tab(qtbot, window, index: int) -> None:
    bar = window.detail.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())


def show_charts(window, qtbot) -> TaperView:
    view = charts_of(window)
    click_tab(qtbot, window, window.detail.tabs.indexOf(view))
    assert window.detail.tabs.currentWidget() is view
    return view


def assert_plots_the_engine(view: TaperView, db, study, subject: str) -> None:
    """The lines on screen are the services' curves for this patient as of today."""
    expected = analyse_patient(db, study, subject, TODAY)
    art = view.chart.artists
    for line, values in ((art.actual, expected.curves.actual),
                         (art.scheduled, expected.curves.scheduled),
                         (art.daily_reduction, expected.curves.reduction_pct),
                         (art.window_reduction, expected.curves.window_reduction_pct),
                         (art.cumulative, expected.curves.cumulative),
                         (art.scheduled_cumulative, expected.curves.scheduled_cumulative)):
        np.testing.assert_array_equal(np.asarray(line.get_xdata(), float),
                                      expected.curves.study_days)
        np.testing.assert_allclose(np.asarray(line.get_ydata(), float), values,
                                   equal_nan=True)
    day1 = expected.record.day1_date
    for ax in (view.chart.ax_dose, view.chart.ax_reduction, view.chart.ax_cumulative):
        assert gap_band_days(ax) == [((first - day1).days + 1, (last - day1).days + 1)
                                     for first, last in expected.gaps]


def test_selecting_a_patient_redraws_the_chart_with_that_patients_numbers(
        open_window, qtbot, two_patients, db, study):
    window = open_window("investigator")
    view = show_charts(window, qtbot)
    assert window.current_subject() == "101-001"
    assert view.is_current()
    assert_plots_the_engine(view, db, study, "101-001")
    assert not view.chart.ax_dose.patches  # no missing days
    view.canvas.draw()
    before = [s.reused for s in view.chart.legends]
    view.canvas.draw()  # the legends put back from their pixels (public blitting API)
    assert [s.reused for s in view.chart.legends] == [n + 1 for n in before]

    window.select_subject("102-001")
    assert view.is_current() and view.analysis.record.subject_id == "102-001"
    assert_plots_the_engine(view, db, study, "102-001")
    x, y = view.chart.artists.actual.get_xdata(), view.chart.artists.actual.get_ydata()
    gap = (np.asarray(x) >= 20) & (np.asarray(x) <= 24)
    assert np.isnan(np.asarray(y, float)[gap]).all()  # missing days are gaps, never zero
    texts = " ".join(t.get_text() for t in view.chart.ax_dose.texts)
    assert "flare on two visits" in texts and "methylprednisolone 500 mg PO" in texts


def test_the_chart_is_drawn_only_when_its_tab_is_shown(open_window, qtbot, two_patients):
    window = open_window("nurse")
    view = charts_of(window)
    assert window.detail.tabs.currentWidget() is not view
    assert not view.is_current()  # given the patient, not drawn behind the Doses tab
    assert view._chart is None and not view.figure.axes  # not even made: not at start-up
    window.select_subject("102-001")
    assert view.analysis.record.subject_id == "102-001" and not view.is_current()
    show_charts(window, qtbot)
    assert view.is_current() and len(view.figure.axes) == 3  # the three panels
    assert list(view.chart.artists.actual.get_xdata())[-1] == 60
    # the figures grid gives its height to the chart, and comes back on the other tabs
    assert not window.detail.figures_box.isVisible()
    click_tab(qtbot, window, 0)
    assert window.detail.figures_box.isVisible()


def hover(view: TaperView, day: float, mg: float) -> None:
    x, y = view.chart.ax_dose.transData.transform((day, mg))
    view.canvas.callbacks.process("motion_notify_event",
                                  MouseEvent("motion_notify_event", view.canvas, x, y))


def test_hovering_reads_out_the_days_figures(open_window, qtbot, two_patients):
    window = open_window("nurse")
    window.select_subject("102-001")
    view = show_charts(window, qtbot)
    view.canvas.draw()  # the transforms hold once the figure has been drawn at its size
    hover(view, 10.2, 15)
    assert view.readout.text() == (f"Day 10 · {(DAY1 + timedelta(days=9)).isoformat()} · "
                                   "actual 15 mg · sched. 15 mg · red. 0.0 % · 28-day –")
    hover(view, 22, 5)
    assert "actual missing · sched. 15 mg · red. – · 28-day" in view.readout.text()
    hover(view, 40, 5)  # the pulse day: 625 mg PEQ on top of 15
    assert "actual 640 mg" in view.readout.text() and "red. -4166.7 %" in view.readout.text()
    hover(view, 150, 5)  # the days ahead have no figures yet
    assert view.readout.text() == HOVER_HINT


def answer_file_dialog(dialogs, path) -> None:
    dialog = dialogs.last(QFileDialog)
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    dialog.setDirectory(str(path.parent))
    name = dialog.findChild(QLineEdit, "fileNameEdit")  # where a user types the name
    name.setText(path.name)
    assert dialog.selectedFiles() == [str(path)]
    dialog.accept()


def test_export_writes_a_valid_png(open_window, qtbot, two_patients, dialogs, tmp_path):
    window = open_window("nurse")
    view = show_charts(window, qtbot)
    view.export_actions["png"].trigger()
    assert dialogs.last(QFileDialog).selectedFiles()[0].endswith(
        f"taper-101-001-{TODAY.isoformat()}.png")
    answer_file_dialog(dialogs, tmp_path / "chart.png")
    data = (tmp_path / "chart.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    w_in, h_in = view.figure.get_size_inches()
    assert abs(width - w_in * 150) <= 1 and abs(height - h_in * 150) <= 1  # at 150 dpi


def test_export_writes_a_valid_svg_with_the_title(open_window, qtbot, two_patients,
                                                  dialogs, tmp_path):
    window = open_window("nurse")
    window.select_subject("102-001")
    view = show_charts(window, qtbot)
    view.export_actions["svg"].trigger()
    answer_file_dialog(dialogs, tmp_path / "chart.svg")
    root = ET.parse(tmp_path / "chart.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width", "").endswith("pt") and root.get("height", "").endswith("pt")
    # matplotlib writes each text as a comment beside its glyphs: the title is there
    text = (tmp_path / "chart.svg").read_text(encoding="utf-8")
    assert "102-001 (site 102)" in text
    assert not view.chart.title.get_visible()  # on screen the pane's header says who


def test_an_export_that_cannot_be_written_says_so(open_window, qtbot, two_patients,
                                                  message_log, tmp_path):
    window = open_window("nurse")
    view = show_charts(window, qtbot)
    assert not view.save_chart(tmp_path / "no-such-folder" / "chart.png", "png")
    [message] = message_log.take("error")
    assert message.title == "The chart could not be saved"
