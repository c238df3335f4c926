"""The idle lock: after N minutes without input the window hides and asks for the password.

An application-wide event filter notes each key press, click, wheel or touch. When the
setting's minutes pass without one, every open window (the main window and any form) is
hidden, never closed, so a half-typed form comes back exactly as it was. Only the
signed-in user can unlock (``services.study.reauthenticate``, through the window's door:
failures are audited and count toward locking the account); anyone else can only sign
that user out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..services.auth import Actor
from ..services.errors import AuthenticationFailed, Problem, ServiceError
from ..services.gateway import StudyGateway
from ..storage.errors import DatabaseError
from . import messages
from .forms import ServiceDialog
from .qt import (
    QApplication,
    QCloseEvent,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QEvent,
    QFormLayout,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QLineEdit,
    QObject,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .tasks import TaskRunner
from .widgets import FORM_STYLE, FieldErrors, em, line_edit

log = logging.getLogger(__name__)

#: What counts as someone using the window (moving the mouse alone does not: a bumped
#: desk should not keep a patient's record on screen).
INPUT_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress,
                          QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel,
                          QEvent.Type.TouchBegin, QEvent.Type.ShortcutOverride})

#: The events the idle lock looks at: input, and the window closing.
WATCHED_EVENTS = INPUT_EVENTS | {QEvent.Type.Close}

#: How often the idle time is looked at; the lock comes at most this late.
CHECK_EVERY_MS = 10_000


class LockDialog(QDialog):
    """Asks the signed-in user's password; cannot be closed or escaped, only unlocked
    or used to sign out."""

    unlock_requested = Signal()
    sign_out_requested = Signal()

    def __init__(self, actor: Actor, minutes: int | None, parent: QWidget | None = None) -> None:
        # A child of the window so it goes with it, but its own window: it shows while
        # the window it covers is hidden.
        super().__init__(parent)
        self.setObjectName("idle_lock")
        self.setWindowTitle("Taper Tracker – locked")
        self.setStyleSheet(FORM_STYLE)
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self._closing = False
        why = ("The window was locked." if minutes is None else
               f"The window locked after {minutes} minute{'s' * (minutes != 1)} without use.")
        intro = QLabel(f"{why}<br><b>{actor.full_name}</b> ({actor.username}) is "
                       "signed in: enter your password to go on. Anything you were typing "
                       "is kept as it was. Someone else can sign in after signing "
                       f"{actor.full_name} out.")
        intro.setWordWrap(True)
        general = QLabel()
        self.errors = FieldErrors(general)
        self.password = line_edit("password", "password")
        self.password.setEchoMode(self.password.EchoMode.Password)
        form = QFormLayout()
        form.addRow("&Password:", self.errors.field("password", self.password))
        self.buttons = QDialogButtonBox()
        self.unlock_button = self.buttons.addButton("&Unlock",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.unlock_button.setObjectName("unlock")
        self.unlock_button.setDefault(True)
        self.sign_out_button = self.buttons.addButton(
            "Sign &out / switch user", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.sign_out_button.setObjectName("sign_out")
        self.sign_out_button.setAutoDefault(False)
        self.sign_out_button.setToolTip("Close the window without saving open forms; the "
                                        "sign-in then asks who is working")
        self.unlock_button.clicked.connect(self.unlock_requested)
        self.sign_out_button.clicked.connect(self.sign_out_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(general)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 36))
        self.adjustSize()

    def reject(self) -> None:
        """Esc does not get past the lock."""

    def finish(self) -> None:
        self._closing = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            super().closeEvent(event)
        else:
            event.ignore()


class IdleLock(QObject):
    """Watches the application's input for ``window`` and locks it after ``minutes``."""

    locked = Signal()
    unlocked = Signal()
    signed_out = Signal()

    def __init__(self, window: QWidget, gateway: StudyGateway, minutes: int, *,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self.window = window
        self.gateway = gateway
        self.actor = gateway.actor
        self.minutes = minutes
        #: Seconds on a steady clock; tests replace it instead of waiting.
        self.now = now
        self.last_input = now()
        self.dialog: LockDialog | None = None
        self._hidden: list[QWidget] = []
        self._was_active: QWidget | None = None
        #: Where the keyboard was in each hidden window (widget, cursor position), to put
        #: it back on unlocking with nothing selected.
        self._focus: dict[QWidget, tuple[QWidget, int | None]] = {}
        #: The keys that lock at once (the window's Lock now), from any of its windows:
        #: a form open in front of the window keeps the window's own shortcut from firing.
        self.lock_keys: QKeySequence | None = None
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_EVERY_MS)
        self.timer.timeout.connect(self.check_idle)
        self.timer.start()

    @property
    def is_locked(self) -> bool:
        return self.dialog is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # It sees every event of the program (a few thousand while a window is built and
        # painted): the type is read once, and anything but input and a close goes at once.
        kind = event.type()
        if kind not in WATCHED_EVENTS:
            return False
        if (self.dialog is None and self.lock_keys is not None
                and kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and isinstance(watched, QWidget) and self._belongs(watched.window())
                and QKeySequence(event.keyCombination()) == self.lock_keys):
            self.lock(now=True)
            return True
        if self.dialog is None and kind in INPUT_EVENTS:
            self.last_input = self.now()
        elif (self.dialog is not None and watched is self.window
              and kind == QEvent.Type.Close):
            self._close_lock()  # the window is going away (quit, shutdown): so does the lock
        return False  # only counts; every other event goes on as before

    def idle_seconds(self) -> float:
        return self.now() - self.last_input

    def check_idle(self) -> None:
        # A closed window has nothing to protect (and must not lock another one).
        if (self.dialog is None and self.window.isVisible()
                and self.idle_seconds() >= self.minutes * 60):
            self.lock()

    def _belongs(self, widget: QWidget) -> bool:
        """The window itself, or a dialog opened from it (its parent chain leads to it)."""
        parent: QWidget | None = widget
        while parent is not None:
            if parent is self.window:
                return True
            parent = parent.parentWidget()
        return False

    def lock(self, *, now: bool = False) -> None:
        """Hide every window (keeping its state) and show the lock; ``now``: asked for
        (Ctrl+L), not after the idle minutes."""
        if self.dialog is not None:
            return
        if now:
            log.info("window locked by its user")
        else:
            log.info("window locked after %s idle minutes", self.minutes)
        self._was_active = QApplication.activeWindow()
        windows = [w for w in QApplication.topLevelWidgets()
                   if w.isVisible() and self._belongs(w)
                   and w.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)]
        # The main window first, so dialogs come back on top of it.
        self._hidden = sorted(windows, key=lambda w: w is not self.window)
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible() and widget.windowType() in (Qt.WindowType.Popup,
                                                              Qt.WindowType.ToolTip,
                                                              Qt.WindowType.Sheet):
                widget.hide()  # an open list or tooltip is not worth bringing back
        self._focus = {}
        for widget in self._hidden:
            focused = widget.focusWidget()
            if focused is not None:
                self._focus[widget] = (focused, _cursor_of(focused))
        for widget in reversed(self._hidden):
            widget.hide()
        self.dialog = LockDialog(self.actor, None if now else self.minutes, self.window)
        self.dialog.unlock_requested.connect(self.try_unlock)
        self.dialog.sign_out_requested.connect(self.sign_out)
        self.dialog.show()
        self.dialog.activateWindow()
        self.dialog.password.setFocus()
        self.locked.emit()

    def try_unlock(self) -> None:
        dialog = self.dialog
        if dialog is None:
            return
        password = dialog.password.text()
        dialog.password.clear()
        gateway = self.gateway
        tasks = getattr(self.window, "tasks", None)
        if not isinstance(tasks, TaskRunner):  # a window without a runner: checked here
            try:
                gateway.reauthenticate(password)
            except Exception as exc:
                self._not_unlocked(dialog, exc)
                return
            self._unlock()
            return
        # The password hash is slow by design, and through the server the check waits on
        # the network: off the GUI thread, the lock's buttons off meanwhile.
        dialog.buttons.setEnabled(False)

        def unlocked(_actor: Actor) -> None:
            dialog.buttons.setEnabled(True)
            if self.dialog is dialog:
                self._unlock()

        def refused(exc: Exception) -> None:
            dialog.buttons.setEnabled(True)
            if self.dialog is dialog:
                self._not_unlocked(dialog, exc)

        tasks.submit(lambda: gateway.reauthenticate(password), unlocked, refused)

    def _not_unlocked(self, dialog: LockDialog, exc: Exception) -> None:
        if isinstance(exc, AuthenticationFailed):
            # Only this user can unlock, so "unknown user" would only confuse.
            text = str(exc).replace("unknown user or wrong password", "wrong password")
            dialog.errors.show([Problem("password", text)])
            dialog.password.setFocus()
        elif isinstance(exc, (ServiceError, DatabaseError)):
            messages.error(dialog, "Cannot unlock", str(exc),
                           "Try again, or sign out (open forms are not saved).")
        else:
            raise exc  # a bug: the excepthook's

    def _close_lock(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.finish()
            dialog.deleteLater()

    def _unlock(self) -> None:
        self._close_lock()
        for widget in self._hidden:
            widget.show()
        active = self._was_active if self._was_active in self._hidden else None
        for focused, cursor in self._focus.values():
            _put_back(focused, cursor)
        self._hidden, self._focus = [], {}
        (active or self.window).activateWindow()
        self.last_input = self.now()
        self.unlocked.emit()

    def sign_out(self) -> None:
        """Close everything without saving: a half-typed form is dropped, never half-saved."""
        if self.dialog is None:
            return
        if not messages.confirm(self.dialog, "Sign out",
                                f"Sign {self.actor.full_name} out and close the window?",
                                "Forms that were open are closed without saving."):
            return
        try:
            self.gateway.sign_out("from the idle lock")
        except (ServiceError, DatabaseError) as exc:
            log.warning("sign-out not audited: %s", exc)
        self._close_lock()
        for widget in reversed(self._hidden):
            if isinstance(widget, ServiceDialog):  # already confirmed: do not ask again
                widget.discard()
            elif widget is not self.window and isinstance(widget, QDialog):
                widget.reject()  # Cancel: nothing of it is saved
        self._hidden, self._focus = [], {}
        self.timer.stop()
        self.signed_out.emit()  # before the close: the window then knows what comes next
        self.window.close()

    def stop(self) -> None:
        """The user signed out another way: stop watching (the window is closing)."""
        self.timer.stop()
        self._close_lock()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


def _line_of(widget: QWidget) -> QLineEdit | None:
    if isinstance(widget, QLineEdit):
        return widget
    if isinstance(widget, QComboBox) and widget.isEditable():
        return widget.lineEdit()
    return None


def _cursor_of(widget: QWidget) -> int | None:
    line = _line_of(widget)
    return line.cursorPosition() if line is not None else None


def _put_back(widget: QWidget, cursor: int | None) -> None:
    """The keyboard back on ``widget``, its cursor where it was and nothing selected (so
    the next key typed adds to the field instead of replacing it)."""
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    line = _line_of(widget)
    if line is not None:
        line.deselect()
        if cursor is not None:
            line.setCursorPosition(cursor)
