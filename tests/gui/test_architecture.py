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


def test_a_window_on_a_file_does_not_load_the_http_client():
    """The window's start imports nothing of the server's client (httpx: about 30 ms of a
    cold start, docs/performance.md); it comes only with a server's address."""
    import subprocess
    import sys

    code = ("import sys\n"
            "import taper_app.ui.app, taper_app.ui.main_window\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore')"
            " or m.startswith('taper_app.remote.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
