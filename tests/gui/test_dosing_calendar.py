"""The dosing calendar in the window: Ctrl+P and Enter print it; a returned calendar comes
back in week by week with only the differences typed (real window, real study file)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from taper_app.services.patients import amend_patient_schedule
from taper_app.ui import calendar_dialog
from taper_app.ui.calendar_dialog import CalendarLinesModel, DosingCalendarDialog
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.qt import Qt
from taper_app.ui.returned_calendar import ReturnedCalendarDialog
from tests.conftest import TODAY, context
from tests.gui.conftest import DAY1, audit_rows, dose_rows

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Where the sheets are saved (a folder of the test's) and what was opened to print."""
    paths: list[Path] = []
    monkeypatch.setattr(calendar_dialog, "documents_folder", lambda: tmp_path)
    monkeypatch.setattr(DosingCalendarDialog, "open_document",
                        classmethod(lambda cls, path: paths.append(path) or True))
    return paths


def test_two_keystrokes_print_the_next_four_weeks(open_window, patient, keyboard, dialogs,
                                                   opened, db, tmp_path):
    window = open_window("nurse")
    assert window.current_subject() == patient
    keyboard.shortcut(Qt.Key.Key_P, CTRL)
    dialog = dialogs.last(DosingCalendarDialog)
    assert dialog.model.rowCount() == 28
    assert dialog.calendar.first_date == TODAY
    first = dialog.model.index(0, CalendarLinesModel.DOSE).data()
    assert first == "10.5 mg"  # Day 60 of stepdown-a from 20 mg
    keyboard.enter()
    (path,) = opened
    assert path == tmp_path / f"{patient}-dosing-calendar-{TODAY.isoformat()}.pdf"
    assert not dialog.isVisible()
    pages = PdfReader(path).pages
    assert all(patient in page.extract_text() for page in pages)
    (row,) = audit_rows(db, "print_calendar")
    assert row.username == "nurse" and row.new_value.startswith(
        f"{TODAY.isoformat()} to {(TODAY + timedelta(days=27)).isoformat()}, prednisone")
    assert "opened to print" in window.statusBar().currentMessage()


def test_doses_no_tablets_make_are_warned_about_before_printing(
        open_window, patient, keyboard, dialogs, opened, message_log, db, study):
    amend_patient_schedule(context(db, "investigator"), study, patient,
                           {"day": "61", "dose_mg": "7.3", "reason": "odd dose"})
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL)
    dialog = dialogs.last(DosingCalendarDialog)
    assert dialog.warning.isVisibleTo(dialog)
    assert "On 27 day(s) no prednisone tablets make the dose exactly" in dialog.warning.text()
    assert dialog.model.index(1, CalendarLinesModel.TABLETS).data() == "Ask your study nurse"
    message_log.answers.append(False)
    keyboard.enter()
    (question,) = message_log.take("question")
    assert "27 day(s)" in question.text
    assert opened == [] and audit_rows(db, "print_calendar") == []
    message_log.answers.append(True)
    keyboard.enter()
    assert len(message_log.take("question")) == 1
    assert len(opened) == 1 and len(audit_rows(db, "print_calendar")) == 1


def test_the_preview_follows_the_dates_weeks_and_drug(open_window, patient, keyboard, dialogs,
                                                      opened):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL)
    dialog = dialogs.last(DosingCalendarDialog)
    dialog.weeks.setCurrentIndex(1)
    assert dialog.model.rowCount() == 14
    dialog.first_date.setText("2026-13-01")
    assert dialog.problem.isVisibleTo(dialog) and not dialog.print_button.isEnabled()
    dialog.first_date.setText((DAY1 + timedelta(days=40)).isoformat())  # Day 41
    assert dialog.model.index(2, CalendarLinesModel.DOSE).data() == "13 mg"
    assert dialog.model.index(2, CalendarLinesModel.NOTE).data() == "new dose from today"
    dialog.drug.setCurrentText("methylprednisolone")  # as the nurse picks it from the list
    dialog.drug.activated.emit(dialog.drug.currentIndex())
    assert dialog.calendar.drug_from == "chosen"
    assert dialog.model.index(0, CalendarLinesModel.DOSE).data() == "12.8 mg"
    assert dialog.model.index(0, CalendarLinesModel.TABLETS).data() == "Ask your study nurse"


def test_a_schedule_amended_while_the_preview_was_open_is_not_printed(
        open_window, patient, keyboard, dialogs, opened, message_log, db, study):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL)
    dialog = dialogs.last(DosingCalendarDialog)
    amend_patient_schedule(context(db, "investigator"), study, patient,
                           {"day": "62", "dose_mg": "15", "reason": "flare"})
    keyboard.enter()
    (warning,) = message_log.take("warning")
    assert "changed since the calendar was shown" in warning.text
    assert opened == [] and dialog.isVisible()
    assert dialog.model.index(2, CalendarLinesModel.DOSE).data() == "15 mg"  # refreshed
    keyboard.enter()
    assert len(opened) == 1


