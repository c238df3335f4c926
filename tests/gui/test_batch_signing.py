"""Batch signing in the window: every patient who needs a signature, offered together;
one password, one meaning; each patient its own audited signature; the list follows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from taper_app.services.signatures import sign_record
from taper_app.storage.models import Signature
from taper_app.ui.models import PatientTableModel as P
from taper_app.ui.qt import Qt
from taper_app.ui.sign_dialog import BatchSignDialog
from tests.conftest import PASSWORD, TODAY, context

from .conftest import DAY1, _all, audit_rows, dose, enroll


def _four_patients(db, study):
    nurse = context(db, "nurse")
    for subject in ("101-001", "101-002", "101-003", "101-004"):
        enroll(nurse, study, subject, DAY1)
        dose(nurse, study, subject, "20", DAY1, DAY1 + timedelta(days=27))
    # 101-004 is signed already, with nothing new since.
    sign_record(context(db, "investigator"), "101-004", TODAY, "reviewed", PASSWORD)


def open_batch(window, dialogs) -> BatchSignDialog:
    window.actions_by_name["sign_batch"].trigger()  # Patient > Sign records in a batch
    return dialogs.last(BatchSignDialog)


def test_one_password_signs_each_patient_who_needs_it(open_window, db, study, keyboard,
                                                      dialogs, qtbot):
    _four_patients(db, study)
    window = open_window("investigator")
    assert [window.patients_proxy.index(r, P.SIGNATURE).data() for r in range(4)] == [
        "never signed"] * 3 + ["signed"]
    dialog = open_batch(window, dialogs)
    texts = [dialog.patients.item(i).text() for i in range(dialog.patients.count())]
    assert texts == [f"101-00{i} (site 101): never signed" for i in (1, 2, 3)]
    assert "3 patients" in dialog.summary.text()
    # Untick 101-002 with the keyboard: to the list, down one, Space.
    dialog.patients.setFocus()
    keyboard.press(Qt.Key.Key_Down)
    keyboard.press(Qt.Key.Key_Space)
    assert [c.subject_id for c in dialog.chosen()] == ["101-001", "101-003"]
    assert "2 patients" in dialog.summary.text()
    dialog.meaning.setCurrentIndex(dialog.meaning.findData("approved"))
    dialog.password.setFocus()
    keyboard.type(PASSWORD)
    keyboard.enter()

    assert not dialog.isVisible()
    stored = _all(db, select(Signature).order_by(Signature.id))
    assert [(s.patient_id, s.meaning, s.signed_through) for s in stored[1:]] == [
        (1, "approved", TODAY), (3, "approved", TODAY)]
    assert [r.subject_id for r in audit_rows(db, "sign")] == ["101-004", "101-001", "101-003"]
    assert audit_rows(db, "sign_failed") == []
    assert [window.patients_proxy.index(r, P.SIGNATURE).data() for r in range(4)] == [
        "signed", "never signed", "signed", "signed"]
    assert window.statusBar().currentMessage() == (
        f"2 records signed through {TODAY} (approved): 101-001, 101-003")


def test_a_wrong_password_signs_none_and_keeps_the_choice(open_window, db, study, keyboard,
                                                          dialogs):
    _four_patients(db, study)
    window = open_window("investigator")
    dialog = open_batch(window, dialogs)
    keyboard.type("not-my-password")
    keyboard.enter()
    assert dialog.isVisible() and "wrong password" in dialog.errors.message("password")
    assert len(_all(db, select(Signature))) == 1
    assert len(dialog.chosen()) == 3 and dialog.password.text() == ""


def test_only_investigators_are_offered_batch_signing(open_window, db, study):
    _four_patients(db, study)
    window = open_window("nurse")
    assert not window.actions_by_name["sign_batch"].isEnabled()
