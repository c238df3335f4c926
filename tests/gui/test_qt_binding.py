"""The Qt binding itself: a call that returns nothing must not eat a reference to None.

PySide6 6.12.0 on Python 3.11 (where None is reference-counted) drops one reference to None
at every call of a Qt method that returns nothing (``setText``, ``update``,
``processEvents``, ...). A window makes such calls all day, and the process dies with
"Fatal Python error: none_dealloc" once None's count reaches zero: a nurse would lose the
form she was typing. pyproject.toml keeps that release out; this test keeps out any other.
"""

from __future__ import annotations

import sys

from taper_app.ui.qt import QApplication, QLabel, QWidget

CALLS = 2_000


def _none_references_lost(work) -> int:  # type: ignore[no-untyped-def]
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        work()
    return before - sys.getrefcount(None)


def test_qt_calls_that_return_nothing_keep_none_alive(qtbot) -> None:
    label, widget = QLabel(), QWidget()
    qtbot.addWidget(label)
    qtbot.addWidget(widget)
    app = QApplication.instance()
    # Other threads and the collector may move None's count a little; a leak moves it by
    # one per call.
    assert _none_references_lost(lambda: label.setText("x")) < CALLS // 2
    assert _none_references_lost(widget.update) < CALLS // 2
    assert _none_references_lost(app.processEvents) < CALLS // 2