def test_the_returned_calendar_is_typed_in_with_only_the_differences(
        open_window, patient, keyboard, dialogs, opened, db):
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL)
    printing = dialogs.last(DosingCalendarDialog)
    printing.first_date.setText((TODAY - timedelta(days=13)).isoformat())  # Day 47
    printing.weeks.setCurrentIndex(1)
    keyboard.enter()
    assert len(opened) == 1

    keyboard.shortcut(Qt.Key.Key_P, CTRL_SHIFT)
    dialog = dialogs.last(ReturnedCalendarDialog)
    assert dialog.which.currentIndex() == 0  # the calendar just printed
    assert dialog.week_label.text().startswith("Week 1 of 2")
    assert [e.text() for e in dialog.taken_edits] == ["13"] * 7
    # Day 49: the patient took 16; Day 50 left blank
    assert keyboard.focus is dialog.taken_edits[0]
    keyboard.tab(2)  # past the first day's reason
    keyboard.replace("16")
    keyboard.tab()
    keyboard.type("forgot to lower the dose")
    keyboard.tab()
    keyboard.replace("")
    assert [label.text() for label in dialog.state_labels[:4]] == [
        "as printed", "differs", "blank: stays missing", "as printed"]
    keyboard.press(Qt.Key.Key_PageDown)
    assert dialog.week_label.text().startswith("Week 2 of 2")
    assert [e.text() for e in dialog.taken_edits] == ["13"] * 3 + ["10.5"] * 4
    plan = dialog.plan_label.text()
    assert "Saving makes 4 records from the diary" in plan
    assert "stay missing): 1 day(s)" in plan
    keyboard.shortcut(Qt.Key.Key_S, CTRL)
    assert not dialog.isVisible()
    diary = [r for r in dose_rows(db) if r.source == "diary"]
    assert [(r.dose_ug, (r.start_date - DAY1).days + 1, (r.end_date - DAY1).days + 1,
             r.deviation_reason) for r in diary] == [
        (13000, 47, 47, None), (16000, 48, 48, "forgot to lower the dose"),
        (13000, 50, 56, None), (10500, 57, 60, None)]
    assert "returned calendar saved as 4 dose records" in window.statusBar().currentMessage()
    assert "1 day(s) left missing" in window.statusBar().currentMessage()


def test_a_differing_day_without_a_reason_is_marked_and_nothing_saved(
        open_window, patient, keyboard, dialogs, db):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL_SHIFT)
    dialog = dialogs.last(ReturnedCalendarDialog)
    assert dialog.which.currentText() == "Other dates…"  # nothing printed yet
    assert dialog.taken_edits[0].hasFocus()
    keyboard.replace("25")
    assert "a reason is required" in dialog.state_labels[0].text()
    before = len(dose_rows(db))
    keyboard.shortcut(Qt.Key.Key_S, CTRL)
    assert dialog.isVisible()
    assert len(dose_rows(db)) == before
    assert dialog.week == 0 and "a reason is required" in dialog.state_labels[0].text()


def test_the_dose_form_hands_a_returned_calendar_to_its_form(open_window, patient, keyboard,
                                                           dialogs, qtbot):
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.press(Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=2000)  # a mnemonic animates a click
    dialogs.last(ReturnedCalendarDialog)


def test_monitors_print_but_do_not_enter_calendars(open_window, patient):
    window = open_window("monitor")
    assert window.actions_by_name["calendar"].isEnabled()
    assert not window.actions_by_name["returned_calendar"].isEnabled()


def test_the_schedule_shows_a_step_as_written(open_window, nurse, study, dialogs):
    from taper_app.ui.models import ScheduleStepsModel
    from tests.gui.conftest import enroll

    enroll(nurse, study, "101-002", DAY1, template="table-12wk")
    window = open_window("nurse")
    window.select_subject("101-002")
    model = window.detail.schedule.steps_model
    texts = [model.index(r, ScheduleStepsModel.DOSE).data() for r in range(model.rowCount())]
    assert texts == ["15", "10", "2.5 (5 every other day)"]


def test_the_previews_read_the_database_off_the_gui_thread(qtbot, db, study, patient,
                                                           opened):
    """With the real thread pool: opening, changing and printing the calendar, and opening
    the returned calendar's form, send no SQL statement from the GUI thread."""
    import threading

    from sqlalchemy import event

    from taper_app.services.study import authenticate
    from taper_app.ui.main_window import MainWindow
    from taper_app.ui.tasks import TaskRunner
    from tests.conftest import PASSWORD, fixed_clock

    on_gui_thread: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread() is threading.main_thread():
            on_gui_thread.append(statement.split("\n")[0][:120])

    actor = authenticate(db, "nurse", PASSWORD, fixed_clock)
    window = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=False))
    qtbot.addWidget(window)
    window.show()

    def settle() -> None:
        qtbot.waitUntil(lambda: not window.tasks.busy(), timeout=60_000)

    settle()
    window.select_subject(patient)
    settle()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        window.dosing_calendar()
        settle()
        dialog = window.findChild(DosingCalendarDialog)
        assert dialog.model.rowCount() == 28
        dialog.weeks.setCurrentIndex(1)
        settle()
        assert dialog.model.rowCount() == 14
        dialog.print_calendar()
        settle()
        assert len(opened) == 1
        window.returned_calendar()
        settle()
        returned = window.findChild(ReturnedCalendarDialog)
        assert returned.calendar is not None and returned.which.currentIndex() == 0
        assert on_gui_thread == []
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
