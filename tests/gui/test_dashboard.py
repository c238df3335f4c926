"""The study dashboard: opened with Ctrl+D, its numbers are ``summary --json``'s for the same
as-of date, its tables pass the model tester and sort by value, and it follows the list."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pytest

from taper_app import cli
from taper_app.services.cohort import attainment, completeness
from taper_app.services.figures import analyse_all, summary
from taper_app.ui.dashboard import PatientFiguresModel, StudyDashboard
from taper_app.ui.models import ROW_ROLE, SORT_ROLE
from taper_app.ui.qt import Qt
from tests.conftest import TODAY

from .conftest import DAY1, activate, dose, enroll

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def study_of_four(nurse, study):
    """Four patients at two sites: one met at Day 183, one with a gap, two pending."""
    long_ago = TODAY - timedelta(days=199)  # Day 200 today
    enroll(nurse, study, "101-001", long_ago, baseline="20")
    dose(nurse, study, "101-001", "8", long_ago)  # 60 % reduction all along: met
    enroll(nurse, study, "101-002", DAY1, baseline="10")
    dose(nurse, study, "101-002", "10", DAY1, DAY1 + timedelta(days=9))
    dose(nurse, study, "101-002", "9", DAY1 + timedelta(days=15))  # Days 11-15 missing
    enroll(nurse, study, "102-001", DAY1, baseline="15", site="102")
    dose(nurse, study, "102-001", "15", DAY1)
    enroll(nurse, study, "102-002", DAY1, baseline="7.5", site="102", template="table-12wk")
    dose(nurse, study, "102-002", "7.5", DAY1)


def open_dashboard(qtbot, window, keyboard) -> StudyDashboard:
    keyboard.shortcut(Qt.Key.Key_D, CTRL)
    dashboard = window.dashboard
    assert dashboard is not None
    qtbot.waitExposed(dashboard)
    return dashboard


def summary_json(db, as_of) -> list[dict]:
    out = io.StringIO()
    status = cli.run(["summary", "--json", "--db", str(db.path), "--as-of", as_of.isoformat()],
                     out=out, err=io.StringIO())
    assert status == 0
    return json.loads(out.getvalue())


def test_ctrl_d_opens_the_dashboard_with_the_numbers_of_summary_json(
        qtbot, open_window, keyboard, study_of_four, db, study):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    assert dashboard.isWindow() and dashboard.isVisible()
    printed = summary_json(db, TODAY)
    assert [s["subject_id"] for s in printed] == ["101-001", "101-002", "102-001", "102-002"]
    assert dashboard.summaries() == printed == summary(db, study, TODAY)
    model = dashboard.figures_model
    assert [model.index(r, 0).data(ROW_ROLE) for r in range(model.rowCount())] == printed
    # what the cells say is those numbers, as shown
    columns = {title: i for i, (title, *_rest) in enumerate(
        h for h in PatientFiguresModel.HEADERS)}
    first = [model.index(0, c).data() for c in range(model.columnCount())]
    assert first[columns["Subject"]] == "101-001"
    assert first[columns["Day"]] == "200"
    assert first[columns["Dose"]] == "8"
    assert first[columns["28-day %"]] == "60.0"
    assert first[columns["Spared mg"]] == f"{printed[0]['spared_mg']:,.3f}".rstrip("0").rstrip(".")
    assert first[columns["Target"]] == "met (60.0 %)"
    assert model.index(1, columns["Missing"]).data() == "5"


def test_target_attainment_and_completeness_per_site_are_the_study_reports(
        qtbot, open_window, keyboard, study_of_four, db, study):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    printed = summary_json(db, TODAY)
    a = dashboard.attainment_model
    assert a.rows() == attainment(printed)  # the study PDF's own table
    cells = [[a.index(r, c).data() for c in range(a.columnCount())] for r in range(a.rowCount())]
    assert cells == [
        ["All sites", "4", "1 / 1 (100.0 %)", "1 (25.0 %)", "0 (0.0 %)", "0 (0.0 %)",
         "3 (75.0 %)", "0 (0.0 %)"],
        ["Site 101", "2", "1 / 1 (100.0 %)", "1 (50.0 %)", "0 (0.0 %)", "0 (0.0 %)",
         "1 (50.0 %)", "0 (0.0 %)"],
        ["Site 102", "2", "0 / 0 (– %)", "0 (0.0 %)", "0 (0.0 %)", "0 (0.0 %)",
         "2 (100.0 %)", "0 (0.0 %)"],
    ]
    c = dashboard.completeness_model
    assert c.rows() == completeness(printed)
    site_101 = [c.index(1, col).data() for col in range(c.columnCount())]
    assert site_101 == ["Site 101", "2", "255", "5", "98.1", "1"]  # 200 + 55 observed


def test_the_chart_draws_every_patient_and_the_median(qtbot, open_window, keyboard,
                                                      study_of_four, db, study):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    [ax] = dashboard.figure.axes
    analyses = analyse_all(db, study, TODAY)
    patients = [line for line in ax.lines if line.get_label() in ("each patient", "_patient")]
    assert len(patients) == len(analyses) == 4
    for line, analysis in zip(patients, analyses, strict=True):
        np.testing.assert_allclose(np.asarray(line.get_ydata(), float),
                                   analysis.curves.window_reduction_pct, equal_nan=True)
    [median] = [line for line in ax.lines if line.get_label().startswith("median")]
    y = np.asarray(median.get_ydata(), float)
    day30 = [a.curves.window_reduction_pct[29] for a in analyses]
    assert y[29] == pytest.approx(float(np.median(day30)))
    assert np.isnan(y[70])  # only one patient reaches Day 71: no median there


def test_the_tables_pass_the_model_tester(qtmodeltester, qtbot, open_window, keyboard,
                                          study_of_four):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    for model in (dashboard.attainment_model, dashboard.completeness_model,
                  dashboard.figures_model):
        qtmodeltester.check(model, force_py=False)
        qtmodeltester.check(model, force_py=True)
    for view in (dashboard.attainment_view, dashboard.completeness_view,
                 dashboard.figures_view):
        qtmodeltester.check(view.model(), force_py=False)


def test_the_patient_table_sorts_by_value(qtbot, open_window, keyboard, study_of_four):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    view = dashboard.figures_view
    spared = next(i for i, h in enumerate(PatientFiguresModel.HEADERS) if h[0] == "Spared mg")
    view.sortByColumn(spared, Qt.SortOrder.DescendingOrder)
    proxy = view.model()
    values = [proxy.index(r, spared).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert values == sorted(values, reverse=True)
    assert isinstance(values[0], float) and values[0] > 1000  # 101-001: 12 mg/day x 200 days
    baseline = next(i for i, h in enumerate(PatientFiguresModel.HEADERS) if h[0] == "Baseline")
    view.sortByColumn(baseline, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, baseline).data() for r in range(4)] == ["7.5", "10", "15", "20"]


def test_double_clicking_a_patient_shows_them_in_the_main_window(
        qtbot, open_window, keyboard, study_of_four):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    view = dashboard.figures_view
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    index = view.model().index(0, 3)
    assert index.data(ROW_ROLE)["subject_id"] == "102-002"
    rect = view.visualRect(index)
    # A press before the double-click, as a real double-click starts with one.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_subject() == "102-002"


def test_the_dashboard_follows_a_reload_of_the_list(qtbot, open_window, keyboard,
                                                    study_of_four, nurse, study, db):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    enroll(nurse, study, "103-001", DAY1, baseline="20", site="103")
    dose(nurse, study, "103-001", "20", DAY1)
    window.refresh()  # F5
    assert [s["subject_id"] for s in dashboard.summaries()][-1] == "103-001"
    assert dashboard.summaries() == summary_json(db, TODAY)
    assert [a.group for a in dashboard.attainment_model.rows()] == [
        "All sites", "Site 101", "Site 102", "Site 103"]
    assert len([line for line in dashboard.figure.axes[0].lines
                if line.get_label() in ("each patient", "_patient")]) == 5
    dashboard.close()
    enroll(nurse, study, "103-002", DAY1, baseline="20", site="103")
    window.refresh()  # while it is closed: not redrawn until it shows again
    assert len(dashboard.summaries()) == 6 and dashboard.figures_model.rowCount() == 5
    activate(qtbot, window)
    keyboard.shortcut(Qt.Key.Key_D, CTRL)  # again: the same window, brought up to date
    assert window.dashboard is dashboard and dashboard.isVisible()
    assert dashboard.figures_model.rowCount() == 6


def test_nothing_on_the_dashboard_speaks_of_an_arm(qtbot, open_window, keyboard,
                                                   study_of_four):
    window = open_window("investigator")
    dashboard = open_dashboard(qtbot, window, keyboard)
    words = [dashboard.windowTitle(), dashboard.heading.text()]
    for model in (dashboard.attainment_model, dashboard.completeness_model,
                  dashboard.figures_model):
        words += [model.headerData(c, Qt.Orientation.Horizontal) for c in
                  range(model.columnCount())]
        words += [model.index(r, c).data() for r in range(model.rowCount())
                  for c in range(model.columnCount())]
    words += [t.get_text() for t in dashboard.figure.axes[0].get_legend().get_texts()]
    text = " ".join(words).casefold().replace("no treatment arm is stored or shown", "")
    assert "placebo" not in text and "arm" not in text.split()
    for row in dashboard.figures_model.rows():
        assert not {"arm", "treatment", "group"} & set(row)

