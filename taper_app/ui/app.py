"""Starting the window: the Qt application, the file's integrity check, the database,
automatic backups, sign-in, then the main window.

Known errors (a database that cannot be opened) are messages; anything else is a bug
and goes to one excepthook that logs it and says where the log is.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import TracebackType

from .. import __version__, paths
from ..crash_log import SHOWN_CHARS, previous_crashes
from ..paths import app_icon
from ..remote import is_server_address
from ..services.audit import utc_now
from ..services.auth import SYSTEM
from ..services.context import ServiceContext
from ..services.errors import ServiceError
from ..services.file_safety import record_restore
from ..services.gateway import Connection, LocalConnection
from ..services.study import load_study
from ..storage.engine import open_database
from ..storage.errors import DatabaseError
from . import messages
from .file_safety import AutomaticBackups, check_before_opening
from .login import LoginDialog
from .main_window import RESET_DEMO, SIGN_IN_AGAIN, MainWindow
from .qt import QApplication, QIcon, QtMsgType, qInstallMessageHandler

log = logging.getLogger(__name__)
qt_log = logging.getLogger("qt")

_QT_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}


def _qt_message(kind: QtMsgType, _context: object, text: str) -> None:
    qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", text)


def application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Taper Tracker")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("TaperTracker")
    icon = app_icon()
    if icon.is_file():  # every window, the task bar and the dock show it
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _excepthook(kind: type[BaseException], value: BaseException,
                tb: TracebackType | None) -> None:
    log.critical("unexpected error", exc_info=(kind, value, tb))
    detail = "".join(traceback.format_exception_only(kind, value)).strip()
    messages.error(None, "Unexpected error",
                   "Something went wrong inside Taper Tracker. What was saved is safe; "
                   f"the details are in the log in {paths.log_dir()}.", detail)


def show_previous_crashes(folder: Path) -> int:
    """Say that an earlier run ended in a fatal crash, with faulthandler's trace (once per
    crash: the trace is kept in ``folder`` under a new name); how many there were."""
    crashes = previous_crashes(folder)
    if crashes:
        last = crashes[-1]
        more = f" ({len(crashes)} crashes since the last start)" if len(crashes) > 1 else ""
        trace = last.text if len(last.text) <= SHOWN_CHARS else \
            last.text[:SHOWN_CHARS] + "\n[...] (the rest is in the file)"
        messages.warning(
            None, "Taper Tracker closed unexpectedly",
            f"The last run of Taper Tracker ended in a crash on "
            f"{last.when:%Y-%m-%d at %H:%M} UTC{more}: {last.summary()}. What was saved "
            "before it is safe; anything being typed then was not saved. Please send the "
            f"file {last.path} to the study's support.", trace)
    return len(crashes)


def run_gui(location: str, *, today: Callable[[], date] = date.today,
            clock: Callable[[], datetime] = utc_now, log_folder: Path | None = None,
            reset_demo: Callable[[], None] | None = None) -> int:
    """Open the study at ``location``, ask who is working, show the window; exit status.

    A fatal crash of an earlier run (the trace faulthandler left in ``log_folder``, the
    log folder unless given) is shown first. ``reset_demo``: the study is the demo, and
    this rebuilds it (the window's Study > Reset the demo study)."""
    app = application()
    previous_handler = qInstallMessageHandler(_qt_message)
    previous_hook = sys.excepthook
    sys.excepthook = _excepthook
    try:
        try:
            show_previous_crashes(paths.log_dir() if log_folder is None else log_folder)
        except OSError as exc:  # no log folder: nothing to show, and nothing to stop for
            log.warning("earlier crashes not checked: %s", exc)
        if is_server_address(location):
            from ..remote.gateway import ServerConnection

            return run_through_server(app, ServerConnection(location), today=today,
                                      clock=clock)
        go_on, restored = check_before_opening(location, clock)
        if not go_on:
            return 1
        try:
            db = open_database(location)
        except DatabaseError as exc:
            messages.error(None, "Cannot open the study", str(exc))
            return 1
        try:
            study = load_study(db)
            backups = None
            if db.is_sqlite:  # a server's own backups cover PostgreSQL (docs/multi-site.md)
                backups = AutomaticBackups(db, clock)
                backups.backup_now("start")
            status: int | None = None  # no window yet
            while True:  # one session a turn: Switch user comes back to the sign-in
                actor = LoginDialog.ask(LocalConnection(db), study, clock)
                if actor is None:
                    if restored is not None:  # nobody signed in: recorded as the application
                        record_restore(ServiceContext(db, SYSTEM, clock, today), restored)
                    if backups is not None and status is None:  # (a window's close made one)
                        backups.backup_now("close")
                    return status or 0
                if restored is not None:
                    record_restore(ServiceContext(db, actor, clock, today), restored)
                    restored = None
                window = MainWindow(db, study, actor, today=today, clock=clock,
                                    demo=reset_demo is not None)
                if backups is not None:
                    backups.attach(window, window.tasks)
                window.show_for_screen()
                log.info("%s (%s) signed in to %s", actor.username, actor.role, study.name)
                status = int(app.exec())
                next_step, backups = window.next_step, None
                # Nothing of this user's stays: the window, its forms and views go.
                window.deleteLater()
                if next_step not in (SIGN_IN_AGAIN, RESET_DEMO) or status != 0:
                    return status
                if next_step == RESET_DEMO and reset_demo is not None:
                    db.dispose()
                    reset_demo()
                    db = open_database(location)
                    study = load_study(db)
                if db.is_sqlite:  # the next user's window backs up as the first did
                    backups = AutomaticBackups(db, clock)
        except (DatabaseError, ServiceError) as exc:
            messages.error(None, "Cannot open the study", str(exc))
            return 1
        finally:
            db.dispose()
    finally:
        sys.excepthook = previous_hook
        qInstallMessageHandler(previous_handler)


def run_through_server(app: QApplication, connection: Connection, *,
                       today: Callable[[], date] = date.today,
                       clock: Callable[[], datetime] = utc_now) -> int:
    """The window through the application server (``connection``: remote/gateway.py's
    ServerConnection): a session a turn, as on a file (sign in, the window; Switch user
    signs the next user in). The laptop opens no database and holds no database login;
    the server names the study after sign-in."""
    try:
        status: int | None = None
        while True:
            actor = LoginDialog.ask(connection, None, clock)
            if actor is None:
                return status or 0
            gateway = connection.open(actor, clock, today)
            try:
                study = gateway.load_study()
            except ServiceError as exc:
                messages.error(None, "Cannot open the study", str(exc))
                return 1
            window = MainWindow(gateway, study, actor, today=today, clock=clock)
            window.show_for_screen()
            log.info("%s (%s) signed in to %s at %s", actor.username, actor.role, study.name,
                     connection.shown_location)
            status = int(app.exec())
            next_step = window.next_step
            window.deleteLater()
            if next_step != SIGN_IN_AGAIN or status != 0:
                return status
    finally:
        connection.close()  # a session still open (the window closed) is signed out
