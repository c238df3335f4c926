"""Input as people write it: dates typed, picked from a calendar or given as T/Y, the
decimal comma, and an amendment from a date as well as a study day. Keyboard only."""

from __future__ import annotations

from datetime import date, timedelta

from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.inputs import DateField
from taper_app.ui.qt import QApplication, QCalendarWidget, Qt
from taper_app.ui.schedule_view import AmendDialog
from tests.conftest import TODAY

from .conftest import amendment_rows, dose_rows

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def _to_start_date(keyboard, form: DoseDialog) -> None:
    form.start_date.setFocus()
    assert keyboard.focus is form.start_date


def test_t_and_y_give_today_and_yesterday_and_up_down_move_a_day(
        open_window, patient, keyboard, dialogs):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    _to_start_date(keyboard, form)
    keyboard.replace("2026-05-01")
    keyboard.type("y")
    assert form.start_date.text() == (TODAY - timedelta(days=1)).isoformat()
    keyboard.type("t")
    assert form.start_date.text() == TODAY.isoformat()  # the study's today, not the clock's
    keyboard.press(Qt.Key.Key_Down)
    keyboard.press(Qt.Key.Key_Down)
    assert form.start_date.text() == (TODAY - timedelta(days=2)).isoformat()
    keyboard.press(Qt.Key.Key_Up)
    assert form.start_date.text() == (TODAY - timedelta(days=1)).isoformat()
    # Nothing is selected afterwards: the next digit typed does not wipe the date.
    assert not form.start_date.hasSelectedText()
    # Typing an ISO date works as it always did.
    keyboard.replace("2026-06-30")
    assert form.start_date.date() == date(2026, 6, 30)
    # The end date, empty while ongoing, takes T too.
    keyboard.tab()
    assert keyboard.focus is form.end_date
    keyboard.type("T")
    assert form.end_date.text() == TODAY.isoformat()
    form.discard()


def test_the_calendar_pop_up_picks_a_date_with_the_keyboard(
        open_window, patient, keyboard, dialogs, qtbot):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    _to_start_date(keyboard, form)
    keyboard.replace("2026-06-15")
    keyboard.press(Qt.Key.Key_Down, ALT)
    popup = form.start_date.popup
    assert popup is not None
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    calendar = popup.findChild(QCalendarWidget)
    qdate = calendar.selectedDate()
    assert (qdate.year(), qdate.month(), qdate.day()) == (2026, 6, 15)  # opens on the date
    # A week on, then a day back, then Enter: 2026-06-21.
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Left)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not popup.isVisible(), timeout=2000)
    assert form.start_date.text() == "2026-06-21"
    assert keyboard.focus is form.start_date
    assert form.isVisible()  # Enter in the pop-up picked the date; it did not save the form

    # Esc closes the pop-up and keeps the date as it was.
    keyboard.press(Qt.Key.Key_F4)
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not popup.isVisible(), timeout=2000)
    assert form.start_date.text() == "2026-06-21"
    assert form.isVisible()
    # Browsing the calendar is not typed input: Esc on the form still asks only because
    # the start date was changed.
    assert form.has_typed_input()
    form.discard()


def test_the_calendar_icon_opens_the_pop_up_with_the_mouse(
        open_window, patient, keyboard, dialogs, qtbot):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    field = form.start_date
    field.calendar_action.trigger()  # what a click on the field's calendar icon does
    popup = field.popup
    assert popup is not None
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    calendar = popup.findChild(QCalendarWidget)
    calendar.setSelectedDate(calendar.selectedDate().addDays(-3))
    calendar.clicked.emit(calendar.selectedDate())
    assert not popup.isVisible()
    assert field.text() == (TODAY - timedelta(days=3)).isoformat()
    form.discard()


def test_a_dose_typed_with_a_decimal_comma_is_recorded_exactly(
        open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    assert keyboard.focus is form.dose_mg
    keyboard.replace("7,5")
    assert "<b>7.5 mg/day</b>" in form.readout.text()
    form.deviation_reason.setFocus()
    keyboard.type("flare settled")
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(db)[-1].dose_ug == 7_500


def test_enrolling_takes_y_for_day_1(
        open_window, keyboard, dialogs, db):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL | Qt.KeyboardModifier.ShiftModifier)
    form = dialogs.last(EnrollDialog)
    assert isinstance(form.day1_date, DateField)
    form.day1_date.setFocus()
    keyboard.type("y")
    assert form.day1_date.text() == (TODAY - timedelta(days=1)).isoformat()
    assert form.fields()["day1_date"] == (TODAY - timedelta(days=1)).isoformat()
    form.discard()


def test_an_investigator_amends_from_the_flare_visit_date(
        open_window, patient, db, keyboard, dialogs, message_log):
    window = open_window("investigator")
    day1 = window.current_row().record.day1_date
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    assert form.day.text() == "60" and form.day_date.text() == TODAY.isoformat()
    keyboard.tab()
    assert keyboard.focus is form.day_date
    keyboard.replace("2026-06-27")
    assert form.day.text() == "55"  # both shown: the day follows the date
    keyboard.press(Qt.Key.Key_Down)  # a day earlier
    assert (form.day.text(), form.day_date.text()) == ("54", "2026-06-26")
    keyboard.tab()
    keyboard.type("20,5")
    keyboard.tab()
    keyboard.type("flare: CK up")
    message_log.answers.append(True)  # "Amend the schedule?" yes
    keyboard.enter()
    [asked] = message_log.take("question")
    assert "from Day 54 (2026-06-26)" in asked.text  # the question says both
    assert not form.isVisible()
    [amendment] = amendment_rows(db)
    assert (amendment.day, amendment.dose_ug) == (54, 20_500)
    assert day1 + timedelta(days=53) == date(2026, 6, 26)


def test_an_amendment_date_that_is_not_a_date_is_refused_at_its_field(
        open_window, patient, db, keyboard, dialogs):
    open_window("investigator")
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    keyboard.tab()
    keyboard.replace("2026-13-01")
    keyboard.tab()
    keyboard.type("20")
    keyboard.tab()
    keyboard.type("flare")
    keyboard.enter()
    assert form.isVisible()
    assert "YYYY-MM-DD" in form.errors.message("day_date")
    assert amendment_rows(db) == []
    form.discard()
