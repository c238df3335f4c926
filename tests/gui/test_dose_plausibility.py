"""Plausibility at dose entry: a dose over twice the current dose, or over the baseline,
needs an explicit confirmation besides the reason (Enter goes back); over 2,000 mg
prednisone-equivalent in a day is refused outright. New doses and corrections alike."""

from __future__ import annotations

from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.qt import Qt
from tests.conftest import context

from .conftest import DAY1, dose, dose_rows, enroll

CTRL = Qt.KeyboardModifier.ControlModifier


def new_dose_form(keyboard, dialogs) -> DoseDialog:
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    return dialogs.last(DoseDialog)


def type_dose_and_reason(keyboard, form, mg: str, reason: str = "flare") -> None:
    keyboard.tab()
    keyboard.replace(mg)
    keyboard.tab(7)
    assert keyboard.focus is form.deviation_reason
    keyboard.type(reason)


def test_over_the_baseline_alone_asks(open_window, patient, db, keyboard, dialogs,
                                      message_log):
    open_window("nurse")  # 16 mg today, baseline 20: 25 is under twice 16, over 20
    form = new_dose_form(keyboard, dialogs)
    type_dose_and_reason(keyboard, form, "25")
    keyboard.enter()
    [asked] = message_log.take("question")
    assert asked.text == ("25 mg prednisone-equivalent is more than the baseline "
                          "(20 mg/day).")
    assert asked.yes_text == "&Record this dose" and not asked.default_yes
    assert form.isVisible() and len(dose_rows(db)) == 2
    assert keyboard.focus is form.dose_mg


def test_over_twice_the_current_dose_alone_asks(open_window, db, study, keyboard, dialogs,
                                                message_log):
    nurse = context(db, "nurse")
    enroll(nurse, study, "101-001", DAY1)
    dose(nurse, study, "101-001", "5", DAY1)
    open_window("nurse")  # 5 mg today, baseline 20: 12 is over twice 5, under 20
    form = new_dose_form(keyboard, dialogs)
    type_dose_and_reason(keyboard, form, "12")
    keyboard.enter()
    [asked] = message_log.take("question")
    assert asked.text == ("12 mg prednisone-equivalent is more than twice the current dose "
                          "(5 mg/day).")
    assert len(dose_rows(db)) == 1
    message_log.answers.append(True)
    form.deviation_reason.setFocus()
    keyboard.enter()
    assert not form.isVisible() and dose_rows(db)[-1].dose_ug == 12_000


def test_a_usual_dose_asks_nothing(open_window, patient, db, keyboard, dialogs,
                                   message_log):
    open_window("nurse")
    form = new_dose_form(keyboard, dialogs)
    type_dose_and_reason(keyboard, form, "18")  # under 32 and under 20
    keyboard.enter()
    assert message_log.take("question") == []
    assert not form.isVisible() and dose_rows(db)[-1].dose_ug == 18_000


def test_over_2000_mg_a_day_is_refused_whatever_the_answer(open_window, patient, db,
                                                           keyboard, dialogs, message_log):
    open_window("nurse")
    form = new_dose_form(keyboard, dialogs)
    message_log.answers.append(True)  # even a yes would not save it
    keyboard.tab()
    keyboard.replace("2001")
    assert not form.deviation_reason.isEnabled()  # nothing to give a reason for
    keyboard.enter()
    assert "over 2,000 mg is not plausible" in form.errors.message("dose_mg")
    assert message_log.take("question") == [] and len(dose_rows(db)) == 2


def test_a_correction_to_an_unusual_dose_asks_too(open_window, patient, db, keyboard,
                                                  dialogs, message_log):
    window = open_window("nurse")
    window.detail.history_view.setFocus()
    window.detail.history_view.selectRow(0)  # 16 mg from Day 29, ongoing
    keyboard.press(Qt.Key.Key_F2)
    form = dialogs.last(DoseDialog)
    assert form.mode == DoseDialog.CORRECTION
    keyboard.tab()
    keyboard.replace("160")  # a slipped zero
    form.deviation_reason.setFocus()
    keyboard.type("as on the chart")
    form.correction_reason.setFocus()
    keyboard.type("typing error")
    keyboard.enter()
    [asked] = message_log.take("question")
    assert asked.text.startswith("160 mg prednisone-equivalent is more than twice the "
                                 "current dose (16 mg/day) and more than the baseline")
    assert form.isVisible() and [r.voided for r in dose_rows(db)] == [False, False]
