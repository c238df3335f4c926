"""The main window when the database server cannot be reached: a banner, retries, recovery.

A lost server is not a dialog to dismiss again and again: the window keeps what it shows,
says so in the status bar and tries again on a timer until the server answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..storage.errors import DatabaseUnreachable
from .qt import QLabel, QMainWindow, QObject, QTimer

log = logging.getLogger(__name__)

#: How long to wait before trying the server again (tests shorten it or fire the timer).
RETRY_MS = 15_000

BANNER_STYLE = ("QLabel { background: #b3261e; color: white; font-weight: bold; "
                "padding: 2px 8px; border-radius: 3px; }")


class ConnectionWatch(QObject):
    """Shows a banner while the server is unreachable and calls ``retry`` on a timer."""

    def __init__(self, window: QMainWindow, retry: Callable[[], None], *,
                 retry_ms: int = RETRY_MS) -> None:
        super().__init__(window)
        self.window = window
        self.retry = retry
        self.banner = QLabel("Cannot reach the database server – retrying…")
        self.banner.setObjectName("connection_banner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setVisible(False)
        window.statusBar().addPermanentWidget(self.banner)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(retry_ms)
        self.timer.timeout.connect(self._try_again)
        self.attempts = 0

    @property
    def lost_connection(self) -> bool:
        return self.banner.isVisibleTo(self.window)

    def handle(self, exc: Exception) -> bool:
        """True if ``exc`` is a lost server (banner shown, retry planned); else False."""
        if not isinstance(exc, DatabaseUnreachable):
            return False
        if not self.lost_connection:
            log.warning("database server unreachable: %s", exc)
        self.banner.setToolTip(str(exc))
        self.banner.setVisible(True)
        seconds = max(1, round(self.timer.interval() / 1000))
        self.window.statusBar().showMessage(
            f"Showing the list as last loaded; trying again every {seconds} s (F5: now).")
        self.timer.start()
        return True

    def reached(self) -> None:
        """A load succeeded: hide the banner if it was up."""
        self.timer.stop()
        if self.lost_connection:
            log.info("database server reachable again after %d retries", self.attempts)
            self.banner.setVisible(False)
            self.window.statusBar().showMessage("Connected to the database server again.",
                                                10000)
        self.attempts = 0

    def _try_again(self) -> None:
        self.attempts += 1
        self.retry()
