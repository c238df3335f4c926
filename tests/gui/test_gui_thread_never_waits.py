"""The GUI thread never waits on the database: with the real thread pool (not the tests'
synchronous runner), switching patients, the reload after a save, the reload of a stale
form and the signature box send every statement from a worker thread. Over a network
each statement on the GUI thread would be a stall of the whole window."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from taper_app.services.signatures import sign_record
from taper_app.services.study import authenticate
from taper_app.storage.engine import Database
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, context, fixed_clock

from .conftest import DAY1, activate, dose, enroll


class StatementThreads:
    """Which thread sent each SQL statement (SQLAlchemy's own engine event)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_gui_thread: list[str] = []
        self.elsewhere = 0
        self.recording = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.recording:
            return
        if threading.current_thread() is threading.main_thread():
            self.on_gui_thread.append(statement.split("\n")[0][:120])
        else:
            self.elsewhere += 1


@pytest.fixture
def statements(db: Database) -> Iterator[StatementThreads]:
    recorder = StatementThreads(db)
    event.listen(db.engine, "before_cursor_execute", recorder)
    yield recorder
    event.remove(db.engine, "before_cursor_execute", recorder)


@pytest.fixture
def window(qtbot, db, study, statements) -> MainWindow:
    """An investigator's window on two patients, one signed, with the real thread pool."""
    nurse = context(db, "nurse")
    for subject in ("101-001", "101-002"):
        enroll(nurse, study, subject, DAY1)
        dose(nurse, study, subject, "20", DAY1)
    sign_record(context(db, "investigator"), "101-001", DAY1 + timedelta(days=10),
                "reviewed", PASSWORD)
    actor = authenticate(db, "investigator", PASSWORD, fixed_clock)
    tasks = TaskRunner(synchronous=False)
    w = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock, tasks=tasks)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    activate(qtbot, w)
    settle(qtbot, w)
    assert w.patients_model.rowCount() == 2
    return w


def settle(qtbot, w: MainWindow) -> None:
    """Until every piece of work handed to the pool has come back (no timing asserted)."""
    qtbot.waitUntil(lambda: not w.tasks.busy(), timeout=60_000)


def test_switching_patients_reads_the_signatures_off_the_gui_thread(qtbot, window,
                                                                    statements):
    statements.recording = True
    window.select_subject("101-002")
    settle(qtbot, window)
    assert window.detail.signatures.texts() == ["Not signed."]
    window.select_subject("101-001")
    settle(qtbot, window)
    statements.recording = False
    assert window.detail.signatures.texts()[0].startswith("✔ ")
    assert statements.on_gui_thread == []
    assert statements.elsewhere > 0  # the reads happened, in the pool


def test_the_reload_after_a_save_and_of_a_stale_form_are_off_the_gui_thread(
        qtbot, window, db, study, statements):
    window.select_subject("101-002")
    settle(qtbot, window)
    record = window.current_row().record
    # Another user saves a dose: the open form is stale, and this window's save is done.
    dose(context(db, "nurse"), study, "101-002", "15", DAY1 + timedelta(days=20))
    dialog = DoseDialog.new_dose(window.ctx, study, record, window)
    qtbot.addWidget(dialog)
    statements.recording = True
    window._rebase(dialog, "101-002")
    settle(qtbot, window)
    assert dialog.record.version > record.version  # the form goes on from the new record
    window.after_save("101-002", "101-002: dose saved")
    settle(qtbot, window)
    statements.recording = False
    assert len(window.current_row().record.doses) == 2
    assert statements.on_gui_thread == []
    assert statements.elsewhere > 0


def test_a_reload_overtaken_by_a_newer_one_is_dropped(qtbot, window, db, study):
    """The stale-result token: two reloads of one patient in flight, the older result (if
    it comes back last) never replaces the newer one."""
    window.select_subject("101-002")
    settle(qtbot, window)
    dose(context(db, "nurse"), study, "101-002", "15", DAY1 + timedelta(days=20))
    window.after_save("101-002", "first")
    dose(context(db, "nurse"), study, "101-002", "10", DAY1 + timedelta(days=30))
    window.after_save("101-002", "second")
    window.refresh()  # and the whole list after both
    settle(qtbot, window)
    assert len(window.current_row().record.doses) == 3


def test_a_dose_save_and_its_signed_period_check_are_off_the_gui_thread(
        qtbot, window, db, study, statements, message_log):
    """The form's Save: the signatures it would break read, the save written and the
    patient reloaded, all from the pool; the form waits (buttons off, Esc ignored), then
    closes once the save has committed."""
    window.select_subject("101-001")  # signed through Day 11: a dose inside breaks it
    settle(qtbot, window)
    dialog = DoseDialog.new_dose(window.ctx, study, window.current_row().record, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_date.setText((DAY1 + timedelta(days=5)).isoformat())
    dialog.end_date.setText((DAY1 + timedelta(days=5)).isoformat())
    dialog.dose_mg.setText("20")
    dialog.saved.connect(window.after_save)
    message_log.answers.append(True)  # "Save the change anyway?"
    before = len(window.current_row().record.doses)
    statements.recording = True
    dialog.save_button.click()
    assert dialog.saving and not dialog.buttons.isEnabled()
    dialog.reject()  # Esc while the save is on its way: it waits for the save
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60_000)
    settle(qtbot, window)
    statements.recording = False
    [asked] = message_log.take("question")
    assert "signed by" in asked.text
    assert len(window.current_row().record.doses) == before + 1
    assert statements.on_gui_thread == []
    assert statements.elsewhere > 0


def test_the_idle_lock_checks_the_password_off_the_gui_thread(qtbot, window, statements):
    """Unlocking: the password's check (a slow hash by design; through the server, the
    network too) in the pool, the lock's buttons off meanwhile, then the window back."""
    window.idle_lock.lock(now=True)
    lock = window.idle_lock.dialog
    assert lock is not None
    threads: list[bool] = []
    real = window.gateway.reauthenticate

    def recorded(password):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread() is threading.main_thread())
        return real(password)

    window.gateway.reauthenticate = recorded  # type: ignore[method-assign]
    lock.password.setText(PASSWORD)
    statements.recording = True
    lock.unlock_button.click()
    assert not lock.buttons.isEnabled() and window.idle_lock.is_locked
    qtbot.waitUntil(lambda: not window.idle_lock.is_locked, timeout=30_000)
    statements.recording = False
    assert threads == [False]
    assert statements.on_gui_thread == []
    assert window.isVisible()
