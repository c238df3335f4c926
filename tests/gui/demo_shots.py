"""What the screenshot scripts share: the demo study in a temporary folder, dialogs shown
instead of run modally, windows signed in as the demo's users, and a PNG writer.

Each script (``screenshots.py``, ``screenshots_monitor.py``, ``screenshots_queries.py``)
opens one ``demo_shots(DIR)`` and takes its own pictures in it. Run them under a real X
server at the size of a small laptop (see screenshots.py).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.demo import DEMO_PASSWORD, create_demo
from taper_app.services.study import StudyInfo, authenticate, load_study
from taper_app.storage.engine import Database
from taper_app.ui import messages
from taper_app.ui.app import application
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, QDialog, QWidget
from taper_app.ui.tasks import TaskRunner

#: The demo study's "today": every picture shows the same dates whenever it is taken.
DEMO_TODAY = date(2026, 11, 22)

DialogT = TypeVar("DialogT", bound=QDialog)


def settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


@dataclass
class DemoShots:
    """The demo study open in the screenshot scripts' application."""

    app: QApplication
    db: Database
    study: StudyInfo
    out: Path
    opened: list[QDialog]

    def settle(self) -> None:
        settle(self.app)

    def save(self, widget: QWidget, name: str) -> None:
        """``widget`` as ``NAME`` in the output folder."""
        save(widget, self.out / name)

    def shot(self, widget: QWidget, name: str) -> None:
        """Let the events settle, then save ``widget`` as ``NAME``."""
        self.settle()
        self.save(widget, name)

    def user(self, username: str) -> Actor:
        """The demo account ``username``, signed in with the demo password."""
        return authenticate(self.db, username, DEMO_PASSWORD)

    def context(self, actor: Actor) -> ServiceContext:
        """Service calls as ``actor`` on the demo's today."""
        return ServiceContext(self.db, actor, today=lambda: DEMO_TODAY)

    def window(self, actor: Actor, *, resize: tuple[int, int] | None = None) -> MainWindow:
        """The main window signed in as ``actor``, shown and settled; its tasks run at once."""
        window = MainWindow(self.db, self.study, actor, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        if resize is not None:
            window.resize(*resize)
        window.show()
        self.settle()
        return window

    def dialog(self, kind: type[DialogT]) -> DialogT:
        """The dialog opened last, which must be a ``kind``."""
        dialog = self.opened[-1]
        assert isinstance(dialog, kind), dialog
        return dialog


@contextlib.contextmanager
def demo_shots(out_dir: str) -> Iterator[DemoShots]:
    """A fresh demo study (as of ``DEMO_TODAY``) for pictures written into ``out_dir``;
    dialogs are shown, not run, and every message box answers yes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = application()
    opened: list[QDialog] = []
    DialogHost.present = classmethod(lambda cls, d: (opened.append(d), d.show()))  # type: ignore[method-assign,assignment]
    messages.set_presenter(lambda parent, message: True)
    with tempfile.TemporaryDirectory() as tmp:
        db = create_demo(Path(tmp) / "demo.sqlite", DEMO_TODAY)
        try:
            yield DemoShots(app, db, load_study(db), out, opened)
        finally:
            db.dispose()
