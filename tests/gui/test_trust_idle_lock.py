"""The idle lock: hides the window and any half-typed form, unlocks with the signed-in
user's password only, audits failures, and signing out saves nothing."""

from __future__ import annotations

from taper_app.services.accounts import change_password
from taper_app.services.settings import set_setting
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.qt import QApplication, QLineEdit, Qt
from tests.conftest import PASSWORD, context
from tests.gui.conftest import audit_rows, dose_rows


class SteadyClock:
    """Stands in for the monotonic clock: tests move time on instead of waiting."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def watched(window, minutes_idle: float = 0) -> SteadyClock:
    clock = SteadyClock()
    window.idle_lock.now = clock
    window.idle_lock.last_input = clock()
    clock.seconds += minutes_idle * 60
    return clock


def half_typed_dose(window, keyboard, dialogs) -> DoseDialog:
    keyboard.shortcut(Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    form = dialogs.last(DoseDialog)
    keyboard.replace("prednisone")
    keyboard.tab()
    keyboard.replace("12.5")
    form.comment.setFocus()
    keyboard.type("patient said: half a tablet less")
    return form


def test_the_window_locks_after_the_idle_minutes_and_not_before(open_window, patient, db):
    window = open_window("nurse")
    assert window.idle_lock.minutes == 15  # the setting's default
    clock = watched(window, minutes_idle=14.9)
    window.idle_lock.check_idle()
    assert not window.idle_lock.is_locked and window.isVisible()
    clock.seconds += 6
    window.idle_lock.check_idle()
    assert window.idle_lock.is_locked
    assert not window.isVisible()
    assert window.idle_lock.dialog is not None and window.idle_lock.dialog.isVisible()


def test_input_restarts_the_idle_time(open_window, patient, keyboard, qtbot):
    window = open_window("nurse")
    clock = watched(window, minutes_idle=14)
    keyboard.shortcut(Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # any key counts
    clock.seconds += 10 * 60
    window.idle_lock.check_idle()
    assert not window.idle_lock.is_locked


def test_the_idle_minutes_come_from_the_setting(open_window, patient, db):
    set_setting(context(db, "admin"), "idle_lock_minutes", "5", "shared ward computer")
    window = open_window("nurse")
    clock = watched(window, minutes_idle=5)
    assert window.idle_lock.minutes == 5
    window.idle_lock.check_idle()
    assert window.idle_lock.is_locked
    assert clock() - window.idle_lock.last_input == 5 * 60


def test_a_half_typed_dose_form_is_hidden_kept_and_comes_back_after_unlocking(
        open_window, patient, keyboard, dialogs, db, qtbot):
    window = open_window("nurse")
    form = half_typed_dose(window, keyboard, dialogs)
    typed = form.fields()
    records_before = len(dose_rows(db))
    watched(window, minutes_idle=15)
    window.idle_lock.check_idle()
    lock = window.idle_lock.dialog
    assert lock is not None
    assert not form.isVisible() and not window.isVisible()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is lock.password, timeout=2000)

    keyboard.type(PASSWORD)
    keyboard.enter()

    assert not window.idle_lock.is_locked
    assert window.isVisible() and form.isVisible()
    assert form.fields() == typed  # every keystroke kept
    assert form.result() == 0 and len(dose_rows(db)) == records_before  # nothing saved
    [unlock] = audit_rows(db, "unlock")
    assert unlock.username == "nurse"
    # ...and the form still saves normally afterwards.
    form.deviation_reason.setText("patient's own choice")
    form.save()
    assert len(dose_rows(db)) == records_before + 1


def test_a_wrong_password_keeps_it_locked_and_is_audited(open_window, patient, keyboard, db,
                                                         qtbot):
    window = open_window("nurse")
    watched(window, minutes_idle=15)
    window.idle_lock.check_idle()
    lock = window.idle_lock.dialog
    assert lock is not None
    qtbot.waitUntil(lambda: QApplication.focusWidget() is lock.password, timeout=2000)
    keyboard.type("not-the-password")
    keyboard.enter()
    assert window.idle_lock.is_locked and not window.isVisible()
    assert lock.errors.message("password") == "wrong password"
    assert lock.password.text() == ""
    [failed] = audit_rows(db, "unlock_failed")
    assert (failed.username, failed.field, failed.new_value) == ("nurse", "failed_logins", "1")
    keyboard.press(Qt.Key.Key_Escape)  # Esc does not get past the lock
    assert window.idle_lock.is_locked and lock.isVisible()


def test_five_wrong_passwords_at_the_lock_lock_the_account(open_window, patient, db):
    window = open_window("nurse")
    watched(window, minutes_idle=15)
    window.idle_lock.check_idle()
    lock = window.idle_lock.dialog
    assert lock is not None
    for _ in range(5):
        lock.password.setText("not-the-password")
        lock.unlock_button.click()
    lock.password.setText(PASSWORD)
    lock.unlock_button.click()
    assert window.idle_lock.is_locked
    assert "locked until" in lock.errors.message("password")
    assert len(audit_rows(db, "lock_account")) == 1


def test_another_users_password_does_not_take_over_the_session(open_window, patient, db):
    change_password(db, "investigator", PASSWORD, "investigators-own-password")
    window = open_window("nurse")
    watched(window, minutes_idle=15)
    window.idle_lock.check_idle()
    lock = window.idle_lock.dialog
    assert lock is not None
    assert lock.findChild(QLineEdit, "username") is None  # no way to name another user
    lock.password.setText("investigators-own-password")
    lock.unlock_button.click()
    assert window.idle_lock.is_locked and not window.isVisible()
    assert window.actor.username == "nurse"
    [failed] = audit_rows(db, "unlock_failed")
    assert failed.username == "nurse"


def test_signing_out_from_the_lock_closes_everything_and_saves_nothing(
        open_window, patient, keyboard, dialogs, db, message_log):
    window = open_window("nurse")
    form = half_typed_dose(window, keyboard, dialogs)
    records_before = len(dose_rows(db))
    watched(window, minutes_idle=15)
    window.idle_lock.check_idle()
    lock = window.idle_lock.dialog
    assert lock is not None
    message_log.answers.append(True)  # "Sign out and close the window?" yes
    lock.sign_out_button.click()
    assert [m.title for m in message_log.take("question")] == ["Sign out"]
    assert not window.isVisible() and not form.isVisible()
    assert form.result() == 0  # rejected: Cancel, not Save
    assert len(dose_rows(db)) == records_before
    [out] = audit_rows(db, "sign_out")
    assert out.username == "nurse"


def test_a_closed_windows_lock_never_fires_nor_hides_another_window(open_window, patient):
    closed = open_window("nurse")
    closed.close()
    current = open_window("investigator")
    watched(closed, minutes_idle=60)
    closed.idle_lock.check_idle()
    assert not closed.idle_lock.is_locked and current.isVisible()
    # The current window's lock hides only what belongs to it.
    watched(current, minutes_idle=15)
    current.idle_lock.check_idle()
    assert current.idle_lock.is_locked and not current.isVisible()
