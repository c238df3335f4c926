"""F1: the user guide (docs/user-guide.md, shipped with the program) in a window of its own,
with its screenshots, a find field and the keyboard shortcuts one click away."""

from __future__ import annotations

from pathlib import Path

from ..paths import docs_dir, user_guide
from . import messages
from .qt import (
    QDesktopServices,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from .widgets import em


class HelpViewer(QDialog):
    """The user guide, read-only; links to the web open in the browser."""

    def __init__(self, guide: Path, shortcuts: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("help_viewer")
        self.setWindowTitle("Taper Tracker – user guide")
        self.shortcuts = shortcuts
        self.browser = QTextBrowser()
        self.browser.setObjectName("guide")
        self.browser.setOpenLinks(False)  # decided in _link: the web outside, anchors here
        self.browser.anchorClicked.connect(self._link)
        folder = guide.parent
        self.browser.setSearchPaths([str(folder)])
        self.browser.document().setBaseUrl(QUrl.fromLocalFile(str(folder) + "/"))
        self.browser.setMarkdown(guide.read_text(encoding="utf-8"))

        self.find_edit = QLineEdit()
        self.find_edit.setObjectName("find_in_guide")
        self.find_edit.setPlaceholderText("Find in the guide (Enter: next)")
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_edit.setClearButtonEnabled(True)
        self.not_found = QLabel()
        self.not_found.setObjectName("not_found")
        find_label = QLabel("&Find:")
        find_label.setBuddy(self.find_edit)
        keys = QPushButton("&Keyboard shortcuts")
        keys.setObjectName("show_shortcuts")
        keys.setAutoDefault(False)
        keys.clicked.connect(self.show_shortcuts)
        top = QHBoxLayout()
        top.addWidget(find_label)
        top.addWidget(self.find_edit, 1)
        top.addWidget(self.not_found)
        top.addWidget(keys)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(em(self, 60), em(self, 42))
        self.find_edit.setFocus()

    def find_next(self) -> bool:
        """The next place the text occurs, from the top again after the last; False: none."""
        text = self.find_edit.text()
        if not text:
            return False
        found = self.browser.find(text)
        if not found:  # wrap round once
            cursor = self.browser.textCursor()
            cursor.movePosition(cursor.MoveOperation.Start)
            self.browser.setTextCursor(cursor)
            found = self.browser.find(text)
        self.not_found.setText("" if found else "not in the guide")
        return found

    def show_shortcuts(self) -> None:
        messages.inform(self, "Keyboard shortcuts", self.shortcuts)

    def _link(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
        elif url.hasFragment() and (not url.path() or url.path().endswith("user-guide.md")):
            self.browser.scrollToAnchor(url.fragment())

    @classmethod
    def open_guide(cls, shortcuts: str, parent: QWidget | None = None) -> HelpViewer | None:
        """The viewer on the shipped guide; None (after saying so) if it is not there."""
        guide = user_guide()
        if not guide.is_file():
            messages.error(parent, "The user guide is missing",
                           f"The user guide should be in {docs_dir()}, but it is not there.",
                           "Reinstall Taper Tracker, or read docs/user-guide.md in the "
                           "project's sources.")
            return None
        return cls(guide, shortcuts, parent)
