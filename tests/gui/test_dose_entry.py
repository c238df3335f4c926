"""The dose form, driven with the keyboard only, on a real study file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taper_app.services import patients as patient_service
from taper_app.storage import engine as storage_engine
from taper_app.storage.engine import open_database
from taper_app.storage.uow import DatabaseWriteFailed
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import Qt
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, fixed_clock

from .conftest import DAY1, activate, audit_rows, dose, dose_rows

CTRL = Qt.KeyboardModifier.ControlModifier


def open_dose_form(keyboard, dialogs) -> DoseDialog:
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    assert keyboard.focus is form.drug
    return form


def test_a_nurse_enters_the_new_dose_with_the_keyboard_only(
        open_window, patient, db, keyboard, dialogs):
    window = open_window("nurse")
    assert window.current_subject() == patient
    form = open_dose_form(keyboard, dialogs)

    # Defaults: the dose being taken (16 mg prednisone QD PO, not the protocol's 10.5 mg)
    # from the day after the last record (the ongoing record runs to today, so today),
    # with today's scheduled dose (Day 60: 10.5 mg) shown beside it.
    assert form.fields() == {
        "drug": "prednisone", "dose_mg": "16", "frequency": "QD", "route": "PO",
        "start_date": TODAY.isoformat(), "end_date": "", "source": "clinic", "comment": "",
        "deviation_reason": ""}
    assert form.scheduled_hint.text() == "scheduled 10.5 mg/day"
    assert "saving records nothing new" in form.readout.text()
    assert not form.close_ongoing.isVisible()  # nothing to close: the dose goes on

    # The clinic lowers the dose to the schedule's.
    keyboard.tab()
    keyboard.replace("10.5")
    assert "Scheduled for these days: <b>10.5 mg/day</b>" in form.readout.text()
    assert not form.deviation_reason.isEnabled()
    assert form.close_ongoing.isVisible() and form.close_ongoing.isChecked()
    assert (TODAY - timedelta(days=1)).isoformat() in form.close_ongoing.text()
    keyboard.tab(6)
    assert keyboard.focus is form.comment
    keyboard.type("clinic visit 3")
    keyboard.enter()

    assert not form.isVisible()
    rows = dose_rows(db)
    assert len(rows) == 3
    new, ongoing = rows[2], rows[1]
    assert (new.drug, new.dose_ug, new.frequency, new.route, new.start_date, new.end_date,
            new.source, new.comment, new.deviation_reason, new.created_by) == (
        "prednisone", 10_500, "QD", "PO", TODAY, None, "clinic", "clinic visit 3", None,
        "nurse")
    assert ongoing.end_date == TODAY - timedelta(days=1)  # closed the day before
    recorded = audit_rows(db, "record_dose")
    assert {(r.entity_id, r.field, r.new_value) for r in recorded} >= {
        (str(new.id), "dose_mg", "10.5"), (str(new.id), "start_date", TODAY.isoformat()),
        (str(new.id), "comment", "clinic visit 3")}
    assert all(r.username == "nurse" and r.subject_id == patient for r in recorded[-7:])
    [closed] = audit_rows(db, "close_dose")
    assert (closed.entity_id, closed.field, closed.new_value) == (
        str(ongoing.id), "end_date", (TODAY - timedelta(days=1)).isoformat())

    # The window shows the saved record at once, newest first, with its PEQ per day.
    history = window.detail.history_model
    assert history.rowCount() == 3
    assert history.row_object(0).dose.id == new.id
    assert history.row_object(0).peq_mg_per_day == 10.5
    assert window.detail.figure_labels["dose"].text().startswith("10.5 mg/day")
    status = window.statusBar().currentMessage()
    assert f"prednisone 10.5 mg QD PO from {TODAY.isoformat()} saved" in status
    assert "#" not in status  # no internal record numbers on screen


def test_the_prednisone_equivalent_follows_the_typing(open_window, patient, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.replace("methylprednisolone")
    keyboard.tab()
    keyboard.replace("8")
    assert "<b>10 mg/day</b> prednisone-equivalent" in form.readout.text()  # 8 × 1.25
    form.drug.setFocus()
    keyboard.replace("dexamethasone")
    keyboard.tab()
    keyboard.replace("1.5")
    assert "<b>10 mg/day</b>" in form.readout.text()  # 1.5 × 20/3
    form.drug.setFocus()
    keyboard.replace("prednisone")
    keyboard.tab()
    keyboard.replace("5")
    keyboard.tab()
    keyboard.type("BID")
    assert form.frequency.currentData() == "BID"
    assert "<b>10 mg/day</b>" in form.readout.text()
    form.dose_mg.setFocus()
    keyboard.replace("5x")
    assert "–" in form.readout.text()  # not a number yet: no figure


def test_a_dose_that_differs_from_the_schedule_needs_a_reason(
        open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("12.5")
    assert "Differs from the schedule" in form.readout.text()
    assert form.deviation_reason.isEnabled()
    keyboard.enter()

    assert form.isVisible()
    assert "a reason is required" in form.errors.message("deviation_reason")
    assert keyboard.focus is form.deviation_reason
    assert len(dose_rows(db)) == 2
    keyboard.type("patient asked to slow the taper")
    assert form.errors.message("deviation_reason") == ""
    keyboard.enter()

    assert not form.isVisible()
    new = dose_rows(db)[-1]
    assert (new.dose_ug, new.deviation_reason) == (12_500, "patient asked to slow the taper")
    assert any(r.field == "deviation_reason" and r.new_value == new.deviation_reason
               for r in audit_rows(db, "record_dose"))


INVALID = [
    ("dose_mg", "-5", "is negative"),
    ("dose_mg", "5000", "not plausible"),
    ("dose_mg", "ten", "is not a number"),
    ("dose_mg", "1e3", "has an exponent"),
    ("dose_mg", "-0", "has a minus sign"),
    ("dose_mg", "", "is required"),
    ("drug", "aspirin", "unknown drug"),
    ("drug", "budesonide", "out of scope"),
    ("start_date", (TODAY + timedelta(days=1)).isoformat(), "in the future"),
    ("start_date", "2026-02-30", "not a real date"),
    ("start_date", "02/07/2026", "not a date (YYYY-MM-DD)"),
    ("end_date", (TODAY - timedelta(days=3)).isoformat(), "before the start date"),
    ("end_date", (TODAY + timedelta(days=5)).isoformat(), "in the future"),
]


@pytest.mark.parametrize(("field", "text", "message"), INVALID,
                         ids=[f"{f}={t or 'empty'}" for f, t, _ in INVALID])
def test_invalid_input_is_marked_at_its_field_and_nothing_is_saved(
        open_window, patient, db, keyboard, dialogs, field, text, message):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    form.dose_mg.setFocus()
    keyboard.replace("10.5")  # a new dose (the ongoing one again would record nothing)
    before_doses, before_audit = len(dose_rows(db)), len(audit_rows(db))
    getattr(form, field).setFocus()
    keyboard.replace(text)
    form.comment.setFocus()
    keyboard.enter()

    assert form.isVisible()
    assert message in form.errors.message(field)
    assert form.errors.widget(field).property("invalid") is True
    assert keyboard.focus is getattr(form, field)
    assert len(dose_rows(db)) == before_doses
    assert len(audit_rows(db)) == before_audit

    # Fixing the field clears its mark as you type, and then the dose saves.
    defaults = {"dose_mg": "10.5", "drug": "prednisone", "start_date": TODAY.isoformat(),
                "end_date": ""}
    getattr(form, field).setFocus()
    keyboard.replace(defaults[field])
    assert form.errors.marked() == []
    keyboard.enter()
    assert not form.isVisible()
    assert len(dose_rows(db)) == before_doses + 1


def test_a_pulse_comes_on_top_of_the_ongoing_dose(
        open_window, patient, db, keyboard, dialogs, message_log):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.replace("methylprednisolone")
    keyboard.tab()
    keyboard.replace("500")
    keyboard.tab(2)
    keyboard.type("IV")  # the route alone: an IV dose is offered as a single one
    assert (form.frequency.currentData(), form.route.currentData()) == ("ONCE", "IV")
    assert "625 mg/day" in form.readout.text()
    assert not form.close_ongoing.isVisible()  # the maintenance dose goes on
    keyboard.enter()

    # 625 mg is over twice the current 16 mg and over the 20 mg baseline: Enter answers
    # the question's safe way (go back), nothing is saved.
    [asked] = message_log.take("question")
    assert "more than twice the current dose (16 mg/day)" in asked.text
    assert "more than the baseline (20 mg/day)" in asked.text
    assert not asked.default_yes and asked.yes_text == "&Record this dose"
    assert form.isVisible() and len(dose_rows(db)) == 2
    assert keyboard.focus is form.dose_mg
    message_log.answers.append(True)
    keyboard.enter()
    assert len(message_log.take("question")) == 1
    assert not form.isVisible()

    rows = dose_rows(db)
    assert (rows[-1].drug, rows[-1].dose_ug, rows[-1].frequency, rows[-1].route) == (
        "methylprednisolone", 500_000, "ONCE", "IV")
    assert rows[1].end_date is None
    assert audit_rows(db, "close_dose") == []


def test_the_nurse_may_keep_the_ongoing_record_open(
        qtbot, open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("10.5")
    assert form.close_ongoing.isVisible() and form.close_ongoing.isChecked()
    keyboard.tab(6)
    assert keyboard.focus is form.comment
    keyboard.type("extra dose on top ")  # a typed space never toggles the checkbox
    assert form.close_ongoing.isChecked()
    keyboard.shortcut(Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)  # its mnemonic does
    qtbot.waitUntil(lambda: not form.close_ongoing.isChecked(), timeout=2000)  # animated
    form.comment.setFocus()
    keyboard.enter()
    assert dose_rows(db)[1].end_date is None
    assert len(dose_rows(db)) == 3


def test_a_write_error_is_a_message_and_the_form_keeps_what_was_typed(
        open_window, patient, db, keyboard, dialogs, message_log, monkeypatch):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("12")
    keyboard.tab(7)
    assert keyboard.focus is form.deviation_reason
    keyboard.type("taper slowed after a flare")
    typed = form.fields()

    def disk_full(*args, **kwargs):
        raise DatabaseWriteFailed("The database could not be written (database or disk is "
                                  "full). Nothing was saved.")

    monkeypatch.setattr(patient_service, "record_dose", disk_full)
    keyboard.enter()

    [shown] = message_log.take("error")
    assert "disk is full" in shown.text and "still in the form" in shown.detail
    assert form.isVisible() and form.fields() == typed
    assert len(dose_rows(db)) == 2

    monkeypatch.undo()
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(db)[-1].deviation_reason == "taper slowed after a flare"


def test_a_locked_database_is_a_message_and_nothing_is_lost(
        qtbot, patient, db_path, study, keyboard, dialogs, message_log, monkeypatch):
    """Another program holds the write lock: the save waits briefly, then says so."""
    import sqlite3

    from taper_app.services.study import authenticate

    monkeypatch.setattr(storage_engine, "BUSY_TIMEOUT_MS", 150)
    short_wait = open_database(db_path)
    actor = authenticate(short_wait, "nurse", PASSWORD, fixed_clock)
    window = MainWindow(short_wait, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.show()
    activate(qtbot, window)
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("10.5")
    keyboard.tab(6)
    keyboard.type("typed while the file was locked")
    typed = form.fields()

    other = sqlite3.connect(db_path, isolation_level=None, timeout=0.1)
    try:
        other.execute("BEGIN IMMEDIATE")
        keyboard.enter()
        [shown] = message_log.take("error")
        assert "busy" in shown.text.lower()
        assert form.isVisible() and form.fields() == typed
    finally:
        other.execute("ROLLBACK")
        other.close()
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(short_wait)[-1].comment == "typed while the file was locked"
    window.close()
    short_wait.dispose()


def test_the_form_tabs_through_its_fields_in_reading_order(
        open_window, patient, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    assert form.save_button.isDefault()  # Enter in any field saves
    seen = [keyboard.focus.objectName()]
    for _ in range(10):
        keyboard.tab()
        seen.append(keyboard.focus.objectName() or keyboard.focus.text())
    assert seen == ["drug", "dose_mg", "frequency", "route", "start_date", "end_date", "source",
                    "comment", "&Save", "Cancel", "drug"]


def test_escape_asks_before_discarding_typed_input(
        open_window, patient, db, keyboard, dialogs, message_log):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.press(Qt.Key.Key_Escape)  # nothing typed: closes at once
    assert not form.isVisible() and message_log.take("question") == []

    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("12")
    keyboard.press(Qt.Key.Key_Escape)
    [asked] = message_log.take("question")
    assert asked.title == "Discard what you typed?" and not asked.default_yes
    assert form.isVisible() and form.dose_mg.text() == "12"  # kept, as typed
    message_log.answers.append(True)
    keyboard.press(Qt.Key.Key_Escape)
    assert not form.isVisible()
    assert len(dose_rows(db)) == 2


def test_a_first_dose_starts_on_day_1(open_window, nurse, study, db, keyboard, dialogs):
    from .conftest import enroll

    enroll(nurse, study, "101-002", DAY1, baseline="15", template="table-12wk")
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    assert form.fields()["start_date"] == DAY1.isoformat()
    assert form.fields()["dose_mg"] == "15"
    assert not form.close_ongoing.isVisible()
    form.end_date.setFocus()
    keyboard.type((DAY1 + timedelta(days=13)).isoformat())
    keyboard.enter()
    [row] = dose_rows(db)
    assert (row.start_date, row.end_date, row.dose_ug) == (
        DAY1, DAY1 + timedelta(days=13), 15_000)


def test_a_dose_entered_earlier_is_shown_with_its_figures(open_window, patient, nurse, study):
    """A record saved elsewhere (another window, the import) shows after a reload (F5)."""
    window = open_window("nurse")
    dose(nurse, study, patient, "1", TODAY, TODAY, drug="dexamethasone")
    assert window.detail.history_model.rowCount() == 2
    window.refresh()
    assert window.detail.history_model.rowCount() == 3
    assert window.detail.history_model.row_object(0).peq_mg_per_day == pytest.approx(6.667)


# ---------------------------------------------------------------- what was taken (issue 18)

def test_enter_through_the_form_records_nothing_when_the_dose_goes_on(
        open_window, patient, db, keyboard, dialogs):
    """Pressing Enter on the pre-filled form repeats the dose being taken: no new record,
    no record closed, and the nurse is told so."""
    window = open_window("nurse")
    open_dose_form(keyboard, dialogs)
    before_audit = len(audit_rows(db))
    keyboard.enter()
    assert len(dose_rows(db)) == 2 and dose_rows(db)[1].end_date is None
    assert len(audit_rows(db)) == before_audit
    assert "nothing new was recorded" in window.statusBar().currentMessage()


def test_a_note_typed_on_an_unchanged_dose_is_not_silently_dropped(
        open_window, patient, db, keyboard, dialogs):
    """The dose goes on, but the nurse typed a comment: nothing is saved, the form stays
    open with the note, and she is told why (not 'saved' with the note thrown away)."""
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    form.comment.setFocus()
    keyboard.type("diary: took it with food")
    before_audit = len(audit_rows(db))
    keyboard.enter()
    assert form.isVisible() and form.comment.text() == "diary: took it with food"
    assert "already on this dose" in form.errors.message("comment")
    assert len(dose_rows(db)) == 2 and len(audit_rows(db)) == before_audit


def test_the_decimal_comma_is_read_as_a_decimal(open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("1,000")  # a thousands separator or three decimals: refused, said why
    form.comment.setFocus()
    keyboard.enter()
    assert "no thousands separator" in form.errors.message("dose_mg")
    form.dose_mg.setFocus()
    keyboard.replace("10,5")
    assert "<b>10.5 mg/day</b>" in form.readout.text()
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(db)[-1].dose_ug == 10_500


def test_a_one_day_dose_never_closes_the_ongoing_record(
        open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("10.5")
    assert form.close_ongoing.isVisible()
    keyboard.tab(4)
    assert keyboard.focus is form.end_date
    keyboard.type(TODAY.isoformat())  # one day only
    assert not form.close_ongoing.isVisible()
    keyboard.enter()
    assert not form.isVisible()
    rows = dose_rows(db)
    assert rows[1].end_date is None and (rows[2].start_date, rows[2].end_date) == (TODAY, TODAY)
    assert audit_rows(db, "close_dose") == []


def test_a_dose_ten_times_the_usual_needs_a_confirmation_besides_the_reason(
        open_window, patient, db, keyboard, dialogs, message_log):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("200")
    keyboard.tab(7)
    assert keyboard.focus is form.deviation_reason
    keyboard.type("flare")
    keyboard.enter()  # the reason alone is not enough
    [asked] = message_log.take("question")
    assert asked.text.startswith("200 mg prednisone-equivalent is more than twice the "
                                 "current dose (16 mg/day) and more than the baseline")
    assert form.isVisible() and len(dose_rows(db)) == 2
    keyboard.enter()  # from the dose field: asked again, Enter goes back again
    assert len(message_log.take("question")) == 1 and len(dose_rows(db)) == 2
    message_log.answers.append(True)
    keyboard.enter()
    assert not form.isVisible()
    assert (dose_rows(db)[-1].dose_ug, dose_rows(db)[-1].deviation_reason) == (200_000, "flare")


def test_the_fields_stay_where_they_are_when_a_message_appears(
        qtbot, open_window, patient, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    keyboard.tab()
    keyboard.replace("12")  # the offer to close the ongoing record appears, in its place
    qtbot.wait(20)  # the layout settles as it does on screen
    before = {name: getattr(form, name).mapTo(form, getattr(form, name).rect().topLeft())
              for name in ("dose_mg", "frequency", "comment", "deviation_reason")}
    form.comment.setFocus()
    keyboard.enter()
    assert "a reason is required" in form.errors.message("deviation_reason")
    keyboard.enter()
    form.dose_mg.setFocus()
    keyboard.replace("-1")  # a one-line message at the dose field
    assert "is negative" in form.errors.message("dose_mg")
    qtbot.wait(20)
    after = {name: getattr(form, name).mapTo(form, getattr(form, name).rect().topLeft())
             for name in before}
    assert after == before


def test_a_comment_over_5000_characters_is_marked_and_nothing_is_saved(
        open_window, patient, db, keyboard, dialogs):
    open_window("nurse")
    form = open_dose_form(keyboard, dialogs)
    form.dose_mg.setFocus()
    keyboard.replace("10.5")
    before_doses, before_audit = len(dose_rows(db)), len(audit_rows(db))
    form.comment.setFocus()
    form.comment.setText("c" * 5001)  # pasted
    keyboard.enter()
    assert form.isVisible()
    assert "is 5,001 characters long; at most 5,000" in form.errors.message("comment")
    assert (len(dose_rows(db)), len(audit_rows(db))) == (before_doses, before_audit)
    form.comment.setText("c" * 5000)
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(db)[-1].comment == "c" * 5000
