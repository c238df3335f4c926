"""How the window shows its dialogs: one replaceable door, so tests can catch each dialog.

Dialogs save through the services themselves and announce it with a ``saved`` signal, so
showing one never blocks the window, and a test can drive the real dialog with the
keyboard after replacing :meth:`DialogHost.present`.
"""

from __future__ import annotations

from .qt import QDialog, Qt


class DialogHost:
    """Shows a dialog window-modal without blocking; tests replace :meth:`present`."""

    @classmethod
    def present(cls, dialog: QDialog) -> None:
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
