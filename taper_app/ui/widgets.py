"""Small widgets every view shares: fields that show their error in place, the status
badge, a table set up the same way everywhere, and the schedule chart canvas."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from matplotlib.figure import Figure

from ..domain.schedule import ScheduleStep
from ..reports.schedule_chart import draw_schedule, schedule_figure
from ..services.errors import Problem
from .qt import (
    FigureCanvasQTAgg,
    QAbstractItemView,
    QColor,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QModelIndex,
    QPainter,
    QPersistentModelIndex,
    QResizeEvent,
    QSize,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)

ERROR_COLOUR = "#b00020"

#: Applied to every form: a field holding a problem gets a red frame.
FORM_STYLE = f"""
QLineEdit[invalid="true"], QComboBox[invalid="true"] {{
    border: 2px solid {ERROR_COLOUR}; border-radius: 3px; padding: 1px 3px;
    background: #fff4f5; color: #000000;
}}
QLabel[role="field-error"] {{ color: {ERROR_COLOUR}; }}
QLabel[role="general-error"] {{ color: {ERROR_COLOUR}; font-weight: bold; }}
QLabel[role="readout"] {{ padding: 4px; border: 1px solid #b0bec5; border-radius: 3px;
                          background: #f5f9fc; color: #102027; }}
QLabel[role="readout"][warn="true"] {{ border-color: #e65100; background: #fff8e1; }}
"""


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


#: A field's name on screen where it differs from its service name in words.
FIELD_WORDS = {"dose_mg": "Dose", "baseline_mg": "Baseline", "day1_date": "Day 1 date",
               "day_date": "Date", "deviation_reason": "Reason for differing"}


class OneLine(QLabel):
    """Plain text on one line that takes the width it is given: cut with "…" when the
    line is shorter than the text (the whole text in the tooltip). It never needs more
    height on a narrow screen, so it never squeezes what is below it."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().height())
        self.set_full(text)

    def set_full(self, text: str) -> None:
        self.full = text
        self.setToolTip(text)
        self._elide()

    def is_cut(self) -> bool:
        return bool(self.full) and self.text() != self.full

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.fontMetrics().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.full if width <= 0 else self.fontMetrics().elidedText(
            self.full, Qt.TextElideMode.ElideRight, width)
        if shown != self.text():
            self.setText(shown)


class ErrorLine(OneLine):
    """A field's one reserved message line. A message longer than the line is cut with
    "…" here (its whole text in the tooltip, and FieldErrors repeats it below the form),
    so a message never makes the row taller and never moves the fields below."""

    def set_message(self, text: str) -> None:
        self.set_full(text)


class FieldErrors:
    """Shows a service's problems beside the fields they name, in place.

    Each field is registered by the name the services use (``dose_mg``, ``start_date``);
    a problem for a name without a field goes to the general label.
    """

    def __init__(self, general: QLabel) -> None:
        self.general = general
        self.general.setProperty("role", "general-error")
        self.general.setWordWrap(True)
        self.general.hide()
        self._fields: dict[str, tuple[QWidget, ErrorLine]] = {}
        #: What each field is called on screen, for a message repeated below the form.
        self._labels: dict[str, str] = {}
        self._order: list[str] = []

    def field(self, name: str, widget: QWidget, hint: str | None = None,
              beside: QWidget | None = None) -> QWidget:
        """A container holding ``widget`` and its (hidden) error line, for a form row;
        ``beside``: a note to the right of the field, its error line running under both."""
        if isinstance(widget, (QLineEdit, QComboBox)):
            # The red frame of a refused value must not change the field's height: the
            # fields below would move under the user's pointer.
            widget.setFixedHeight(widget.sizeHint().height())
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        if beside is None:
            layout.addWidget(widget)
        else:
            line = QHBoxLayout()
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(widget, 1)
            line.addWidget(beside, 0)
            layout.addLayout(line)
        box.setFocusProxy(widget)  # a form label's &mnemonic focuses the field itself
        error = ErrorLine()
        error.setProperty("role", "field-error")
        error.setObjectName(f"{name}_error")
        # The line is always there, empty until a problem appears: a message never moves
        # the fields below it under the user's pointer.
        layout.addWidget(error)
        if hint:
            widget.setToolTip(hint)
        self._labels[name] = FIELD_WORDS.get(name, name.replace("_", " ").capitalize())
        self._fields[name] = (widget, error)
        self._order.append(name)
        return box

    def widget(self, name: str) -> QWidget:
        return self._fields[name][0]

    def clear(self) -> None:
        for name in self._fields:
            self._set(name, [])
        self.general.clear()
        self.general.hide()

    def show(self, problems: Iterable[Problem]) -> QWidget | None:
        """Mark each problem at its field; returns the first marked widget (to focus it)."""
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        for p in problems:
            if p.field in self._fields:
                by_field.setdefault(p.field, []).append(p.message)
            else:
                general.append(str(p))
        for name in self._fields:
            self._set(name, by_field.get(name, []))
        # A message cut short at its field is said in full below the form as well.
        general += [f"{self._labels.get(name, name)}: {label.full}"
                    for name, (_widget, label) in self._fields.items() if label.is_cut()]
        if general:
            self.general.setText("\n".join(general))
            self.general.show()
        else:
            self.general.clear()
            self.general.hide()
        first = next((n for n in self._order if n in by_field), None)
        return self._fields[first][0] if first else None

    def message(self, name: str) -> str:
        """The error text of a field ('' when it has none), whole even where cut short."""
        return self._fields[name][1].full

    def marked(self) -> list[str]:
        return [n for n in self._order if self._fields[n][1].full]

    def _set(self, name: str, messages: list[str]) -> None:
        widget, label = self._fields[name]
        text = "; ".join(messages)
        label.set_message(text)
        invalid = bool(text)
        targets = [widget]
        edit = widget.lineEdit() if isinstance(widget, QComboBox) else None
        if edit is not None:
            targets.append(edit)
        for target in targets:
            if bool(target.property("invalid")) != invalid:
                target.setProperty("invalid", invalid)
                repolish(target)
        widget.setAccessibleDescription(text)


def line_edit(placeholder: str = "", name: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    if name:
        edit.setObjectName(name)
    edit.setClearButtonEnabled(False)
    return edit


def combo(items: Iterable[str], *, editable: bool = False, name: str = "") -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    box.setEditable(editable)
    if editable:
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = box.completer()
        if completer is not None:
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setCompletionMode(completer.CompletionMode.InlineCompletion)
    if name:
        box.setObjectName(name)
    return box


def em(widget: QWidget, count: float) -> int:
    """``count`` widths of the letter M in the widget's font: sizes that follow scaling."""
    return int(widget.fontMetrics().horizontalAdvance("M") * count)


def fit_title(window: QWidget) -> None:
    """A window at least as wide as its title bar needs (the title, in the window's font,
    beside the icon and the title bar's buttons), so the title is never cut."""
    need = window.fontMetrics().horizontalAdvance(window.windowTitle()) + em(window, 14)
    if window.minimumWidth() < need:
        window.setMinimumWidth(need)


def fit_screen(window: QWidget) -> None:
    """A window no larger than the room its screen has (a small laptop, or 125 % display
    scaling), keeping what its layout needs at least."""
    screen = window.screen()
    if screen is None:
        return
    room = screen.availableGeometry().size()
    # the title bar and borders the window manager adds around the window
    room.setHeight(room.height() - window.fontMetrics().height() * 2 - 8)
    room.setWidth(room.width() - 8)
    size = window.size().boundedTo(room).expandedTo(window.minimumSizeHint())
    if size != window.size():
        window.resize(size)


def setup_table(view: QTableView, *, stretch_column: int | None = None) -> None:
    """One look for every table: whole-row selection, compact rows, sortable headers."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTabKeyNavigation(False)  # Tab leaves the table: the form's tab order stays sane
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(int(view.fontMetrics().height() * 1.6))
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if stretch_column is not None:
        header.setStretchLastSection(False)
        header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
    else:
        header.setStretchLastSection(True)


def fit_columns(view: QTableView, samples: dict[int, str]) -> None:
    """Columns as wide as a sample of their longest value (or their title), in the
    view's own font: right at any display scaling."""
    metrics = view.fontMetrics()
    header = view.horizontalHeader()
    header_metrics = header.fontMetrics()
    model = view.model()
    pad = int(metrics.horizontalAdvance("M") * 1.2)
    for column, sample in samples.items():
        title = str(model.headerData(column, Qt.Orientation.Horizontal)) if model else ""
        width = max(metrics.horizontalAdvance(sample), header_metrics.horizontalAdvance(title))
        view.setColumnWidth(column, width + pad)


class StatusBadgeDelegate(QStyledItemDelegate):
    """Draws the status cell as a coloured pill that keeps its words (never colour alone)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        colour = index.data(Qt.ItemDataRole.BackgroundRole)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if not isinstance(colour, QColor):
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = option.fontMetrics
        pad = max(2, metrics.height() // 6)
        # A narrowed column ends the words with "…" rather than cut a letter in half (the
        # tooltip has them all).
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                  max(0, option.rect.width() - 6 * pad))
        width = min(option.rect.width() - 2 * pad, metrics.horizontalAdvance(text) + 4 * pad)
        pill = option.rect.adjusted(pad, pad, 0, -pad)
        pill.setWidth(max(0, width))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        radius = pill.height() / 2
        painter.drawRoundedRect(pill, radius, radius)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def hline() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class ScheduleChart(FigureCanvasQTAgg):
    """The small schedule preview: the figure is built by ``reports.schedule_chart``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.figure: Figure = schedule_figure()
        super().__init__(self.figure)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(em(self, 18), em(self, 9))
        self._shown: tuple[object, ...] | None = None

    def show_schedule(self, steps: list[ScheduleStep], baseline_mg: Decimal | None,
                      highlight_seq: int | None = None) -> None:
        # Redraw only when the schedule changed: most keystrokes (an id, a kit number)
        # do not change it, and a redraw costs tens of milliseconds.
        key = (tuple(steps), baseline_mg, highlight_seq)
        if key == self._shown:
            return
        self._shown = key
        draw_schedule(self.figure, steps, baseline_mg, highlight_seq=highlight_seq)
        self.draw_idle()
