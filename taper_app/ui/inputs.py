"""Fields that take input as people write it: a date typed as YYYY-MM-DD or picked from a
calendar pop-up (T today, Y yesterday, Up/Down a day on). (The decimal comma of a dose,
"7,5", is read by services.validation, for the form and the imports alike.)

The fields hold text, as every form's other fields do: the services parse and check it,
so a date picked, typed or given on the command line is refused for the same reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from .qt import (
    QAction,
    QCalendarWidget,
    QColor,
    QDate,
    QFrame,
    QIcon,
    QKeyEvent,
    QLineEdit,
    QPainter,
    QPixmap,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

#: What the date fields say when empty (and in their tooltip, with the keys).
DATE_HINT = "YYYY-MM-DD"
DATE_KEYS = ("Type the date as YYYY-MM-DD, or press T for today, Y for yesterday, "
             "Up/Down for the day after/before, Alt+Down for a calendar.")
#: ``date`` under another name for DateField, whose ``date()`` method hides the type.
Date = date


def parse_iso(text: str) -> date | None:
    """The date typed (ISO 8601, YYYY-MM-DD), or None when it is not one."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _calendar_icon(size: int = 16) -> QIcon:
    """A small drawn calendar: no image file to ship, sharp at any scale factor."""
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size * 2
    painter.setPen(QColor("#37474f"))
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(3, 6, s - 6, s - 9, 3, 3)
    painter.fillRect(4, 7, s - 8, 6, QColor("#c62828"))
    painter.setBrush(QColor("#37474f"))
    for row in range(3):
        for col in range(4):
            painter.drawRect(7 + col * (s - 14) // 4, 16 + row * 5, 3, 3)
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)


class CalendarPopup(QFrame):
    """The month pop-up of a date field: arrows move, Enter or a click picks, Esc closes."""

    picked = Signal(object)  # a datetime.date

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("calendar_popup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.calendar = QCalendarWidget(self)
        self.calendar.setObjectName("calendar")
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.calendar.setGridVisible(True)
        self.calendar.setVerticalHeaderFormat(
            QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.calendar.activated.connect(self._pick)  # Enter or a double click
        self.calendar.clicked.connect(self._pick)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.addWidget(self.calendar)

    def open_at(self, anchor: QWidget, shown: date) -> None:
        self.calendar.setSelectedDate(QDate(shown.year, shown.month, shown.day))
        self.adjustSize()
        below = anchor.mapToGlobal(anchor.rect().bottomLeft())
        screen = anchor.screen().availableGeometry()
        x = min(below.x(), screen.right() - self.width())
        y = below.y() if below.y() + self.height() <= screen.bottom() else \
            anchor.mapToGlobal(anchor.rect().topLeft()).y() - self.height()
        self.move(max(x, screen.left()), max(y, screen.top()))
        self.show()
        self.calendar.setFocus(Qt.FocusReason.PopupFocusReason)

    def selected(self) -> date:
        chosen = self.calendar.selectedDate()
        return date(chosen.year(), chosen.month(), chosen.day())

    def _pick(self, _chosen: QDate) -> None:
        self.picked.emit(self.selected())
        self.close()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._pick(self.calendar.selectedDate())
            return
        super().keyPressEvent(event)


class DateField(QLineEdit):
    """A date as YYYY-MM-DD: typed, or picked from a calendar (the icon, Alt+Down or F4);
    T is today and Y yesterday (the study's today, injected), Up/Down a day on or back.

    Letters never belong in an ISO date, so T and Y cannot collide with typing one.
    """

    #: A date was set by a key or the calendar (not typed): editingFinished follows too.
    date_chosen = Signal(object)

    def __init__(self, today: Callable[[], date], placeholder: str = DATE_HINT,
                 name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.today = today
        self.setPlaceholderText(placeholder)
        if name:
            self.setObjectName(name)
        self.setToolTip(DATE_KEYS)
        self.popup: CalendarPopup | None = None
        self.calendar_action = QAction(_calendar_icon(), "Calendar", self)
        self.calendar_action.setObjectName("open_calendar")
        self.calendar_action.setToolTip("Pick the date from a calendar (Alt+Down)")
        self.calendar_action.triggered.connect(self.open_calendar)
        self.addAction(self.calendar_action, QLineEdit.ActionPosition.TrailingPosition)

    def date(self) -> Date | None:
        return parse_iso(self.text())

    def set_date(self, value: Date) -> None:
        """Put a date in as if typed (undoable with Ctrl+Z), the cursor after it."""
        self.selectAll()
        self.insert(value.isoformat())
        self.date_chosen.emit(value)
        self.editingFinished.emit()

    def open_calendar(self) -> None:
        if self.popup is None:
            self.popup = CalendarPopup(self)
            self.popup.picked.connect(self._picked)
        self.popup.open_at(self, self.date() or self.today())

    def _picked(self, value: Date) -> None:
        self.setFocus(Qt.FocusReason.PopupFocusReason)
        self.set_date(value)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        plain = not (mods & (Qt.KeyboardModifier.ControlModifier
                             | Qt.KeyboardModifier.AltModifier
                             | Qt.KeyboardModifier.MetaModifier))
        if plain and key == Qt.Key.Key_T:
            self.set_date(self.today())
            return
        if plain and key == Qt.Key.Key_Y:
            self.set_date(self.today() - timedelta(days=1))
            return
        if plain and key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            current = self.date()
            if current is not None:
                self.set_date(current + timedelta(days=1 if key == Qt.Key.Key_Up else -1))
                return
        if key == Qt.Key.Key_F4 or (key == Qt.Key.Key_Down
                                    and mods & Qt.KeyboardModifier.AltModifier):
            self.open_calendar()
            return
        super().keyPressEvent(event)
