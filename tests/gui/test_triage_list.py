"""The patient list as a triage list, driven by the keyboard: today's state first, every
flag shown, the target in its own column, and a filter for each flag."""

from __future__ import annotations

from datetime import timedelta

from taper_app.services.signatures import sign_record
from taper_app.ui.models import PatientTableModel as P
from taper_app.ui.qt import Qt
from tests.conftest import PASSWORD, TODAY, context

from .conftest import dose, enroll

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier
LONG_AGO = TODAY - timedelta(days=199)  # Day 200: past the target day


def column(window, col):
    proxy = window.patients_proxy
    return [proxy.index(r, col).data() for r in range(proxy.rowCount())]


def subjects(window):
    return column(window, P.SUBJECT)


def _study(db, study):
    nurse = context(db, "nurse")
    # 101-001 met the target long ago, is on a pulse today and has a gap of 24 days.
    enroll(nurse, study, "101-001", LONG_AGO)
    dose(nurse, study, "101-001", "20", LONG_AGO, LONG_AGO + timedelta(days=27))
    dose(nurse, study, "101-001", "5", LONG_AGO + timedelta(days=28), TODAY - timedelta(days=30))
    dose(nurse, study, "101-001", "5", TODAY - timedelta(days=5))
    dose(nurse, study, "101-001", "500", TODAY, drug="methylprednisolone", frequency="ONCE")
    # 101-002 follows the baseline every day (the schedule holds it until Day 29), signed.
    day1 = TODAY - timedelta(days=20)
    enroll(nurse, study, "101-002", day1)
    dose(nurse, study, "101-002", "20", day1)
    sign_record(context(db, "investigator"), "101-002", TODAY, "reviewed", PASSWORD)
    # 101-003: nothing entered yet.
    enroll(nurse, study, "101-003", day1)
    # 102-001: no gap, below the schedule today, not signed.
    enroll(nurse, study, "102-001", day1, site="102")
    dose(nurse, study, "102-001", "20", day1, TODAY - timedelta(days=1))
    dose(nurse, study, "102-001", "10", TODAY, TODAY)


def test_today_comes_first_and_the_target_has_its_own_column(open_window, db, study):
    _study(db, study)
    window = open_window("nurse")
    assert subjects(window) == ["101-001", "101-002", "101-003", "102-001"]
    assert column(window, P.STATUS) == ["above · missing · pulse · no reason · to sign",
                                        "on schedule", "missing · to sign",
                                        "below · no reason · to sign"]
    assert column(window, P.TARGET) == ["met", "pending", "pending", "pending"]
    assert column(window, P.MISSING) == ["24", "0", "21", "0"]
    assert column(window, P.LAST_ENTRY) == ["2026-07-02", "2026-07-02", "–", "2026-07-02"]
    assert column(window, P.SIGNATURE) == ["never signed", "signed", "never signed",
                                           "never signed"]
    tip = window.patients_proxy.index(0, P.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert "• missing days (24)" in tip and "Target at Day 183: met" in tip
    assert window.detail.badge.text().strip() == (
        "above · missing · pulse · no reason · to sign")


def test_typing_a_flag_finds_every_patient_with_it(open_window, db, study, keyboard):
    _study(db, study)
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_F, CTRL)
    keyboard.type("missing")
    assert subjects(window) == ["101-001", "101-003"]
    assert window.count_label.text() == "2 of 4 patients"
    keyboard.replace("pulse")
    assert subjects(window) == ["101-001"]
    keyboard.replace("target met")
    assert subjects(window) == ["101-001"]
    keyboard.replace("to sign")
    assert subjects(window) == ["101-001", "101-003", "102-001"]
    keyboard.press(Qt.Key.Key_Escape)
    assert window.count_label.text() == "4 patients"


def test_the_show_filter_is_chosen_with_the_keyboard(open_window, db, study, keyboard):
    _study(db, study)
    window = open_window("investigator")
    keyboard.shortcut(Qt.Key.Key_W, ALT)
    assert keyboard.focus is window.show_filter
    seen = {}
    for _ in range(window.show_filter.count() - 1):
        keyboard.press(Qt.Key.Key_Down)
        seen[window.show_filter.currentText()] = subjects(window)
    assert seen["Needs attention"] == ["101-001", "101-003", "102-001"]
    assert seen["Above the schedule today"] == ["101-001"]
    assert seen["Below the schedule today"] == ["102-001"]
    assert seen["Missing days"] == ["101-001", "101-003"]
    assert seen["A pulse today"] == ["101-001"]
    assert seen["Deviation without a reason"] == ["101-001", "102-001"]
    assert seen["Needs signature"] == ["101-001", "101-003", "102-001"]
    assert seen["Target met"] == ["101-001"]
    assert seen["Target pending"] == ["101-002", "101-003", "102-001"]
    # Both filters at once: the text narrows what the choice shows.
    window.show_only("signature")
    keyboard.shortcut(Qt.Key.Key_F, CTRL)
    keyboard.type("102")
    assert subjects(window) == ["102-001"]
    assert window.count_label.text() == "1 of 4 patients"


def test_the_triage_columns_show_without_scrolling_on_a_small_laptop(open_window, db, study,
                                                                     qtbot):
    _study(db, study)
    window = open_window("nurse")
    view = window.patient_view
    for width, height in ((1366, 768), (1280, 720)):
        window.resize(width, height)
        window._fit_list_pane()
        qtbot.waitUntil(lambda w=width: window.width() == w, timeout=2000)
        right = view.columnViewportPosition(P.TARGET) + view.columnWidth(P.TARGET)
        assert view.horizontalScrollBar().value() == 0
        assert right <= view.viewport().width(), (width, right, view.viewport().width())
