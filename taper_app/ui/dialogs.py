"""How the window shows its dialogs: one replaceable door, so tests can catch each dialog.

Dialogs save through the services themselves and announce it with a ``saved`` signal, so
showing one never blocks the window, and a test can drive the real dialog with the
keyboard after replacing :meth:`DialogHost.present`.
"""

from __future__ import annotations

from pathlib import Path

from .qt import QDialog, QFileDialog, Qt, QWidget


class DialogHost:
    """Shows a dialog window-modal without blocking; tests replace :meth:`present`."""

    @classmethod
    def present(cls, dialog: QDialog) -> None:
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    @classmethod
    def save_file(cls, parent: QWidget | None, title: str, suggested: Path,
                  file_filter: str = "PDF files (*.pdf)") -> Path | None:
        """Ask where to save (the platform's dialog asks before replacing a file); None:
        the user cancelled. Tests replace this."""
        name, _chosen = QFileDialog.getSaveFileName(parent, title, str(suggested), file_filter)
        if not name:
            return None
        path = Path(name)
        return path if path.suffix.lower() == suggested.suffix.lower() else path.with_name(
            path.name + suggested.suffix)

    @classmethod
    def choose_folder(cls, parent: QWidget | None, title: str, start: Path) -> Path | None:
        """Ask for a folder; None: the user cancelled. Tests replace this."""
        name = QFileDialog.getExistingDirectory(parent, title, str(start))
        return Path(name) if name else None
