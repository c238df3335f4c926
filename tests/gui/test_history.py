"""Dose history: newest first, voiding and correcting a record, gaps one click away."""

from __future__ import annotations

from datetime import timedelta

from taper_app.ui.dose_form import DoseDialog, VoidDialog
from taper_app.ui.models import DoseHistoryModel
from taper_app.ui.qt import Qt

from .conftest import DAY1, audit_rows, dose, dose_rows, enroll

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def choose_record(window, keyboard, newest_first_row: int) -> None:
    """Go to the history table and down to a row, with the keyboard."""
    view = window.detail.history_view
    view.setFocus()
    keyboard.press(Qt.Key.Key_Home)
    for _ in range(newest_first_row):
        keyboard.press(Qt.Key.Key_Down)
    assert window.detail.selected_history() is not None


def click_gap(qtbot, gaps, row: int) -> None:
    """One click on a gap's chip."""
    rect = gaps.visualItemRect(gaps.item(row))
    qtbot.mouseClick(gaps.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_history_is_newest_first_with_peq_per_day(open_window, patient, nurse, study):
    dose(nurse, study, patient, "4", DAY1 + timedelta(days=40), DAY1 + timedelta(days=40),
         drug="methylprednisolone", frequency="BID")
    window = open_window("nurse")
    proxy = window.detail.history_model
    starts = [proxy.row_object(i).dose.start_date for i in range(proxy.rowCount())]
    assert starts == sorted(starts, reverse=True)
    pulse = proxy.row_object(0).dose
    assert pulse.drug == "methylprednisolone"
    assert proxy.index(0, DoseHistoryModel.PEQ).data() == "10"  # 4 mg × 2 × 1.25
    assert proxy.index(0, DoseHistoryModel.END).data() == (
        DAY1 + timedelta(days=40)).isoformat()
    assert proxy.index(1, DoseHistoryModel.END).data() == "ongoing"


def test_a_record_is_voided_with_a_reason_and_shown_struck_through(
        open_window, patient, db, keyboard, dialogs):
    window = open_window("nurse")
    assert not window.actions_by_name["void_dose"].isEnabled()  # nothing chosen yet
    choose_record(window, keyboard, 1)  # the 20 mg record of Day 1-28
    chosen = window.detail.selected_history().dose
    assert chosen.dose_ug == 20_000
    keyboard.shortcut(Qt.Key.Key_V, CTRL_SHIFT)
    form = dialogs.last(VoidDialog)
    keyboard.enter()  # no reason yet
    assert "a reason is required" in form.errors.message("reason")
    assert not dose_rows(db)[0].voided
    keyboard.type("entered on the wrong patient")
    keyboard.enter()

    assert not form.isVisible()
    row = next(r for r in dose_rows(db) if r.id == chosen.id)
    assert (row.voided, row.void_reason, row.voided_by) == (
        True, "entered on the wrong patient", "nurse")
    [voided] = audit_rows(db, "void_dose")
    assert (voided.entity_id, voided.field, voided.old_value, voided.new_value,
            voided.reason, voided.subject_id) == (
        str(chosen.id), "voided", "False", "True", "entered on the wrong patient", patient)

    proxy = window.detail.history_model
    i = next(k for k in range(proxy.rowCount()) if proxy.row_object(k).dose.id == chosen.id)
    assert proxy.index(i, DoseHistoryModel.DOSE).data(Qt.ItemDataRole.FontRole).strikeOut()
    note = proxy.index(i, DoseHistoryModel.NOTE)
    assert note.data() == "VOIDED: entered on the wrong patient"
    assert not note.data(Qt.ItemDataRole.FontRole)  # the reason itself stays readable
    # Voided days are now missing: the window shows the gap the void left.
    assert "28 days" in window.detail.gaps.texts()[0]
    # A voided record cannot be voided or corrected again.
    choose_record(window, keyboard, i)
    assert not window.actions_by_name["void_dose"].isEnabled()
    assert not window.actions_by_name["correct_dose"].isEnabled()


def test_a_record_is_corrected_in_one_action(open_window, patient, db, keyboard, dialogs):
    window = open_window("nurse")
    choose_record(window, keyboard, 0)  # 16 mg from Day 29, ongoing
    wrong = window.detail.selected_history().dose
    keyboard.press(Qt.Key.Key_F2)
    form = dialogs.last(DoseDialog)
    assert form.mode == DoseDialog.CORRECTION
    assert form.fields()["dose_mg"] == "16"
    assert form.fields()["start_date"] == (DAY1 + timedelta(days=28)).isoformat()
    assert not form.close_ongoing.isVisible()  # a correction never closes other records

    keyboard.tab()
    keyboard.replace("13")  # the chart said 13 from Day 43, 16 before: a deviation
    form.correction_reason.setFocus()
    keyboard.enter()
    assert "a reason for the correction is required" in form.errors.message("reason")
    assert "a reason is required" in form.errors.message("deviation_reason")
    assert [r.voided for r in dose_rows(db)] == [False, False]

    form.deviation_reason.setFocus()
    keyboard.type("early step down agreed by the investigator")
    form.correction_reason.setFocus()
    keyboard.type("transcription error: 13 mg on the chart")
    keyboard.enter()

    assert not form.isVisible()
    rows = dose_rows(db)
    old, new = rows[1], rows[2]
    assert (old.id, old.voided, old.void_reason) == (
        wrong.id, True, "transcription error: 13 mg on the chart")
    assert (new.dose_ug, new.replaces_id, new.start_date, new.end_date) == (
        13_000, wrong.id, wrong.start_date, None)
    [voided] = audit_rows(db, "void_dose")
    replaced = [a for a in audit_rows(db, "record_dose") if a.entity_id == str(new.id)]
    assert voided.entity_id == str(old.id)
    assert voided.at_utc == replaced[0].at_utc  # one action, one transaction
    assert voided.id < min(a.id for a in replaced)
    assert ("replaces_id", str(wrong.id)) in {(a.field, a.new_value) for a in replaced}
    assert all(a.reason == "transcription error: 13 mg on the chart" for a in replaced)
    message = window.statusBar().currentMessage()
    assert "16 mg QD PO from 2026-06-01 ongoing was corrected" in message
    assert "#" not in message, "no internal record numbers on screen"


def test_double_click_or_f2_on_a_record_opens_its_correction(
        open_window, patient, keyboard, dialogs, qtbot):
    window = open_window("nurse")
    choose_record(window, keyboard, 1)
    view = window.detail.history_view
    rect = view.visualRect(view.currentIndex())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    form = dialogs.last(DoseDialog)
    assert form.mode == DoseDialog.CORRECTION and form.correcting.dose_ug == 20_000
    form.reject()


def test_each_gap_is_one_click_from_a_form_prefilled_for_it(
        open_window, nurse, study, db, keyboard, dialogs, qtbot):
    enroll(nurse, study, "101-001", DAY1)
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=9))
    dose(nurse, study, "101-001", "20", DAY1 + timedelta(days=14), DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "16", DAY1 + timedelta(days=30))
    window = open_window("nurse")
    gaps = window.detail.gaps
    assert gaps.texts() == [
        f"{(DAY1 + timedelta(days=10)).isoformat()} – "
        f"{(DAY1 + timedelta(days=13)).isoformat()}  (4 days)",
        f"{(DAY1 + timedelta(days=28)).isoformat()} – "
        f"{(DAY1 + timedelta(days=29)).isoformat()}  (2 days)"]

    click_gap(qtbot, gaps, 1)
    form = dialogs.last(DoseDialog)
    assert form.fields() == {
        "drug": "prednisone", "dose_mg": "16", "frequency": "QD", "route": "PO",
        "start_date": (DAY1 + timedelta(days=28)).isoformat(),
        "end_date": (DAY1 + timedelta(days=29)).isoformat(), "source": "diary",
        "comment": "", "deviation_reason": ""}
    assert "Missing days" in form.context_label.text()
    assert not form.close_ongoing.isVisible()  # the ongoing record starts after the gap
    keyboard.enter()

    assert not form.isVisible()
    new = dose_rows(db)[-1]
    assert (new.start_date, new.end_date, new.source, new.dose_ug) == (
        DAY1 + timedelta(days=28), DAY1 + timedelta(days=29), "diary", 16_000)
    assert len(window.detail.gaps.texts()) == 1
    assert audit_rows(db, "close_dose") == []


