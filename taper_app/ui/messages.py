"""Every message box of the window goes through here, so tests can silence and assert them.

A view calls :func:`error`, :func:`warning`, :func:`inform` or :func:`confirm`; each builds
a :class:`Message` and hands it to the current presenter. The default presenter shows a
:class:`QMessageBox`; tests install a recorder with :func:`set_presenter`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .qt import QMessageBox, QWidget


@dataclass(frozen=True)
class Message:
    kind: str  # "error", "warning", "info" or "question"
    title: str
    text: str
    detail: str | None = None
    #: A question's buttons, when "Yes"/"No" would not say what they do.
    yes_text: str | None = None
    no_text: str | None = None
    #: Whether Enter answers yes (False for a question whose safe answer is no).
    default_yes: bool = True


#: Shows a message and returns the answer (True for "yes"/"ok"; False otherwise).
Presenter = Callable[[QWidget | None, Message], bool]


def _message_box(parent: QWidget | None, message: Message) -> bool:
    icons = {"error": QMessageBox.Icon.Critical, "warning": QMessageBox.Icon.Warning,
             "info": QMessageBox.Icon.Information, "question": QMessageBox.Icon.Question}
    box = QMessageBox(icons[message.kind], message.title, message.text, parent=parent)
    if message.detail:
        box.setInformativeText(message.detail)
    if message.kind == "question":
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        yes = box.button(QMessageBox.StandardButton.Yes)
        no = box.button(QMessageBox.StandardButton.No)
        if message.yes_text:
            yes.setText(message.yes_text)
        if message.no_text:
            no.setText(message.no_text)
        box.setDefaultButton(QMessageBox.StandardButton.Yes if message.default_yes
                             else QMessageBox.StandardButton.No)
        box.setEscapeButton(no)
    else:
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box.exec() in (QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Ok)


_presenter: Presenter = _message_box


def set_presenter(presenter: Presenter | None) -> Presenter:
    """Replace how messages are shown (``None``: message boxes again); returns the old one."""
    global _presenter
    previous = _presenter
    _presenter = presenter or _message_box
    return previous


def _show(parent: QWidget | None, message: Message) -> bool:
    return _presenter(parent, message)


def error(parent: QWidget | None, title: str, text: str, detail: str | None = None) -> None:
    _show(parent, Message("error", title, text, detail))


def warning(parent: QWidget | None, title: str, text: str, detail: str | None = None) -> None:
    _show(parent, Message("warning", title, text, detail))


def inform(parent: QWidget | None, title: str, text: str, detail: str | None = None) -> None:
    _show(parent, Message("info", title, text, detail))


def confirm(parent: QWidget | None, title: str, text: str, detail: str | None = None) -> bool:
    """A yes/no question; True means yes."""
    return _show(parent, Message("question", title, text, detail))


def ask(parent: QWidget | None, title: str, text: str, detail: str | None = None, *,
        yes: str, no: str, default_yes: bool = False) -> bool:
    """A question with buttons that say what they do; Enter gives the safe answer (no)
    unless ``default_yes``; Esc always answers no. True means ``yes``."""
    return _show(parent, Message("question", title, text, detail, yes, no, default_yes))
