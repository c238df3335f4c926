"""The investigator corrects an enrollment and withdraws an amendment in the window: the
preview is what is stored, the password is asked again, a correction under an amendment in
force says what to do, and a withdrawn amendment stays listed, struck through."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from taper_app.domain.schedule import generate_schedule
from taper_app.services.patients import amend_patient_schedule
from taper_app.storage.models import Amendment, Patient
from taper_app.ui.corrections import CorrectEnrollmentDialog, WithdrawAmendmentDialog
from taper_app.ui.models import AmendmentsModel
from taper_app.ui.qt import Qt

from .conftest import PASSWORD, _all, audit_rows


def _patient(db):  # type: ignore[no-untyped-def]
    return _all(db, select(Patient))[0]


def test_an_investigator_corrects_the_baseline(open_window, patient, study, db, keyboard,
                                               dialogs):
    window = open_window("investigator")
    action = window.actions_by_name["correct_enrollment"]
    assert action.isEnabled() and action.isVisible()
    action.trigger()
    form = dialogs.last(CorrectEnrollmentDialog)
    assert not form.blocked.isVisible()
    assert keyboard.focus is form.baseline and form.baseline.text() == "20"
    keyboard.replace("30")
    expected = generate_schedule(study.templates["stepdown-a"], Decimal(30))
    assert [form.steps_model.row_at(i) for i in range(form.steps_model.rowCount())] == expected
    form.reason.setFocus()
    keyboard.type("baseline misread from the CRF")
    form.password.setFocus()
    keyboard.type("not the password")
    keyboard.enter()
    assert "wrong password" in form.errors.message("password")
    assert form.isVisible() and form.password.text() == ""
    assert _patient(db).baseline_ug == 20_000
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert not form.isVisible()
    assert _patient(db).baseline_ug == 30_000
    assert {(a.field, a.old_value, a.new_value) for a in audit_rows(db, "correct_enrollment")
            } >= {("baseline_mg", "20", "30")}
    assert list(window.current_row().record.steps) == expected  # reloaded
    assert "enrollment corrected" in window.statusBar().currentMessage()


def test_a_correction_under_an_amendment_says_to_withdraw_it_first(
        open_window, patient, study, db, dialogs, investigator, message_log):
    amend_patient_schedule(investigator, study, patient,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    window = open_window("investigator")
    window.actions_by_name["correct_enrollment"].trigger()
    form = dialogs.last(CorrectEnrollmentDialog)
    assert form.blocked.isVisible()
    assert "Amendment 1 is in force" in form.blocked.text()
    assert "Withdraw the amendment(s) first" in form.blocked.text()
    form.baseline.setText("30")
    form.reason.setText("misread")
    form.password.setText(PASSWORD)
    form.save()
    assert "Withdraw the amendment(s) first" in form.errors.message("baseline_mg")
    assert _patient(db).baseline_ug == 20_000
    form.discard()


def test_an_investigator_withdraws_an_amendment_from_the_schedule_tab(
        open_window, patient, study, db, keyboard, dialogs, investigator):
    amend_patient_schedule(investigator, study, patient,
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    window = open_window("investigator")
    enrolled = generate_schedule(study.templates["stepdown-a"], Decimal(20))
    pane = window.detail.schedule
    window.detail.tabs.setCurrentWidget(pane)
    assert pane.withdraw_button.isEnabled()
    pane.amendments_view.selectRow(0)
    pane.withdraw_button.click()
    form = dialogs.last(WithdrawAmendmentDialog)
    assert form.amendment.currentData() == 1
    assert [form.steps_model.row_at(i) for i in range(form.steps_model.rowCount())] == enrolled
    assert keyboard.focus is form.reason
    keyboard.enter()
    assert "a reason is required" in form.errors.message("reason")
    keyboard.type("not a flare after all")
    keyboard.tab()
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert not form.isVisible()
    [amendment] = _all(db, select(Amendment))
    assert (amendment.withdrawn_by, amendment.withdraw_reason) == (
        "investigator", "not a flare after all")
    assert list(window.current_row().record.steps) == enrolled
    model = pane.amendments_model
    assert model.rowCount() == 1  # still listed
    assert model.index(0, AmendmentsModel.STATUS).data() == "withdrawn by investigator"
    assert model.index(0, AmendmentsModel.REASON).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert "withdrawn" in pane.amendments_box.title()
    assert not window.actions_by_name["withdraw_amendment"].isEnabled()  # none in force


def test_a_nurse_sees_neither_action(open_window, patient):
    window = open_window("nurse")
    for key in ("correct_enrollment", "withdraw_amendment"):
        assert not window.actions_by_name[key].isEnabled()
        assert not window.actions_by_name[key].isVisible()