def test_a_gap_up_to_today_is_entered_as_ongoing(open_window, nurse, study, keyboard, dialogs,
                                                  qtbot):
    enroll(nurse, study, "101-001", DAY1)
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    window = open_window("nurse")
    assert len(window.detail.gaps.texts()) == 1
    window.detail.gaps.setFocus()  # and with the keyboard: the first gap, Enter
    keyboard.press(Qt.Key.Key_Home)
    keyboard.enter()
    form = dialogs.last(DoseDialog)
    assert form.fields()["end_date"] == ""
    form.reject()


def test_a_monitor_sees_the_gaps_but_cannot_open_them(open_window, nurse, study, dialogs,
                                                      qtbot):
    enroll(nurse, study, "101-001", DAY1)
    window = open_window("monitor")
    assert len(window.detail.gaps.texts()) == 1
    click_gap(qtbot, window.detail.gaps, 0)
    assert dialogs.opened == []


def test_a_monitor_reads_but_cannot_change_doses(open_window, patient, keyboard, dialogs):
    window = open_window("monitor")
    choose_record(window, keyboard, 0)
    for name in ("new_dose", "correct_dose", "void_dose", "enroll", "amend"):
        assert not window.actions_by_name[name].isEnabled(), name
    keyboard.press(Qt.Key.Key_F2)
    assert dialogs.opened == []
