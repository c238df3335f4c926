"""Signing in, and starting the window from the command line's door (run_gui)."""

from __future__ import annotations

import pytest

from taper_app.services.auth import Actor
from taper_app.services.gateway import LocalConnection
from taper_app.services.study import authenticate
from taper_app.ui import app as ui_app
from taper_app.ui.login import LoginDialog
from taper_app.ui.qt import QDialog
from tests.conftest import PASSWORD, fixed_clock

from .conftest import activate, audit_rows


@pytest.fixture
def login(qtbot, db, study) -> LoginDialog:
    dialog = LoginDialog(LocalConnection(db), study, fixed_clock)
    qtbot.addWidget(dialog)
    dialog.show()
    activate(qtbot, dialog)
    return dialog


def test_signing_in_with_the_keyboard(login, db, keyboard):
    assert keyboard.focus is login.username
    assert "EXAMPLE-IIM-01" in login.windowTitle()
    keyboard.type("admin")
    keyboard.tab()
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert login.result() == QDialog.DialogCode.Accepted
    assert login.actor == Actor("admin", "Ada Admin", "admin")
    assert audit_rows(db, "sign_in")[-1].username == "admin"


def test_the_first_sign_in_asks_for_a_new_password(login, db, keyboard):
    keyboard.type("nurse")  # added by the admin: must choose a password of her own
    keyboard.tab()
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert login.changing_password() and login.result() == 0
    assert keyboard.focus is login.new_password
    keyboard.type("short")
    keyboard.tab()
    keyboard.type("short")
    keyboard.enter()
    assert "at least 10 characters" in login.errors.message("new_password")
    login.new_password.setFocus()
    keyboard.replace("nurse-own-password")
    keyboard.tab()
    keyboard.replace("nurse-own-passwort")
    keyboard.enter()
    assert "differ" in login.errors.message("repeat_password")
    keyboard.type("nurse-own-password")
    keyboard.enter()

    assert login.result() == QDialog.DialogCode.Accepted
    assert login.actor == Actor("nurse", "Nurse Example", "nurse")
    [changed] = audit_rows(db, "change_password")
    assert (changed.username, changed.entity_id) == ("nurse", "nurse")
    again = authenticate(db, "nurse", "nurse-own-password", fixed_clock)
    assert not again.must_change_password


def test_a_wrong_password_is_said_in_place_and_asked_again(login, db, keyboard):
    keyboard.type("admin")
    keyboard.tab()
    keyboard.type("not-the-password")
    keyboard.enter()
    assert login.isVisible() and login.actor is None
    assert "unknown user or wrong password" in login.errors.message("password")
    assert login.password.text() == "" and keyboard.focus is login.password
    failed = audit_rows(db, "sign_in_failed")
    assert [(a.username, a.field) for a in failed] == [("admin", "failed_logins")]
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert login.actor is not None and login.actor.role == "admin"


def test_a_user_name_is_needed(login, db, keyboard):
    keyboard.enter()
    assert "enter your user name" in login.errors.message("username")
    assert audit_rows(db, "sign_in_failed") == []


def test_run_gui_signs_in_and_shows_the_window_titled_for_the_user(
        db_path, db, nurse_started, qtbot):
    assert ui_app.run_gui(str(db_path)) == 0
    [window] = nurse_started
    assert window.windowTitle() == "EXAMPLE-IIM-01 – Nurse Example (nurse) – Taper Tracker"


def test_run_gui_ends_quietly_when_nobody_signs_in(db_path, db, monkeypatch):
    monkeypatch.setattr(LoginDialog, "ask", classmethod(lambda cls, *a, **k: None))
    assert ui_app.run_gui(str(db_path)) == 0


def test_run_gui_says_why_a_study_cannot_be_opened(tmp_path, message_log):
    assert ui_app.run_gui(str(tmp_path / "missing.sqlite")) == 1
    [shown] = message_log.take("error")
    assert shown.title == "Cannot open the study" and "no database at" in shown.text


def test_the_password_is_checked_off_the_gui_thread_with_the_buttons_off(qtbot, db, study):
    """The password hash is slow by design (and through the server the check waits on the
    network): the window's sign-in checks it in the pool, then signs in on the GUI thread."""
    import threading

    from taper_app.ui.tasks import TaskRunner

    connection = LocalConnection(db)
    threads: list[bool] = []
    real = connection.authenticate

    def recorded(*args):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args)

    connection.authenticate = recorded  # type: ignore[method-assign]
    dialog = LoginDialog(connection, study, fixed_clock, tasks=TaskRunner())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.username.setText("admin")
    dialog.password.setText(PASSWORD)
    dialog.next_step()
    assert not dialog.buttons.isEnabled()
    dialog.reject()  # Esc while the password is checked: it waits
    qtbot.waitUntil(lambda: dialog.actor is not None, timeout=30_000)
    assert threads == [False]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.actor == Actor("admin", "Ada Admin", "admin")
