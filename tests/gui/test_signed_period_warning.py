"""Before a change inside a signed period is saved, the window says whose signature it
breaks and that the record will need a new signature; nothing is saved unless the user
says so. A change after the signed date asks nothing."""

from __future__ import annotations

from datetime import timedelta

from taper_app.services.signatures import sign_record, signatures_for
from taper_app.ui.dose_form import DoseDialog, VoidDialog
from taper_app.ui.qt import Qt
from taper_app.ui.returned_calendar import ReturnedCalendarDialog
from taper_app.ui.schedule_view import AmendDialog
from tests.conftest import PASSWORD, TODAY, context

from .conftest import DAY1, amendment_rows, dose_rows

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
SIGNED_THROUGH = TODAY - timedelta(days=10)


def sign(db):
    sign_record(context(db, "investigator"), "101-001", SIGNED_THROUGH, "reviewed", PASSWORD)


def test_a_dose_inside_the_signed_period_asks_first(open_window, patient, db, keyboard,
                                                    dialogs, message_log):
    sign(db)
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    keyboard.replace("16")
    keyboard.tab(3)
    assert keyboard.focus is form.start_date
    keyboard.replace((SIGNED_THROUGH - timedelta(days=1)).isoformat())
    keyboard.tab()
    keyboard.type(SIGNED_THROUGH.isoformat())  # two days, inside the signed period
    keyboard.tab(3)
    assert keyboard.focus is form.deviation_reason
    keyboard.type("extra tablets from the diary")
    keyboard.enter()
    [asked] = message_log.take("question")
    assert asked.title == "A signed period"
    assert asked.text == ("This dose changes 101-001's record inside the period signed by "
                          f"Investigator Example (reviewed, through {SIGNED_THROUGH}).")
    assert "will need a new signature" in asked.detail
    assert form.isVisible() and len(dose_rows(db)) == 2  # "Go back": nothing saved
    assert signatures_for(db, "101-001")[0].valid
    message_log.answers.append(True)
    keyboard.enter()
    assert not form.isVisible() and len(dose_rows(db)) == 3
    [sig] = signatures_for(db, "101-001")
    # A two-day record closes the ongoing one the day before: the first change named.
    assert not sig.valid and sig.broken_by.startswith(
        f"Dose of {DAY1 + timedelta(days=28)} (prednisone 16 mg QD) ended on "
        f"{SIGNED_THROUGH - timedelta(days=2)} by Nurse Example on 2026-07-02 14:30 UTC")


def test_a_dose_after_the_signed_date_asks_nothing(open_window, patient, db, keyboard,
                                                   dialogs, message_log):
    sign(db)
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    keyboard.replace("10.5")  # from today, closing the ongoing record yesterday
    keyboard.tab(6)
    keyboard.type("clinic visit")
    keyboard.enter()
    assert message_log.take("question") == []
    assert not form.isVisible() and len(dose_rows(db)) == 3
    assert signatures_for(db, "101-001")[0].valid
    assert window.current_row().triage.signature.state == "new_data"


def test_voiding_a_signed_record_asks_first(open_window, patient, db, keyboard, dialogs,
                                            message_log):
    sign(db)
    window = open_window("nurse")
    window.detail.history_view.setFocus()
    window.detail.history_view.selectRow(1)  # the first record, Day 1 to Day 28
    assert window.detail.selected_history().dose.start_date == DAY1
    keyboard.shortcut(Qt.Key.Key_V, CTRL_SHIFT)
    form = dialogs.last(VoidDialog)
    keyboard.type("entered for the wrong patient")
    keyboard.enter()
    [asked] = message_log.take("question")
    assert asked.text.startswith("Voiding this record changes 101-001's record inside")
    assert form.isVisible() and not dose_rows(db)[0].voided


def test_an_amendment_of_a_signed_schedule_asks_first(open_window, patient, db, keyboard,
                                                      dialogs, message_log):
    sign(db)
    window = open_window("investigator")
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    form.day.setText("60")
    form.dose_mg.setText("15")
    form.reason.setText("flare")
    form.reason.setFocus()
    message_log.answers.append(True)  # "Amend the schedule?": yes
    keyboard.enter()
    asked = message_log.take("question")
    assert [m.title for m in asked] == ["Amend the schedule?", "A signed period"]
    assert asked[1].text.startswith("This amendment changes 101-001's record inside the "
                                    "period signed by Investigator Example")
    assert form.isVisible() and amendment_rows(db) == []
    assert window.current_row().triage.signature.state == "signed"


def test_a_returned_calendar_inside_the_signed_period_asks_first(
        open_window, patient, db, keyboard, dialogs, message_log):
    sign_record(context(db, "investigator"), "101-001", TODAY, "reviewed", PASSWORD)
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_P, CTRL_SHIFT)
    dialog = dialogs.last(ReturnedCalendarDialog)
    assert dialog.calendar is not None and dialog.calendar.first_date <= TODAY
    before = len(dose_rows(db))
    keyboard.shortcut(Qt.Key.Key_S, CTRL)
    [asked] = message_log.take("question")
    assert asked.text.startswith("This returned calendar changes 101-001's record inside")
    assert dialog.isVisible() and len(dose_rows(db)) == before
    assert signatures_for(db, "101-001")[0].valid
