"""The schedule view: steps and amendments; investigators amend, nurses cannot."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from taper_app.services.patients import amended_steps
from taper_app.ui.models import AmendmentsModel, ScheduleStepsModel
from taper_app.ui.qt import Qt
from taper_app.ui.schedule_view import AmendDialog

from .conftest import DAY1, amendment_rows, audit_rows

CTRL = Qt.KeyboardModifier.ControlModifier


def test_the_schedule_tab_lists_the_steps_with_their_dates(open_window, patient, keyboard):
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert window.detail.tabs.currentWidget() is window.detail.schedule
    model = window.detail.schedule.steps_model
    assert [(model.index(i, ScheduleStepsModel.DAY).data(),
             model.index(i, ScheduleStepsModel.DOSE).data()) for i in range(4)] == [
        ("29", "16"), ("43", "13"), ("57", "10.5"), ("71", "10")]
    assert model.index(0, ScheduleStepsModel.DATE).data() == "2026-06-01"
    assert model.index(0, ScheduleStepsModel.ORIGIN).data() == "template"
    summary = window.detail.schedule.summary
    assert "baseline 20 mg/day until Day 29" in summary.full  # (cut short where narrow)
    assert summary.toolTip() == summary.full


def test_an_investigator_amends_the_schedule_after_a_flare(
        open_window, patient, study, db, keyboard, dialogs, message_log):
    window = open_window("investigator")
    record = window.current_row().record
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    assert keyboard.focus is form.day
    assert form.day.text() == "60"  # today's study day
    assert form.day_date.text() == "2026-07-02"
    keyboard.replace("55")
    assert form.day_date.text() == "2026-06-27"  # the date follows the day typed
    keyboard.tab(2)  # past the date, to the dose
    keyboard.type("20")
    expected = amended_steps(study, record, 55, Decimal(20))
    preview = [form.steps_model.row_at(i) for i in range(form.steps_model.rowCount())]
    assert preview == expected
    assert preview[2].day == 55 and preview[2].amendment_seq == 1
    keyboard.enter()  # no reason yet
    assert "a reason is required" in form.errors.message("reason")
    assert amendment_rows(db) == []
    keyboard.type("flare: CK up, MMT-8 down")
    message_log.answers.append(False)  # asked to confirm: back to the form
    keyboard.enter()
    [question] = message_log.take("question")
    assert "from Day 55 (2026-06-27) the scheduled dose becomes 20 mg/day" in question.text
    assert form.isVisible() and amendment_rows(db) == []
    message_log.answers.append(True)
    keyboard.enter()

    assert not form.isVisible()
    [amendment] = amendment_rows(db)
    assert (amendment.seq, amendment.day, amendment.dose_ug, amendment.reason,
            amendment.created_by) == (1, 55, 20_000, "flare: CK up, MMT-8 down", "investigator")
    amended = {(a.field, a.new_value) for a in audit_rows(db, "amend_schedule")}
    assert ("from_day", "55") in amended and ("dose_mg", "20") in amended
    assert all(a.reason == "flare: CK up, MMT-8 down" and a.username == "investigator"
               for a in audit_rows(db, "amend_schedule"))

    pane = window.detail.schedule
    assert pane.amendments_model.rowCount() == 1
    assert pane.amendments_model.index(0, AmendmentsModel.REASON).data() == amendment.reason
    steps = pane.steps_model
    shown = [steps.row_at(i) for i in range(steps.rowCount())]
    assert shown == expected
    assert steps.index(2, ScheduleStepsModel.ORIGIN).data() == "amendment 1"
    assert steps.index(2, ScheduleStepsModel.DOSE).data(Qt.ItemDataRole.FontRole).italic()
    # Today (Day 60) the schedule is 20 again: the 16 mg ongoing dose is now below it.
    assert window.current_row().summary["scheduled_mg"] == 20.0
    assert window.current_row().status == "below"


def test_a_nurse_cannot_amend_a_schedule(open_window, patient, study, db, keyboard, dialogs,
                                        message_log, nurse):
    window = open_window("nurse")
    amend = window.actions_by_name["amend"]
    assert not amend.isEnabled()
    assert "Only investigators" in amend.toolTip()
    assert not window.detail.schedule.amend_button.isEnabled()
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    assert dialogs.opened == []

    # Even a form opened some other way is refused by the service, and says so.
    before = len(audit_rows(db))
    form = AmendDialog.build(window.ctx, study, window.current_row().record, 40, window)
    dialogs.present(form)
    keyboard.tab(2)
    keyboard.type("20")
    keyboard.tab()
    keyboard.type("flare")
    message_log.answers.append(True)  # confirmed; the service still refuses
    keyboard.enter()
    [refused] = message_log.take("error")
    assert "may not amend schedule" in refused.text
    assert form.isVisible()
    assert amendment_rows(db) == [] and len(audit_rows(db)) == before
    form.reject()


def test_an_amendment_from_an_impossible_day_is_refused(
        open_window, patient, db, keyboard, dialogs):
    open_window("investigator")
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    keyboard.replace("0")
    keyboard.tab(2)
    keyboard.type("-5")
    keyboard.tab()
    keyboard.type("flare")
    keyboard.enter()
    assert "not a study day" in form.errors.message("day")
    assert "negative" in form.errors.message("dose_mg")
    assert amendment_rows(db) == []
    assert form.steps_model.rowCount() == 14  # the preview shows the schedule unchanged
    # the preview dates follow the patient's Day 1 (Day 29 is 28 days after it)
    assert (form.steps_model.index(0, ScheduleStepsModel.DAY).data(),
            form.steps_model.index(0, ScheduleStepsModel.DATE).data()) == (
        "29", (DAY1 + timedelta(days=28)).isoformat())


def test_an_amendment_reason_over_5000_characters_is_marked_and_nothing_is_saved(
        open_window, patient, db, keyboard, dialogs, message_log):
    open_window("investigator")
    keyboard.shortcut(Qt.Key.Key_M, CTRL)
    form = dialogs.last(AmendDialog)
    keyboard.replace("60")
    keyboard.tab(2)  # past the date, to the dose
    keyboard.type("7,5")  # a decimal comma, as the form takes it
    keyboard.tab()
    form.reason.setText("r" * 5001)  # pasted
    message_log.answers.append(True)  # the day and dose confirmed; the service refuses
    keyboard.enter()
    message_log.take("question")
    assert "is 5,001 characters long" in form.errors.message("reason")
    assert amendment_rows(db) == []
    form.reason.setText("flare")
    message_log.answers.append(True)
    keyboard.enter()
    [question] = message_log.take("question")
    assert "becomes 7.5 mg/day" in question.text
    assert [a.dose_ug for a in amendment_rows(db)] == [7_500]
