"""The base of every dialog that saves through a service: one way to show what went wrong.

A refused input is marked at its field; a database that is locked or full is a message
and the dialog stays open with everything typed still in it (never lose a keystroke);
the dialog closes only after the service has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ..services.context import ServiceContext
from ..services.errors import Problem, ServiceError, StaleData, ValidationError
from ..services.gateway import StudyGateway, local_study
from ..services.records import PatientRecord
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
        """Esc, Cancel or the window's close: ask first if anything was typed."""
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

    def call_service(self, action: str, call: Callable[[], T]) -> tuple[bool, T | Any]:
        """Run a service call; on any refusal show why and keep the dialog as typed."""
        self._tried = True
        try:
            result = call()
        except ValidationError as exc:
            self.refuse(exc.problems)
            return False, None
        except StaleData as exc:
            messages.warning(self, f"{action}: not saved", str(exc),
                             "The patient has been reloaded: check it, then Save again.")
            subject = self.changed_subject()
            if subject is not None:
                self.stale.emit(subject)
            return False, None
        except DatabaseError as exc:
            log.warning("%s not saved: %s", action, exc)
            messages.error(self, f"{action}: not saved", str(exc), KEPT)
            return False, None
        except ServiceError as exc:
            messages.error(self, f"{action}: not saved", str(exc), KEPT)
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
