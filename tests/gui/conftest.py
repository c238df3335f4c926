"""GUI fixtures: the real window on a real study file, signed in; dialogs and message
boxes caught (nothing modal is ever left open); unexpected Qt warnings fail the test."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from taper_app.services.context import ServiceContext
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.study import StudyInfo, authenticate
from taper_app.storage.engine import Database
from taper_app.storage.models import Amendment, AuditEntry, DoseRecordRow, Patient
from taper_app.storage.uow import UnitOfWork
from taper_app.ui import messages
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, QDialog, QMenu, Qt, QTimer, QWidget
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, fixed_clock

HERE = Path(__file__).parent
#: Noise of the offscreen platform itself, not of the window.
QT_NOISE = (r"This plugin does not support propagateSizeHints\(\)",
            # a pop-up (a date field's calendar) on the offscreen platform
            r"This plugin does not support raise\(\)",
            r"This plugin does not support grabbing the (keyboard|mouse)")

D = TypeVar("D", bound=QDialog)
#: The window's own way of showing dialogs, before the tests replace it.
REAL_PRESENT = DialogHost.present


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every GUI test fails on a Qt warning it did not expect."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*QT_NOISE))


# ---------------------------------------------------------------- message boxes

class MessageRecorder:
    """Stands in for every message box: records it, answers questions from a queue."""

    def __init__(self) -> None:
        self.shown: list[messages.Message] = []
        self.answers: deque[bool] = deque()

    def __call__(self, parent: QWidget | None, message: messages.Message) -> bool:
        self.shown.append(message)
        if message.kind == "question":
            return self.answers.popleft() if self.answers else False
        return True

    def take(self, kind: str | None = None) -> list[messages.Message]:
        """The messages shown so far (of one kind), forgetting them."""
        taken = [m for m in self.shown if kind is None or m.kind == kind]
        self.shown = [m for m in self.shown if m not in taken]
        return taken


@pytest.fixture(autouse=True)
def message_log() -> Iterator[MessageRecorder]:
    recorder = MessageRecorder()
    previous = messages.set_presenter(recorder)
    yield recorder
    messages.set_presenter(previous)
    unexpected = [m for m in recorder.shown if m.kind in ("error", "warning")]
    if unexpected:
        pytest.fail(f"unexpected message box(es): {unexpected}")


# ---------------------------------------------------------------- dialogs

def activate(qtbot: Any, widget: QWidget) -> None:
    """Make ``widget`` the active window, as a click or the window manager would."""
    widget.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=2000)


class DialogRecorder:
    """Stands in for :meth:`DialogHost.present`: shows the real dialog, non-modal, active."""

    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot
        self.opened: list[QDialog] = []

    def present(self, dialog: QDialog) -> None:
        self.opened.append(dialog)
        parent = dialog.parentWidget()
        if parent is not None:  # as a window manager does when the dialog closes
            dialog.finished.connect(lambda _result: parent.window().activateWindow())
        dialog.show()
        activate(self.qtbot, dialog)

    def last(self, kind: type[D]) -> D:
        assert self.opened, "no dialog was opened"
        dialog = self.opened[-1]
        assert isinstance(dialog, kind), f"expected a {kind.__name__}, got {dialog!r}"
        return dialog


@pytest.fixture(autouse=True)
def dialogs(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    recorder = DialogRecorder(qtbot)
    monkeypatch.setattr(DialogHost, "present", classmethod(lambda cls, d: recorder.present(d)))
    return recorder


# ---------------------------------------------------------------- the keyboard

class Keyboard:
    """Types where the focus is, as a person would: no clicking on widgets."""

    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot

    @property
    def focus(self) -> QWidget:
        # After a dialog closes, its window becomes active again a moment later.
        self.qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
        widget = QApplication.focusWidget()
        assert widget is not None, "nothing has the keyboard focus"
        return widget

    def type(self, text: str) -> None:
        self.qtbot.keyClicks(self.focus, text)

    def replace(self, text: str) -> None:
        """Select what the focused field holds and type over it."""
        self.press(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        if text:
            self.type(text)
        else:
            self.press(Qt.Key.Key_Delete)

    def press(self, key: Qt.Key,
              modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        self.qtbot.keyClick(self.focus, key, modifier)

    def tab(self, times: int = 1) -> None:
        for _ in range(times):
            self.press(Qt.Key.Key_Tab)

    def enter(self) -> None:
        self.press(Qt.Key.Key_Return)

    def shortcut(self, key: Qt.Key, modifier: Qt.KeyboardModifier) -> None:
        self.press(key, modifier)


@pytest.fixture
def keyboard(qtbot: Any) -> Keyboard:
    return Keyboard(qtbot)


# ---------------------------------------------------------------- the window

@pytest.fixture
def open_window(qtbot: Any, db: Database, study: StudyInfo) -> Callable[..., MainWindow]:
    """The window signed in as the fixture user of a role, on the test's study file."""

    def make(role: str = "nurse", today: date = TODAY) -> MainWindow:
        actor = authenticate(db, role, PASSWORD, fixed_clock)
        window = MainWindow(db, study, actor, today=lambda: today, clock=fixed_clock,
                            tasks=TaskRunner(synchronous=True))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        activate(qtbot, window)
        return window

    return make


