"""Waiting for a save, a sign-in or a signature without freezing the window.

A form's service call can take a while: a password's scrypt, a commit's fsync, and through
the application server a network round trip or two. Run on the GUI thread, the window would
neither paint nor answer meanwhile. :func:`wait_for` runs the call in a worker thread and
keeps the GUI thread's event loop turning until it is done, so the caller still gets its
result (or its exception) in order, as from a plain call.

While it waits, the user's input to every window of the program is held back (keys, mouse,
wheel, closing a window), so a second Enter cannot save twice and nothing else starts on
top of the save; the pointer shows that the program is busy. The idle lock does not lock
in the middle of a save (:func:`busy`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from .qt import QApplication, QEvent, QEventLoop, QObject, Qt, Signal

T = TypeVar("T")

#: The events held back while waiting: what a user does, not what the program does.
HELD_BACK = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride,
    QEvent.Type.Shortcut, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel, QEvent.Type.Close,
    QEvent.Type.ContextMenu, QEvent.Type.TouchBegin, QEvent.Type.TabletPress})

_waiting = 0


def busy() -> bool:
    """Whether a call is being waited for (the GUI thread is inside :func:`wait_for`)."""
    return _waiting > 0


class _Done(QObject):
    finished = Signal()


class _HoldInput(QObject):
    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if event.type() in HELD_BACK:
            event.ignore()
            return True
        return False


def wait_for(work: Callable[[], T]) -> T:
    """``work()``, run in a worker thread while the GUI thread keeps painting; its result,
    or the exception it raised. Without a Qt application (the command line), a plain call.
    ``work`` must not touch widgets: it runs outside the GUI thread."""
    global _waiting
    app = QApplication.instance()
    if app is None:
        return work()
    outcome: list[object] = []
    failure: list[BaseException] = []
    done = _Done()
    loop = QEventLoop()
    done.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed back to the GUI thread, raised there
            failure.append(exc)
        finally:
            done.finished.emit()

    holder = _HoldInput()
    app.installEventFilter(holder)
    QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
    _waiting += 1
    try:
        worker = threading.Thread(target=run, name="taper-wait", daemon=True)
        worker.start()
        loop.exec()
        worker.join()
    finally:
        _waiting -= 1
        QApplication.restoreOverrideCursor()
        app.removeEventFilter(holder)
    if failure:
        raise failure[0]
    return outcome[0]  # type: ignore[return-value]
