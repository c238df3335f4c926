"""House rules that keep the window honest: one door for Qt, no Qt below the UI."""

from __future__ import annotations

import ast
from pathlib import Path

import taper_app

PACKAGE = Path(taper_app.__file__).parent


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


def is_qt(name: str) -> bool:
    return name.startswith(("PySide6", "PyQt", "shiboken")) or "backend_qt" in name


def test_only_ui_qt_imports_qt():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(n for n in imports_of(path) if is_qt(n))
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "ui" / "qt.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_below_the_ui_imports_the_ui():
    for path in PACKAGE.rglob("*.py"):
        if "ui" in path.relative_to(PACKAGE).parts or path.name in ("cli.py", "__main__.py"):
            continue  # start-up and cli.launch_gui are the doors into the window
        assert not any(n.endswith(".ui") or ".ui." in n or n.startswith("taper_app.ui")
                       for n in imports_of(path)), path


def test_the_ui_never_writes_to_the_database_itself():
    for path in (PACKAGE / "ui").glob("*.py"):
        names = imports_of(path)
        assert not any("storage.models" in n or "storage.uow" in n or n == "sqlalchemy"
                       for n in names), path


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