# ---------------------------------------------------------------- data

@pytest.fixture
def nurse_started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MainWindow]]:
    """``run_gui`` with the nurse signed in and no event loop: the windows it would show
    (each waited for and deleted afterwards)."""
    from taper_app.services.auth import Actor
    from taper_app.ui.login import LoginDialog

    shown: list[MainWindow] = []
    monkeypatch.setattr(LoginDialog, "ask", classmethod(
        lambda cls, db, study, clock=None, parent=None: Actor("nurse", "Nurse Example",
                                                              "nurse")))
    monkeypatch.setattr(MainWindow, "show_for_screen", lambda self: shown.append(self))
    monkeypatch.setattr(QApplication, "exec", lambda *args: 0)
    yield shown
    for window in shown:
        window.tasks.wait()
        window.deleteLater()


def study_menu(window: MainWindow) -> QMenu:
    """The Study menu, found as the menu bar's child (QAction.menu() hands back a deleted
    wrapper on PySide6 before 6.11.3, the floors' run showed)."""
    return next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Study")


def when_the_window_shows(act: Callable[[MainWindow], None], after_ms: int = 0) -> None:
    """While ``run_gui``'s event loop runs: once a main window is on screen with a patient
    selected, ``act(window)`` (looked for every 50 ms, from ``after_ms`` on)."""
    def look() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].current_row() is not None:
            act(windows[0])
        else:
            QTimer.singleShot(50, look)

    QTimer.singleShot(after_ms, look)


def enroll(ctx: ServiceContext, study: StudyInfo, subject: str, day1: date,
           baseline: str = "20", template: str = "stepdown-a", site: str = "101") -> str:
    return enroll_patient(ctx, study, {"subject_id": subject, "site": site,
                                       "day1_date": day1.isoformat(), "baseline_mg": baseline,
                                       "template_id": template, "kit_number": "K-1"})


def dose(ctx: ServiceContext, study: StudyInfo, subject: str, mg: str, start: date,
         end: date | None = None, drug: str = "prednisone", frequency: str = "QD") -> int:
    return record_dose(ctx, study, subject, {
        "drug": drug, "dose_mg": mg, "frequency": frequency, "route": "PO",
        "start_date": start.isoformat(), "end_date": end.isoformat() if end else "",
        "source": "clinic"}).record_id


DAY1 = TODAY - timedelta(days=59)  # TODAY is Day 60


@pytest.fixture
def patient(nurse: ServiceContext, study: StudyInfo) -> str:
    """101-001 on stepdown-a, baseline 20 mg/day; TODAY is its Day 60.

    Schedule: 20 until Day 28, 16 from Day 29, 13 from Day 43, 10.5 from Day 57.
    Records: 20 mg QD Day 1-28, then 16 mg QD from Day 29, ongoing (no gaps), so today it
    is above the schedule (16 against 10.5).
    """
    enroll(nurse, study, "101-001", DAY1)
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "16", DAY1 + timedelta(days=28))
    return "101-001"


def audit_rows(db: Database, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return _all(db, query)


def _all(db: Database, query: Any) -> list[Any]:
    with UnitOfWork(db, write=False) as uow:
        rows = list(uow.session.scalars(query))
        uow.session.expunge_all()
        return rows


def dose_rows(db: Database) -> list[DoseRecordRow]:
    return _all(db, select(DoseRecordRow).order_by(DoseRecordRow.id))


def amendment_rows(db: Database) -> list[Amendment]:
    return _all(db, select(Amendment).order_by(Amendment.id))


def patient_rows(db: Database) -> list[Patient]:
    return _all(db, select(Patient).order_by(Patient.id))
