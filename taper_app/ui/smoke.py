"""The packaging smoke test's driver (docs/packaging.md): the window signs in and closes by
itself, with no one at the screen, so that a build can be checked (.ci/smoke_frozen.py).

Not part of normal use: ``taper_app/__main__.py`` imports this module only when
``TAPER_SMOKE_QUIT_MS`` is set and the arguments open the window, and it acts only on Qt's
offscreen platform, where no one can see or use the window.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

#: The window closes itself this many milliseconds after it shows.
SMOKE_QUIT_ENV = "TAPER_SMOKE_QUIT_MS"
#: With SMOKE_QUIT_ENV: sign in as this user (password from TAPER_PASSWORD) by typing into
#: the sign-in dialog, as a person would; the password is checked as usual.
SMOKE_USER_ENV = "TAPER_SMOKE_USER"
#: The longest a smoke-tested window stays open, whatever happens: the hook checks a build,
#: it is not a way to keep a signed-in window around.
SMOKE_QUIT_MAX_MS = 60_000


def smoke_quit_ms(environ: Mapping[str, str]) -> int | None:
    """How long the window stays open in the packaging smoke test, or None for normal use.

    Only on Qt's offscreen platform (``QT_QPA_PLATFORM=offscreen``), where no one can see
    or use the window: on a screen the variables are ignored, so they cannot turn into an
    automatic sign-in, and message boxes are never silenced there.
    """
    text = environ.get(SMOKE_QUIT_ENV, "").strip()
    platform = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if not text.isdigit() or platform != "offscreen":
        return None
    return min(int(text), SMOKE_QUIT_MAX_MS)


def arm(environ: Mapping[str, str]) -> None:
    """Arm the driver if the variables ask for it on the offscreen platform; else say on
    stderr that they are ignored (the window then behaves as always)."""
    quit_ms = smoke_quit_ms(environ)
    if quit_ms is None:
        print(f"taper-app: {SMOKE_QUIT_ENV} ignored: it is for the packaging smoke test "
              "on the offscreen platform only", file=sys.stderr)
        return
    _arm(quit_ms)


def _arm(quit_ms: int) -> None:
    """Make the window close itself (the packaging smoke test): ``quit_ms`` after the main
    window is shown, or after a sign-in that did not lead to it, and in any case after
    SMOKE_QUIT_MAX_MS. Counting from what was shown, not from the start, keeps the check
    the same on a slow machine.

    Every top-level window shown is named on stdout (``smoke: shown <class>: <title>``);
    a message box is printed instead of shown (errors and warnings on stderr), so nothing
    modal can hang the test.
    """
    from . import messages
    from .app import application
    from .qt import QApplication, QLineEdit, QPushButton, QTimer, QWidget

    app = application()
    if app.platformName() != "offscreen":  # smoke_quit_ms checked the variable; Qt decides
        return
    log.warning("packaging smoke test: the window closes itself %d ms after it shows", quit_ms)
    user = os.environ.get(SMOKE_USER_ENV)
    seen: set[tuple[str, str]] = set()
    typed_into: set[int] = set()
    reported: set[int] = set()
    closing: list[str] = []  # why the close was scheduled, once

    def print_message(_parent: object, message: messages.Message) -> bool:
        stream = sys.stderr if message.kind in ("error", "warning") else sys.stdout
        print(f"smoke: {message.kind} message: {message.title}: {message.text}"
              + (f" ({message.detail})" if message.detail else ""), file=stream, flush=True)
        return False

    def close_later(reason: str, delay_ms: int) -> None:
        if not closing:
            closing.append(reason)
            QTimer.singleShot(delay_ms, app, quit_now)

    def sign_in(dialog: QWidget) -> None:
        """Type the user's name and own password into the sign-in dialog and press OK."""
        name = dialog.findChild(QLineEdit, "username")
        password = dialog.findChild(QLineEdit, "password")
        if name is None or password is None or id(dialog) in typed_into:
            return
        typed_into.add(id(dialog))  # once: a wrong password is not retried
        name.setText(user or "")
        password.setText(os.environ.get("TAPER_PASSWORD", ""))
        default = [b for b in dialog.findChildren(QPushButton) if b.isDefault()]
        if default:
            default[0].click()  # the password is checked off the GUI thread: see watch()

    def still_at_sign_in(dialog: QWidget) -> None:
        """Typed into and still shown once its check is done: refused, or a new password
        asked for (no main window)."""
        tasks = getattr(dialog, "tasks", None)
        if tasks is not None and tasks.busy():
            return  # the password is being checked
        if id(dialog) not in reported:
            reported.add(id(dialog))
            print("smoke: still at sign-in after typing the password", flush=True)
            close_later("sign-in did not open the main window", quit_ms)

    def watch() -> None:
        for widget in QApplication.topLevelWidgets():
            if not widget.isVisible():
                continue
            shown = (type(widget).__name__, widget.windowTitle())
            if shown not in seen:
                seen.add(shown)
                print(f"smoke: shown {shown[0]}: {shown[1]}", flush=True)
            if widget.inherits("QMainWindow"):
                close_later("main window shown", quit_ms)
            elif widget.inherits("QDialog"):
                if user and id(widget) in typed_into:
                    still_at_sign_in(widget)
                elif user:
                    sign_in(widget)
                else:
                    close_later("dialog shown, no user to sign in", quit_ms)

    def quit_now() -> None:
        reason = closing[0] if closing else f"nothing shown in {SMOKE_QUIT_MAX_MS} ms"
        print(f"smoke: closing ({reason})", flush=True)
        for widget in QApplication.topLevelWidgets():
            if widget.inherits("QDialog") and widget.isVisible():
                widget.close()  # a modal dialog's own event loop ends with it
        QApplication.closeAllWindows()
        app.quit()

    messages.set_presenter(print_message)
    watcher = QTimer(app)
    watcher.setInterval(100)
    watcher.timeout.connect(watch)
    watcher.start()
    QTimer.singleShot(SMOKE_QUIT_MAX_MS, app, quit_now)  # whatever happens, not forever
