"""The window when the PostgreSQL server goes away: a real server, stopped and started
again mid-test. A save says so and keeps the form; the list shows a banner and retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taper_app.services.audit import verify_chain
from taper_app.services.study import authenticate, load_study
from taper_app.storage.engine import Database, DatabaseUnreachable, open_database
from taper_app.storage.uow import UnitOfWork
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import Qt
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, _pg_exec, context, fixed_clock, make_study
from tests.pgserver import PostgresServer, _run, throwaway_server

from .conftest import DAY1, activate, audit_rows, dose, dose_rows, enroll

pytestmark = pytest.mark.postgres

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of this test's own (the shared one must not be stopped under other tests)."""
    with throwaway_server("taper-pg-down-") as server:
        yield server


def go_down(server: PostgresServer) -> None:
    """The server goes away mid-session (pg_ctl stop -m fast): connections drop at once.

    Not ``server.stop()``: that is an immediate stop, and this throw-away server runs with
    ``synchronous_commit=off``, so it could lose what the fixture committed just before
    and fail the "nothing lost" checks for a reason that has nothing to do with the app.
    """
    _run(server, [str(server.bindir / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast",
                  "-w", "stop"])


def start_again(server: PostgresServer) -> None:
    """pg_ctl start with the options start_server used: same folder, same port."""
    base = server.data_dir.parent
    _run(server, [str(server.bindir / "pg_ctl"), "-D", str(server.data_dir), "-l",
                  str(base / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off", "start"])


@pytest.fixture
def central(server: PostgresServer) -> Iterator[Database]:
    """The example study on the test's server, with 101-001 enrolled and dosed."""
    _pg_exec(server, "CREATE DATABASE study")
    db = make_study(server.url("study"))
    nurse = context(db, "nurse")
    study = load_study(db)
    enroll(nurse, study, "101-001", DAY1)
    dose(nurse, study, "101-001", "20", DAY1)
    yield db
    db.dispose()


@pytest.fixture
def window(qtbot, central: Database) -> MainWindow:
    actor = authenticate(central, "nurse", PASSWORD, fixed_clock)
    window = MainWindow(central, load_study(central), actor, today=lambda: TODAY,
                        clock=fixed_clock, tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    activate(qtbot, window)
    assert window.current_subject() == "101-001"
    return window


def test_a_save_while_the_server_is_down_says_so_keeps_the_form_and_writes_nothing(
        window, server, central, keyboard, dialogs, message_log):
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    keyboard.replace("12")
    for _ in range(15):  # Tab on to the reason, as a nurse would
        if keyboard.focus is form.deviation_reason:
            break
        keyboard.tab()
    assert keyboard.focus is form.deviation_reason
    keyboard.type("flare, taper slowed")
    typed = form.fields()
    audit_before = len(audit_rows(central))

    go_down(server)
    keyboard.enter()

    [shown] = message_log.take("error")
    assert "Cannot reach the database server" in shown.text
    assert "nothing was saved" in shown.text and "still in the form" in shown.detail
    assert form.isVisible() and form.fields() == typed

    start_again(server)
    assert len(dose_rows(central)) == 1, "nothing half-written while the server was down"
    assert len(audit_rows(central)) == audit_before
    keyboard.enter()  # the same form, as typed: Save again

    assert not form.isVisible()
    rows = dose_rows(central)
    assert len(rows) == 2 and rows[-1].deviation_reason == "flare, taper slowed"
    with UnitOfWork(central, write=False) as uow:
        assert verify_chain(uow.session).ok
    assert message_log.take() == []


def test_the_list_shows_a_banner_retries_and_recovers(window, server, message_log):
    banner = window.connection.banner
    assert not banner.isVisible()

    go_down(server)
    window.actions_by_name["refresh"].trigger()  # F5

    assert banner.isVisible() and window.connection.timer.isActive()
    assert "trying again every 15 s" in window.statusBar().currentMessage()
    assert window.patients_model.rowCount() == 1  # what was loaded is still shown
    assert message_log.take() == []  # a banner, not a message box to dismiss

    window.connection.timer.timeout.emit()  # a retry while the server is still down
    assert banner.isVisible() and window.connection.timer.isActive()
    assert window.connection.attempts == 1

    start_again(server)
    window.connection.timer.timeout.emit()

    assert not banner.isVisible() and not window.connection.timer.isActive()
    assert "again" in window.statusBar().currentMessage()
    assert window.current_subject() == "101-001"


def test_the_retry_timer_fires_by_itself(qtbot, window, server):
    window.connection.timer.setInterval(50)
    go_down(server)
    window.refresh()
    assert window.connection.banner.isVisible()
    start_again(server)
    qtbot.waitUntil(lambda: not window.connection.banner.isVisible(), timeout=30000)
    assert window.patients_model.rowCount() == 1


def test_opening_a_study_on_a_stopped_server_is_a_clear_error(server, central):
    go_down(server)
    with pytest.raises(DatabaseUnreachable, match="Cannot reach the database server"):
        open_database(server.url("study"))
