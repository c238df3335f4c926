"""Start-up: logging, then the command line or the window.

This file is also the entry script of the frozen program (build.spec), where it runs as a
plain script rather than as part of the package; hence the absolute imports.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping, Sequence

log = logging.getLogger("taper_app")

#: Packaging smoke test only (docs/packaging.md): the window closes itself this many
#: milliseconds after it shows, so a build can be checked with no one at the screen.
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


def setup_logging() -> None:
    from taper_app.paths import log_dir

    try:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_dir() / "taper-app.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def record_fatal_crashes() -> None:
    """faulthandler on, writing into the log folder (the window shows it at the next start)."""
    from taper_app import crash_log
    from taper_app.paths import log_dir

    try:
        folder = log_dir()
    except OSError as exc:
        log.warning("no crash log: the log folder cannot be made (%s)", exc)
        return
    crash_log.enable(folder)


def use_lasting_matplotlib_cache() -> None:
    """In the frozen program, keep matplotlib's font list between runs.

    PyInstaller's own run-time hook would hand matplotlib a new empty folder on every
    start (right for one-file builds, which unpack to a new place each time), so every
    chart or report would first rebuild the font list: seconds. build.spec leaves that
    hook out; the one-folder program keeps its fonts in one place, so the list lasts.
    """
    from taper_app.paths import cache_dir, is_frozen

    if is_frozen() and "MPLCONFIGDIR" not in os.environ:
        with contextlib.suppress(OSError):
            os.environ["MPLCONFIGDIR"] = str(cache_dir() / "matplotlib")


def prepare_frozen_qt() -> None:
    """In the frozen program, point Qt at the bundled plugins (the part of PyInstaller's
    PySide6 run-time hook this program needs; build.spec leaves the hook out).

    Setting a variable costs nothing, so it is done at every start, for the command line
    too, rather than finding out first whether the window opens. The hook's other work is
    not needed: PySide6's own QtCore gives Qt a ``qt.conf`` relative to where the module
    is, which in the bundle is the bundle; the hook imported QtCore (0.2 s) to check that
    at every start, even for ``taper-app --version``.
    """
    from taper_app.paths import bundle_dir, is_frozen

    if not is_frozen():
        return
    bundle = bundle_dir()
    qt_prefix = bundle / "PySide6" if sys.platform == "win32" else bundle / "PySide6" / "Qt"
    os.environ["QT_PLUGIN_PATH"] = str(qt_prefix / "plugins")


def _opens_window(argv: Sequence[str] | None) -> bool:
    """Whether these arguments open the window (no command), without acting on them."""
    from taper_app.cli import parser_for

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            args = list(sys.argv[1:] if argv is None else argv)
            return parser_for(args).parse_args(args).command is None
        except SystemExit:  # --help, --version, a usage error: cli.run deals with them
            return False


def _arm_smoke_quit(quit_ms: int) -> None:
    """Make the window close itself (the packaging smoke test): ``quit_ms`` after the main
    window is shown, or after a sign-in that did not lead to it, and in any case after
    SMOKE_QUIT_MAX_MS. Counting from what was shown, not from the start, keeps the check
    the same on a slow machine.

    Every top-level window shown is named on stdout (``smoke: shown <class>: <title>``);
    a message box is printed instead of shown (errors and warnings on stderr), so nothing
    modal can hang the test. Without the window in this build, does nothing: the command
    line then says so.
    """
    try:
        from taper_app.ui import messages
        from taper_app.ui.app import application
        from taper_app.ui.qt import QApplication, QLineEdit, QPushButton, QTimer, QWidget
    except ImportError:
        return
    app = application()
    if app.platformName() != "offscreen":  # smoke_quit_ms checked the variable; Qt decides
        return
    log.warning("packaging smoke test: the window closes itself %d ms after it shows", quit_ms)
    user = os.environ.get(SMOKE_USER_ENV)
    seen: set[tuple[str, str]] = set()
    typed_into: set[int] = set()
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
            default[0].click()  # checks the password there and then
        if dialog.isVisible():  # refused, or a new password asked for: no main window
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
                if user:
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


def main(argv: Sequence[str] | None = None) -> int:
    from taper_app.cli import run

    setup_logging()
    record_fatal_crashes()
    use_lasting_matplotlib_cache()
    prepare_frozen_qt()
    # Only the smoke test pays for finding out, before the command line runs, whether
    # these arguments open the window.
    if SMOKE_QUIT_ENV in os.environ and _opens_window(argv):
        quit_ms = smoke_quit_ms(os.environ)
        if quit_ms is not None:
            _arm_smoke_quit(quit_ms)
        else:
            print(f"taper-app: {SMOKE_QUIT_ENV} ignored: it is for the packaging smoke test "
                  "on the offscreen platform only", file=sys.stderr)
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
