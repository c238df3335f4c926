"""ui/waiting.py: a form's call runs in a worker while the GUI thread keeps turning, the
user's input held back until it is done; the caller gets the result or the exception."""

from __future__ import annotations

import threading

import pytest

from taper_app.ui import waiting
from taper_app.ui.qt import QApplication, QEvent, QKeyEvent, QLineEdit, Qt, QTimer


def test_the_call_runs_in_a_worker_and_its_result_comes_back(qapp):
    gui = threading.get_ident()
    result = waiting.wait_for(lambda: ("done", threading.get_ident()))
    assert result[0] == "done" and result[1] != gui


def test_the_calls_exception_is_raised_in_the_caller(qapp):
    def fails() -> None:
        raise LookupError("no such patient")

    with pytest.raises(LookupError, match="no such patient"):
        waiting.wait_for(fails)
    assert not waiting.busy()


def test_the_gui_thread_keeps_turning_while_the_call_runs(qapp):
    """The call waits for a timer of the GUI thread: it can end only if the loop turns."""
    fired = threading.Event()
    seen_busy: list[bool] = []

    def on_timer() -> None:
        seen_busy.append(waiting.busy())
        fired.set()

    QTimer.singleShot(0, on_timer)
    assert waiting.wait_for(lambda: fired.wait(30)) is True
    assert seen_busy == [True]
    assert not waiting.busy()


def test_typing_and_clicks_wait_until_the_call_is_done(qapp, qtbot):
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.show()
    typed = threading.Event()

    def type_during_the_call() -> None:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(edit, QKeyEvent(kind, Qt.Key.Key_X,
                                                   Qt.KeyboardModifier.NoModifier, "x"))
        typed.set()

    QTimer.singleShot(0, type_during_the_call)
    waiting.wait_for(lambda: typed.wait(30))
    assert edit.text() == ""  # held back: a second Enter could not have saved twice
    QApplication.sendEvent(edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Y,
                                           Qt.KeyboardModifier.NoModifier, "y"))
    assert edit.text() == "y"  # after the call, input goes through again
