"""Signing in: user name and password (``services.study.authenticate``), then, when the
account asks for it (first sign-in, or after a reset), a new password
(``services.accounts.change_password``). Both go through the connection
(services/gateway.py): a database file or URL, or the application server, where a user
with a first password gets no session until they have chosen their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..services.audit import utc_now
from ..services.auth import MIN_PASSWORD_LENGTH, Actor
from ..services.errors import AuthenticationFailed, Problem, ServiceError, ValidationError
from ..services.gateway import Connection
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from . import messages
from .qt import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget
from .tasks import TaskRunner
from .widgets import FORM_STYLE, FieldErrors, em, fit_title, line_edit


class LoginDialog(QDialog):
    """Asks who is working; :attr:`actor` holds the signed-in user once it is accepted."""

    def __init__(self, connection: Connection, study: StudyInfo | None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None, *,
                 tasks: TaskRunner | None = None) -> None:
        """``connection``: where to sign in (services.gateway.LocalConnection on a
        database); ``study``: None through the application server, which names it only
        after sign-in. ``tasks``: the password is checked off the GUI thread (the
        password hash is slow by design, and through the server it waits on the
        network); None checks it here (tests)."""
        super().__init__(parent)
        self.connection = connection
        self.tasks = tasks
        self.study = study
        self.clock = clock
        self.actor: Actor | None = None
        self._pending: Actor | None = None  # signed in, but must choose a new password
        self._must_choose = False  # the account has its first password still
        self._study_name = study.name if study is not None else "the application server"
        self.setWindowTitle(f"Sign in – {self._study_name}")
        self.setStyleSheet(FORM_STYLE)

        heading = QLabel(f"<b>{study.name}</b> (protocol {study.protocol_version})"
                         if study is not None else "<b>Sign in at the study's application "
                         "server</b>")
        where = QLabel(f"{'Database' if self.connection.is_local else 'Server'}: "
                       f"{self.connection.shown_location}")
        where.setWordWrap(True)
        where.setEnabled(False)
        general = QLabel()
        self.errors = FieldErrors(general)

        self.username = line_edit("user name", "username")
        self.password = line_edit("password", "password")
        self.password.setEchoMode(self.password.EchoMode.Password)
        self.sign_in_page = QWidget()
        form = QFormLayout(self.sign_in_page)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("&User name:", self.errors.field("username", self.username))
        form.addRow("&Password:", self.errors.field("password", self.password))

        self.new_password = line_edit(f"at least {MIN_PASSWORD_LENGTH} characters",
                                      "new_password")
        self.repeat_password = line_edit("the same again", "repeat_password")
        for edit in (self.new_password, self.repeat_password):
            edit.setEchoMode(edit.EchoMode.Password)
        self.change_page = QWidget()
        change = QFormLayout(self.change_page)
        change.setContentsMargins(0, 0, 0, 0)
        self.change_intro = QLabel()
        self.change_intro.setWordWrap(True)
        change.addRow(self.change_intro)
        change.addRow("&New password:", self.errors.field("new_password", self.new_password))
        change.addRow("&Repeat it:", self.errors.field("repeat_password", self.repeat_password))
        self.change_page.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Sign in")
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.next_step)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(where)
        layout.addWidget(self.sign_in_page)
        layout.addWidget(self.change_page)
        layout.addWidget(general)
        layout.addWidget(self.buttons)
        self._fit_width()
        self.username.setFocus()

    def _fit_width(self) -> None:
        """Wide enough for the title bar's text and the longest line of a form (the
        instructions wrap within it), at any scaling: measured in the dialog's font."""
        self.setMinimumWidth(em(self, 30))
        fit_title(self)

    @classmethod
    def ask(cls, connection: Connection, study: StudyInfo | None,
            clock: Callable[[], datetime] = utc_now,
            parent: QWidget | None = None) -> Actor | None:
        """Show the dialog until someone signs in (the actor) or gives up (None)."""
        dialog = cls(connection, study, clock, parent)
        dialog.tasks = TaskRunner(dialog)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.actor if accepted else None

    def changing_password(self) -> bool:
        return self._must_choose

    def next_step(self) -> None:
        if self.changing_password():
            self.choose_password()
        else:
            self.sign_in()

    def sign_in(self) -> None:
        self.errors.clear()
        name = self.username.text().strip()
        if not name:
            self.errors.show([Problem("username", "enter your user name")])
            self.username.setFocus()
            return
        password, connection, clock = self.password.text(), self.connection, self.clock
        self._checking(lambda: connection.authenticate(name, password, clock),
                       lambda actor: self._signed_in(name, actor), self._not_signed_in)

    def _checking(self, work: Callable[[], Any], done: Callable[[Any], None],
                  failed: Callable[[Exception], None]) -> None:
        """``work`` (a password check) off the GUI thread, the buttons off meanwhile."""
        if self.tasks is None:
            try:
                result = work()
            except Exception as exc:  # handed to ``failed``, which knows what it means
                failed(exc)
                return
            done(result)
            return
        self.buttons.setEnabled(False)

        def finished(result: Any) -> None:
            self.buttons.setEnabled(True)
            done(result)

        def refused(exc: Exception) -> None:
            self.buttons.setEnabled(True)
            failed(exc)

        self.tasks.submit(work, finished, refused)

    def _not_signed_in(self, exc: Exception) -> None:
        if isinstance(exc, AuthenticationFailed):
            self.errors.show([Problem("password", str(exc))])
            self.password.clear()
            self.password.setFocus()
        elif isinstance(exc, (DatabaseError, ServiceError)):
            messages.error(self, "Cannot sign in", str(exc))
        else:
            raise exc  # a bug: the excepthook's

    def reject(self) -> None:
        if self.buttons.isEnabled():  # not while a password is being checked
            super().reject()

    def _signed_in(self, name: str, actor: Actor | None) -> None:
        if actor is None or actor.must_change_password:
            self._pending, self._must_choose = actor, True
            self.sign_in_page.hide()
            who = actor.full_name if actor is not None else name
            self.change_intro.setText(f"Welcome, {who}. Choose your own password "
                                      "before you go on (the one you were given was for the "
                                      "first sign-in only).")
            self.change_page.show()
            self.ok_button.setText("&Save and sign in")
            self.setWindowTitle(f"Choose your password – {self._study_name}")
            self._fit_width()
            # The page is taller than the one it replaced: grow to show all of it (the
            # wrapped instructions included), never clip it.
            layout = self.layout()
            if layout is not None:
                layout.activate()
                height = (layout.totalHeightForWidth(self.width())
                          if layout.hasHeightForWidth() else layout.totalSizeHint().height())
                self.resize(max(self.width(), self.minimumWidth()), max(height, self.height()))
            self.new_password.setFocus()
            self.ok_button.setDefault(True)  # hiding the focused page dropped the default
            return
        self.actor = actor
        self.accept()

    def choose_password(self) -> None:
        self.errors.clear()
        new, again = self.new_password.text(), self.repeat_password.text()
        if new != again:
            self.errors.show([Problem("repeat_password", "the two passwords differ")])
            self.repeat_password.clear()
            self.repeat_password.setFocus()
            return
        connection, pending, clock = self.connection, self._pending, self.clock
        name, old = self.username.text().strip(), self.password.text()
        self._checking(lambda: connection.choose_first_password(pending, name, old, new, clock),
                       self._chosen, self._not_chosen)

    def _chosen(self, actor: Actor) -> None:
        self.actor = actor
        self.accept()

    def _not_chosen(self, exc: Exception) -> None:
        if isinstance(exc, ValidationError):
            first = self.errors.show(exc.problems)
            (first or self.new_password).setFocus()
        elif isinstance(exc, (ServiceError, DatabaseError)):
            messages.error(self, "The password was not changed", str(exc))
        else:
            raise exc

