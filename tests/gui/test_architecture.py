"""House rules that keep the window honest: one message helper, no modal loops.

The layer order (Qt only through ui/qt.py, nothing below the window importing it, the
window's storage rule) is tests/unit/test_architecture.py.
"""

from __future__ import annotations

from pathlib import Path

import taper_app

PACKAGE = Path(taper_app.__file__).parent


def test_every_message_box_goes_through_the_messages_helper():
    for path in (PACKAGE / "ui").glob("*.py"):
        if path.name in ("qt.py", "messages.py"):
            continue
        text = path.read_text(encoding="utf-8")
        assert "QMessageBox" not in text, path


def test_dialogs_never_block_the_window_with_exec():
    """Only sign-in (before the window exists) and the message helper may run modally."""
    for path in (PACKAGE / "ui").glob("*.py"):
        if path.name in ("login.py", "messages.py", "app.py"):
            continue
        assert ".exec(" not in path.read_text(encoding="utf-8"), path
