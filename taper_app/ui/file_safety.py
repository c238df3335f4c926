"""Start-up safety for the window: a damaged study file is refused (and a backup offered),
and automatic backups are taken at start, every few hours and at close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..services.file_safety import (
    Restored,
    automatic_backup,
    backup_plan,
    check_study_file,
    restore_newest_good_backup,
)
from ..storage.engine import Database
from ..storage.errors import DatabaseError
from . import messages
from .qt import QMainWindow, QObject, QTimer
from .tasks import TaskRunner

log = logging.getLogger(__name__)


def check_before_opening(location: str,
                         clock: Callable[[], datetime]) -> tuple[bool, Restored | None]:
    """Check the study file before anything writes to it; on damage offer the newest good
    backup. Returns (go on?, the restore made if any); False: do not open it at all."""
    check = check_study_file(location)
    if check is not None and check.ok and check.behind_backup:
        if not messages.confirm(None, "The study file is not the one last backed up",
                                f"{check.behind_backup}\n\nOpen it anyway? Tell your data "
                                "manager first: `taper-app audit verify --head` with the head of "
                                "a printout or the backup shows which is the true record.\n\n"
                                "No: the window closes and nothing is changed."):
            log.warning("study file %s behind its newest backup: not opened", check.path)
            return False, None
        log.warning("study file %s behind its newest backup: opened anyway", check.path)
        return True, None
    if check is None or check.ok:
        return True, None
    if check.busy:
        messages.error(None, "The study file cannot be checked now",
                       f"{check.path} is in use by another program or cannot be opened, so "
                       "its integrity could not be checked. Nothing was changed. Close the "
                       "other program (or wait a moment) and start again.", check.problem)
        return False, None
    damaged = (f"The study file {check.path} is damaged (its integrity check failed). "
               "Taper Tracker will not write to a damaged file.")
    backup = check.newest_good_backup
    if backup is None:
        messages.error(None, "The study file is damaged",
                       f"{damaged} No good backup was found next to it. The file was not "
                       "changed: keep it and ask your data manager for help.", check.problem)
        return False, None
    made = datetime.fromtimestamp(backup.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    if not messages.confirm(None, "The study file is damaged",
                            f"{damaged}\n\nRestore the newest good backup ({backup.name}, "
                            f"saved {made})? Changes made after it are not in it. The damaged "
                            "file is kept beside it, never deleted.\n\nNo: the window closes "
                            "and nothing is changed.", check.problem):
        log.warning("damaged study file %s: restore declined; not opened", check.path)
        return False, None
    try:
        restored = restore_newest_good_backup(check, clock())
    except (OSError, DatabaseError) as exc:
        messages.error(None, "The backup could not be restored", str(exc),
                       "Nothing was deleted; the damaged file is as it was or kept aside.")
        return False, None
    messages.inform(None, "Backup restored",
                    f"The study file was restored from {restored.backup.name}. The damaged "
                    f"file is kept as {restored.damaged_kept_as.name}. The restore is "
                    "recorded in the audit trail once you sign in.")
    return True, restored


class AutomaticBackups(QObject):
    """Online backups of a SQLite study beside it (``<name>-backups``), rotated: one now,
    one every ``interval_hours`` (off the GUI thread) and one when the window closes."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *,
                 interval_ms: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.clock = clock
        plan = backup_plan(db)
        self.keep = plan.keep
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms if interval_ms is not None
                               else plan.interval_hours * 3600 * 1000)
        self.timer.timeout.connect(self._on_timer)
        self.window: QMainWindow | None = None
        self.tasks: TaskRunner | None = None
        self.made: list[Path] = []

    def backup_now(self, reason: str) -> Path | None:
        """A backup on this thread (start and close: it takes well under a second)."""
        try:
            path = automatic_backup(self.db, reason, self.clock, self.keep)
        except (OSError, DatabaseError) as exc:
            self._failed(reason, exc)
            return None
        self._done(reason, path)
        return path

    def attach(self, window: QMainWindow, tasks: TaskRunner) -> None:
        """Start the timer; the window calls :meth:`at_close` from its closeEvent."""
        self.window = window
        self.tasks = tasks
        self.setParent(window)
        window.backups = self  # type: ignore[attr-defined]
        self.timer.start()

    def _on_timer(self) -> None:
        if self.tasks is None:
            self.backup_now("timer")
            return
        self.tasks.submit(lambda: automatic_backup(self.db, "timer", self.clock, self.keep),
                          lambda path: self._done("timer", path),
                          lambda exc: self._failed("timer", exc))

    def at_close(self) -> None:
        self.timer.stop()
        self.backup_now("close")

    def _done(self, reason: str, path: Path | None) -> None:
        if path is None:
            return
        self.made.append(path)
        log.info("automatic backup (%s): %s", reason, path)
        if self.window is not None and reason == "timer":
            self.window.statusBar().showMessage(f"Backup saved: {path.name}", 10000)

    def _failed(self, reason: str, exc: Exception) -> None:
        if not isinstance(exc, (OSError, DatabaseError)):
            raise exc  # a bug, for the excepthook
        log.error("automatic backup (%s) failed: %s", reason, exc)
        messages.warning(self.window, "Automatic backup failed",
                         f"The {reason} backup of the study file could not be made: {exc}",
                         "Your data is saved in the study file; only the extra copy is "
                         "missing. Tell your data manager if this happens again.")
