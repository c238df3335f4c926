"""Signing in the window: investigators only, password again, a meaning; the detail pane
shows each signature and, after a change to the signed period, what broke it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from taper_app.services.auth import Actor
from taper_app.services.errors import PermissionDenied
from taper_app.services.patients import void_dose
from taper_app.services.signatures import sign_record
from taper_app.storage.models import Signature
from taper_app.storage.uow import UnitOfWork
from taper_app.ui.qt import QApplication, Qt
from taper_app.ui.sign_dialog import SignDialog
from tests.conftest import PASSWORD, TODAY, context
from tests.gui.conftest import DAY1, _all, audit_rows, dose_rows

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def signatures(db) -> list[Signature]:
    return _all(db, select(Signature).order_by(Signature.id))


def open_sign_dialog(window, keyboard, dialogs) -> SignDialog:
    keyboard.shortcut(Qt.Key.Key_S, CTRL_SHIFT)
    return dialogs.last(SignDialog)


def test_an_investigator_signs_with_password_and_meaning(open_window, patient, keyboard,
                                                        dialogs, db, qtbot):
    window = open_window("investigator")
    assert window.detail.signatures.texts() == ["Not signed."]
    dialog = open_sign_dialog(window, keyboard, dialogs)
    summary = dialog.summary.text()
    assert "101-001" in summary and TODAY.isoformat() in summary
    assert "Investigator Example" in summary
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.password, timeout=2000)
    dialog.through.setText((TODAY - timedelta(days=2)).isoformat())
    dialog.meaning.setCurrentIndex(dialog.meaning.findData("approved"))
    dialog.password.setFocus()
    keyboard.type(PASSWORD)
    keyboard.enter()

    [stored] = signatures(db)
    assert (stored.username, stored.printed_name, stored.meaning, stored.signed_through) == (
        "investigator", "Investigator Example", "approved", TODAY - timedelta(days=2))
    assert stored.signed_at_utc == "2026-07-02T14:30:00.000000Z" and len(stored.data_sha256) == 64
    [row] = audit_rows(db, "sign")
    assert row.subject_id == "101-001" and stored.data_sha256 in (row.new_value or "")
    assert audit_rows(db, "sign_failed") == []
    assert not dialog.isVisible()
    [line] = window.detail.signatures.texts()
    assert line.startswith("✔ Investigator Example (investigator), approved, "
                           "2026-07-02 14:30:00 UTC, record through 2026-06-30")


def test_a_wrong_password_is_marked_at_the_field_audited_and_signs_nothing(
        open_window, patient, keyboard, dialogs, db):
    window = open_window("investigator")
    dialog = open_sign_dialog(window, keyboard, dialogs)
    dialog.password.setText("not-my-password")
    dialog.save_button.click()
    assert dialog.isVisible() and signatures(db) == []
    assert "wrong password" in dialog.errors.message("password")
    assert dialog.password.text() == ""
    assert len(audit_rows(db, "sign_failed")) == 1


def test_a_future_date_is_refused_at_the_field(open_window, patient, keyboard, dialogs, db):
    window = open_window("investigator")
    dialog = open_sign_dialog(window, keyboard, dialogs)
    dialog.through.setText((TODAY + timedelta(days=1)).isoformat())
    dialog.password.setText(PASSWORD)
    dialog.save_button.click()
    assert "future" in dialog.errors.message("through")
    assert signatures(db) == []


@pytest.mark.parametrize("role", ["nurse", "monitor", "admin"])
def test_other_roles_cannot_sign_in_the_window_nor_through_the_service(
        open_window, patient, keyboard, dialogs, db, message_log, role):
    window = open_window(role)
    sign = window.actions_by_name["sign"]
    assert not sign.isEnabled() and "Only investigators" in sign.toolTip()
    keyboard.shortcut(Qt.Key.Key_S, CTRL_SHIFT)
    window.sign_record()  # even called directly, the window does not offer the form
    assert dialogs.opened == []
    # A form built by hand still gets no further: the service refuses.
    ctx = context(db, role)
    with pytest.raises(PermissionDenied):
        sign_record(ctx, "101-001", TODAY, "reviewed", PASSWORD)
    record = window.current_row().record
    dialog = SignDialog(window.ctx, record, TODAY, window)
    dialog.password.setText(PASSWORD)
    dialog.save_button.click()
    assert signatures(db) == []
    [refusal] = message_log.take("error")
    assert f"{role} ({role}) may not sign record" in refusal.text
    dialog.close()


def test_a_later_change_inside_the_signed_period_shows_the_signature_invalid(
        open_window, patient, db, nurse):
    sign_record(context(db, "investigator"), "101-001", TODAY, "reviewed", PASSWORD)
    window = open_window("investigator")
    [line] = window.detail.signatures.texts()
    assert line.startswith("✔ ")
    first_record = dose_rows(db)[0]
    assert first_record.start_date == DAY1
    void_dose(nurse, first_record.id, "entered for the wrong patient")
    window.refresh()
    [line] = window.detail.signatures.texts()
    assert line.startswith("✘ NO LONGER VALID: Investigator Example (investigator), reviewed")
    assert (f"Why: Dose of {DAY1.isoformat()} (prednisone 20 mg QD) voided by Nurse "
            "Example on 2026-07-02 14:30 UTC (entered for the wrong patient). The record "
            "needs a new signature.") in line
    assert "dose_record" not in line and "void_dose" not in line
    [label] = window.detail.signatures.labels
    assert label.objectName() == "signature_invalid"


def test_a_site_bound_investigator_signs_only_their_sites(db, patient):
    ctx = context(db, "investigator")
    ctx.actor = Actor("investigator", "Investigator Example", "investigator",
                      sites=frozenset({"999"}))
    with pytest.raises(PermissionDenied):
        sign_record(ctx, "101-001", TODAY, "reviewed", PASSWORD)
    with UnitOfWork(db, write=False) as uow:
        assert uow.session.scalars(select(Signature)).first() is None


def test_a_deleted_signature_shows_as_missing_in_the_patient_pane(open_window, patient, db):
    sign_record(context(db, "investigator"), "101-001", TODAY, "reviewed", PASSWORD)
    with db.engine.begin() as conn:
        # The database refuses it (migration 0004): an attacker drops the trigger first.
        conn.execute(text("DROP TRIGGER signature_no_delete" if conn.dialect.name == "sqlite"
                          else "DROP TRIGGER signature_no_change ON signature"))
        conn.execute(text("DELETE FROM signature"))
    window = open_window("monitor")
    [line] = window.detail.signatures.texts()
    assert line.startswith("✘ MISSING: investigator signed (reviewed through 2026-07-02")
