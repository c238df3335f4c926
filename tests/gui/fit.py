"""Does a window fit a small screen, with every label and button showing its whole text?

Screens are given in logical pixels, the ones widgets are laid out in: 125 % display
scaling (QT_SCALE_FACTOR=1.25) of a 1280x720 screen leaves 1024x576 of them, with the
same fonts, so one process can check every size the issue names.
"""

from __future__ import annotations

from dataclasses import dataclass

from taper_app.ui.qt import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QSize,
    Qt,
    QTabBar,
    QWidget,
)

#: (name, width, height) in logical pixels.
SCREENS = (
    ("1366x768 at 100%", 1366, 768),
    ("1280x720 at 100%", 1280, 720),
    ("1366x768 at 125%", 1092, 614),
    ("1280x720 at 125%", 1024, 576),
)
#: What the desktop takes: a task bar or panel, and the window's title bar and borders.
PANEL, TITLE_BAR, BORDER = 40, 30, 4
#: A title bar also holds the icon and three buttons beside the title.
TITLE_BAR_FURNITURE = 130


def available(width: int, height: int) -> QSize:
    """The room a window's contents have on a screen of that size."""
    return QSize(width - 2 * BORDER, height - PANEL - TITLE_BAR - BORDER)


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


@dataclass(frozen=True)
class Clipped:
    widget: str
    text: str
    needs: str

    def __str__(self) -> str:
        return f"{self.widget} {self.text[:60]!r}: {self.needs}"


def _name(widget: QWidget) -> str:
    return f"{type(widget).__name__}({widget.objectName() or '-'})"


def clipped(window: QWidget) -> list[Clipped]:
    """Every visible label, button, group title and tab of ``window`` whose text does not
    fit the room it has (its font's metrics against its contents rectangle), and the
    window title against the window's width."""
    found: list[Clipped] = []
    metrics = window.fontMetrics()
    title = window.windowTitle()
    if title and metrics.horizontalAdvance(title) + TITLE_BAR_FURNITURE > window.width():
        found.append(Clipped("window title", title,
                             f"{metrics.horizontalAdvance(title) + TITLE_BAR_FURNITURE} px "
                             f"for {window.width()}"))
    for widget in window.findChildren(QWidget):
        if widget.window() is not window or not widget.isVisibleTo(window):
            continue
        if widget.width() <= 0 or widget.height() <= 0:
            continue
        if isinstance(widget.parentWidget(), QLineEdit):
            continue  # a line edit's own icon button (a date field's calendar)
        if isinstance(widget, QLabel):
            found += _label(widget)
        elif isinstance(widget, QAbstractButton) and widget.text():
            hint = widget.sizeHint()
            if hint.width() > widget.width() + 1 or hint.height() > widget.height() + 1:
                found.append(Clipped(_name(widget), _plain(widget.text()),
                                     f"{hint.width()}x{hint.height()} for "
                                     f"{widget.width()}x{widget.height()}"))
        elif isinstance(widget, QGroupBox) and widget.title():
            need = widget.fontMetrics().horizontalAdvance(_plain(widget.title())) + 16
            if need > widget.width():
                found.append(Clipped(_name(widget), widget.title(),
                                     f"{need} px for {widget.width()}"))
        elif isinstance(widget, QTabBar):
            for i in range(widget.count()):
                need = widget.fontMetrics().horizontalAdvance(_plain(widget.tabText(i)))
                if need > widget.tabRect(i).width() - 8:
                    found.append(Clipped(_name(widget), widget.tabText(i),
                                         f"{need} px for {widget.tabRect(i).width()}"))
    return found


def _label(label: QLabel) -> list[Clipped]:
    text = label.text()
    if not text or (label.pixmap() is not None and not label.pixmap().isNull()):
        return []
    room = label.contentsRect()
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height() + 1:
            return [Clipped(_name(label), text, f"{need} px high for {label.height()}")]
        return []
    if label.textFormat() == Qt.TextFormat.PlainText or "<" not in text:
        lines = _plain(text).split("\n") if label.buddy() else text.split("\n")
        widest = max(label.fontMetrics().horizontalAdvance(line) for line in lines)
        high = label.fontMetrics().height() * len(lines)
        if widest > room.width() + 1 or high > room.height() + 1:
            return [Clipped(_name(label), text, f"{widest}x{high} for "
                            f"{room.width()}x{room.height()}")]
        return []
    hint = label.sizeHint()  # rich text: the laid-out document's size
    if hint.width() > label.width() + 1 or hint.height() > label.height() + 1:
        return [Clipped(_name(label), text, f"{hint.width()}x{hint.height()} for "
                        f"{label.width()}x{label.height()}")]
    return []


def minimum_size(window: QWidget) -> QSize:
    """The least room the window's layout lets it have (a wrapped text that then needs
    more height shows up as clipped at the size it gets)."""
    return window.minimumSizeHint().expandedTo(window.minimumSize())


def show_on_screen(window: QWidget, width: int, height: int) -> QSize | None:
    """Size ``window`` as a window manager would on that screen (its own size, cut to the
    screen); None when even its minimum size does not fit."""
    room = available(width, height)
    minimum = minimum_size(window)
    layout = window.layout()
    if minimum.width() > room.width() or minimum.height() > room.height():
        return None
    if isinstance(window, QMainWindow):
        natural = room  # shown maximized on a small screen (MainWindow.show_for_screen)
    elif window.testAttribute(Qt.WidgetAttribute.WA_Resized):
        natural = window.size()  # the program chose its size
    else:  # shown at its size hint, as Qt does
        natural = window.sizeHint()
        if layout is not None and layout.hasHeightForWidth():
            natural.setHeight(layout.totalHeightForWidth(natural.width()))
    size = natural.boundedTo(room).expandedTo(minimum)
    window.resize(size)
    for _ in range(3):
        QApplication.processEvents()
    return size
