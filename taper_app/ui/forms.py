"""The base of every dialog that saves through a service: one way to show what went wrong.

A refused input is marked at its field; a database that is locked or full is a message
and the dialog stays open with everything typed still in it (never lose a keystroke);
the dialog closes only after the service has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from ..services.context import ServiceContext
from ..services.errors import Problem, ServiceError, StaleData, ValidationError
from ..services.gateway import StudyGateway, local_study
from ..services.records import PatientRecord
from ..services.signatures import SignatureView
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from . import messages
from .qt import (
    QAction,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QKeySequence,
    QLabel,
    QLineEdit,
    QShowEvent,
    QWidget,
    Signal,
)
from .signed_period import ask_about_broken_signatures
from .tasks import TaskRunner
from .widgets import FORM_STYLE, FieldErrors, fit_screen, fit_title

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What a form is opened with: the window's door onto the study (services/gateway.py), or
#: a ServiceContext on a database (made a local door).
StudyDoor = ServiceContext | StudyGateway

KEPT = "What you typed is still in the form: try Save again, or Cancel."


class ServiceDialog(QDialog):
    """A form whose Save calls one service; ``saved(subject_id, summary)`` after the commit."""

    saved = Signal(str, str)
    #: Someone else changed the patient since the form opened: the window reloads it and
    #: hands the fresh record back through :meth:`rebase`.
    stale = Signal(str)

    def __init__(self, ctx: StudyDoor, parent: QWidget | None = None) -> None:
        """``ctx``: the window's door onto the study (a ServiceContext is a local one)."""
        super().__init__(parent)
        self.gateway = local_study(ctx)
        self.setStyleSheet(FORM_STYLE)
        self.general_error = QLabel()
        self.general_error.setObjectName("general_error")
        self.errors = FieldErrors(self.general_error)
        self._tried = False  # after a first Save, fields are re-checked as they change
        self._saving = False  # a save off the GUI thread is on its way
        self._opened_with: tuple[str, ...] | None = None  # the fields when first shown
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("&Save")
        self.save_button.setDefault(True)
        self.save_button.setAutoDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        save_action = QAction("Save", self)
        save_action.setShortcut(QKeySequence.StandardKey.Save)
        save_action.triggered.connect(self.save)
        self.addAction(save_action)

    @property
    def ctx(self) -> ServiceContext:
        """The local context, for a form that still calls its services itself: such a
        form opens on a database the window opened (the window does not offer it through
        the application server)."""
        if not isinstance(self.gateway, ServiceContext):
            raise ServiceError(f"{self.windowTitle()}: this form works on a study file or "
                               "database only, not through the application server")
        return self.gateway

    # ------------------------------------------------------------ Esc and Cancel

    def _field_values(self) -> tuple[str, ...]:
        """Everything typed or chosen in the form's fields, to notice a change."""
        values: list[str] = []
        for child in self.findChildren(QWidget):
            if child.window() is not self:
                continue  # a date field's calendar pop-up: browsing months is not input
            if isinstance(child, QLineEdit) and child.parent() is not None and not isinstance(
                    child.parentWidget(), QComboBox):
                values.append(child.text())
            elif isinstance(child, QComboBox):
                values.append(child.currentText())
        return tuple(values)

    def showEvent(self, event: QShowEvent) -> None:
        if self._opened_with is None:
            self._opened_with = self._field_values()
            fit_title(self)
            fit_screen(self)
        super().showEvent(event)

    def has_typed_input(self) -> bool:
        """Whether a field differs from what the form opened with."""
        return self._opened_with is not None and self._field_values() != self._opened_with

    def reject(self) -> None:
        """Esc, Cancel or the window's close: ask first if anything was typed (and not
        while a save is on its way: it ends with the form closed or kept)."""
        if self._saving:
            return
        if self.has_typed_input() and not messages.ask(
                self, "Discard what you typed?",
                "This form has input that is not saved. Discard it?",
                yes="&Discard", no="&Keep editing"):
            return
        super().reject()

    def discard(self) -> None:
        """Close without asking (the input was handed on elsewhere)."""
        super().reject()

    def changed_subject(self) -> str | None:
        """The patient this form changes (None for a new one)."""
        record = getattr(self, "record", None)
        return record.subject_id if isinstance(record, PatientRecord) else None

    def rebase(self, record: PatientRecord) -> None:
        """Continue on the patient's fresh record; what is typed stays as it is."""
        self.record = record

    def save_on_return(self, *boxes: QComboBox) -> None:
        """Enter saves from an editable combo too (its line edit keeps the key otherwise)."""
        for box in boxes:
            line = box.lineEdit()
            if line is not None:
                line.returnPressed.connect(self.save)

    # subclasses: check what the service cannot (a required reason), then call it
    def save(self) -> None:
        raise NotImplementedError

    def refuse(self, problems: list[Problem]) -> None:
        """Mark the problems in place and put the cursor on the first one; nothing saved."""
        self._tried = True
        first = self.errors.show(problems)
        self.fit_height()
        if first is not None:
            first.setFocus()

    def fit_height(self) -> None:
        """Grow to show every message that appeared (never shrink under the user's hand)."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        if layout.hasHeightForWidth():
            wanted = layout.totalHeightForWidth(self.width())
        else:
            wanted = layout.totalSizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    # ------------------------------------------------------------ saving off the GUI thread

    def _tasks(self) -> TaskRunner | None:
        """The window's task runner (the form's parent's), or None: then calls run here."""
        parent = self.parentWidget()
        tasks = getattr(parent, "tasks", None)
        return tasks if isinstance(tasks, TaskRunner) else None

    @property
    def saving(self) -> bool:
        """A save is on its way (its buttons are off, Esc waits for it)."""
        return self._saving

    def _set_saving(self, on: bool) -> None:
        self._saving = on
        self.buttons.setEnabled(not on)

    def run_then(self, work: Callable[[], T], then: Callable[[T], None],
                 failed: Callable[[Exception], None]) -> None:
        """``work`` off the GUI thread (through the application server a call waits on the
        network), then ``then(result)`` or ``failed(exc)`` back on it; the form's buttons
        are off meanwhile. Without the window's runner (a form on its own) it runs here."""
        tasks = self._tasks()
        if tasks is None:
            try:
                result = work()
            except Exception as exc:  # handed to ``failed``, which knows what it means
                failed(exc)
                return
            then(result)
            return
        self._set_saving(True)

        def done(result: T) -> None:
            self._set_saving(False)
            then(result)

        def not_done(exc: Exception) -> None:
            self._set_saving(False)
            failed(exc)

        tasks.submit(work, done, not_done)

    def call_service_then(self, action: str, call: Callable[[], T],
                          then: Callable[[T], None]) -> None:
        """:meth:`call_service` off the GUI thread: ``then(result)`` after the commit; any
        refusal is shown as call_service shows it, the form kept as typed."""
        self._tried = True

        def saved(result: T) -> None:
            self.errors.clear()
            then(result)

        self.run_then(call, saved, lambda exc: self._refused(action, exc))

    def confirm_signed_period_then(self, subject_id: str, first_changed: date | None,
                                   what: str, go_on: Callable[[], None]) -> None:
        """signed_period's question, its signatures read off the GUI thread; ``go_on()``
        when the save may proceed."""
        door = self.gateway

        def checked(broken: list[SignatureView]) -> None:
            if ask_about_broken_signatures(self, subject_id, broken, what):
                go_on()

        def not_checked(exc: Exception) -> None:
            if not isinstance(exc, (DatabaseError, ServiceError)):
                raise exc
            # The save itself will meet the same trouble and say so, input kept.
            log.warning("signatures of %s not checked before saving: %s", subject_id, exc)
            go_on()

        self.run_then(lambda: door.signatures_a_change_breaks(subject_id, first_changed),
                      checked, not_checked)

    def _refused(self, action: str, exc: Exception) -> None:
        if isinstance(exc, ValidationError):
            self.refuse(exc.problems)
        elif isinstance(exc, StaleData):
            messages.warning(self, f"{action}: not saved", str(exc),
                             "The patient has been reloaded: check it, then Save again.")
            subject = self.changed_subject()
            if subject is not None:
                self.stale.emit(subject)
        elif isinstance(exc, DatabaseError):
            log.warning("%s not saved: %s", action, exc)
            messages.error(self, f"{action}: not saved", str(exc), KEPT)
        elif isinstance(exc, ServiceError):
            messages.error(self, f"{action}: not saved", str(exc), KEPT)
        else:
            raise exc  # a bug: the excepthook's

    def call_service(self, action: str, call: Callable[[], T]) -> tuple[bool, T | Any]:
        """Run a service call; on any refusal show why and keep the dialog as typed."""
        self._tried = True
        try:
            result = call()
        except (ValidationError, StaleData, DatabaseError, ServiceError) as exc:
            self._refused(action, exc)
            return False, None
        self.errors.clear()
        return True, result


class RecordDialog(ServiceDialog):
    """A form on one patient's stored schedule (amend, correct the enrollment, withdraw an
    amendment): the study, the record, a title naming the patient, the Save button's word
    and a wrapped introduction (``intro``: its text, after the subject in bold)."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord, title: str,
                 save_text: str, intro: str = "", parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.study = study
        self.record = record
        self.setWindowTitle(f"{title} – {record.subject_id}")
        self.save_button.setText(save_text)
        self.intro = QLabel(f"<b>{record.subject_id}</b>: {intro}" if intro else "")
        self.intro.setWordWrap(True)
