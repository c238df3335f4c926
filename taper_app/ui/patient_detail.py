"""The patient pane: who, the figures as of today, dose history with gaps, the schedule,
and the taper charts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ..services.study import StudyInfo
from .formatting import TARGET_LABELS, flags_label, iso, mg, pct, status_colour
from .models import DoseHistoryModel
from .qt import (
    QAction,
    QEvent,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QObject,
    QResizeEvent,
    Qt,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from .rows import HistoryRow, PatientRow
from .schedule_view import SchedulePane
from .sign_dialog import SignatureBox
from .taper_view import TaperView
from .widgets import em, fit_columns, setup_table

FIGURES = (  # key, label; filled from the service's summary_dict
    ("day", "Study day"), ("dose", "Dose today"), ("reduction", "Reduction"),
    ("target", "Target"), ("cumulative", "Cumulative"), ("spared", "Steroid spared"),
    ("missing", "Missing days"), ("deviations", "Deviation days"),
)


def queries_text(counts: tuple[int, int]) -> str:
    """The pane's link: "2 open queries (1 answered, to close)"; empty when none."""
    opened, answered = counts
    total = opened + answered
    if not total:
        return ""
    words = f"{total} open quer{'ies' if total != 1 else 'y'}"
    if answered:
        words += f" ({answered} answered, to close)"
    return f'<a href="queries" style="color: #b71c1c;">{words}</a>'


def tool_button(action: QAction, name: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName(name)
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class GapList(QListWidget):
    """The patient's runs of missing days as chips: one click (or Enter) on a chip opens
    the dose form prefilled for that gap."""

    STYLE = """
    QListWidget { background: transparent; border: none; }
    QListWidget::item { border: 1px solid #8d6e63; border-radius: 4px; padding: 2px 8px;
                        color: #4e342e; background: #fbe9e7; }
    QListWidget::item:hover, QListWidget::item:selected { background: #ffccbc;
                                                          color: #3e2723; }
    QListWidget::item:disabled { color: #8d8d8d; border-color: #bdbdbd;
                                 background: #f5f5f5; }
    """

    def __init__(self, open_gap: Callable[[date, date], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.open_gap = open_gap
        self.setObjectName("gaps")
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(3)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet(self.STYLE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedHeight(self._rows_height(1))
        self.clicked.connect(lambda index: self._open(self.item(index.row())))
        self.gaps: list[tuple[date, date]] = []

    def set_gaps(self, gaps: list[tuple[date, date]], enabled: bool) -> None:
        self.clear()
        self.gaps = list(gaps)
        for first, last in gaps:
            days = (last - first).days + 1
            span = iso(first) if days == 1 else f"{iso(first)} – {iso(last)}"
            item = QListWidgetItem(f"{span}  ({days} day{'s' * (days != 1)})")
            item.setData(Qt.ItemDataRole.UserRole, (first, last))
            item.setToolTip("Enter the dose taken on these days" if enabled
                            else "Your role cannot enter doses")
            if not enabled:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(item)
        self.setVisible(bool(gaps))
        self._fit_rows()

    #: At most this many rows of chips show at once; more scroll.
    MAX_ROWS = 2

    def _rows_height(self, rows: int) -> int:
        chip = int(self.fontMetrics().height() * 1.6) + 2 * self.spacing()
        return rows * chip + 2 * self.frameWidth() + self.spacing()

    def _fit_rows(self) -> None:
        """As many rows as the chips need at this width (up to :attr:`MAX_ROWS`)."""
        width = self.viewport().width()
        used, rows = 0, 1
        for i in range(self.count()):
            chip = self.sizeHintForIndex(self.indexFromItem(self.item(i))).width()
            chip += 2 * self.spacing()
            if used and used + chip > width:
                rows += 1
                used = 0
            used += chip
        height = self._rows_height(min(rows, self.MAX_ROWS))
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def texts(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self._open(self.currentItem())
            return
        super().keyPressEvent(event)

    def _open(self, item: QListWidgetItem | None) -> None:
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return
        first, last = item.data(Qt.ItemDataRole.UserRole)
        self.open_gap(first, last)


class PatientDetail(QWidget):
    """Shows one :class:`PatientRow`; the window owns the actions its buttons trigger."""

    def __init__(self, actions: dict[str, QAction], open_gap: Callable[[date, date], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row: PatientRow | None = None

        self.title = QLabel()
        self.title.setObjectName("patient_title")
        font = self.title.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.35)
        else:  # a font sized in pixels
            font.setPixelSize(int(font.pixelSize() * 1.35))
        font.setBold(True)
        self.title.setFont(font)
        self.badge = QLabel()
        self.badge.setObjectName("patient_badge")
        self.about = QLabel()
        self.about.setObjectName("patient_about")
        self.about.setWordWrap(True)
        # "2 open queries": a link that opens the Queries view on this patient.
        self.queries = QLabel()
        self.queries.setObjectName("patient_queries")
        self.queries.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                             | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.queries.setToolTip("Open the Queries view on this patient")
        queries_action = actions.get("patient_queries")
        if queries_action is not None:
            self.queries.linkActivated.connect(lambda _link: queries_action.trigger())
        self.queries.hide()
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addWidget(self.queries)
        head.addStretch(1)

        self.figure_labels: dict[str, QLabel] = {}
        figures = QGridLayout()
        figures.setHorizontalSpacing(em(self, 1.2))
        for i, (key, label) in enumerate(FIGURES):
            name = QLabel(label)
            name.setEnabled(False)
            value = QLabel()
            value.setObjectName(f"figure_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.figure_labels[key] = value
            figures.addWidget(name, (i // 4) * 2, i % 4)
            figures.addWidget(value, (i // 4) * 2 + 1, i % 4)
        for column in range(4):
            figures.setColumnStretch(column, 1)

        # Doses tab: actions, history (newest first), gaps
        # Sorted by the model itself (no filter here): see RowTableModel.sort.
        self.history_model = DoseHistoryModel(self)
        self.history_view = QTableView()
        self.history_view.setObjectName("history")
        self.history_view.setModel(self.history_model)
        setup_table(self.history_view, stretch_column=DoseHistoryModel.NOTE)
        self.history_view.setSortingEnabled(True)
        self.history_view.sortByColumn(DoseHistoryModel.START, Qt.SortOrder.DescendingOrder)
        fit_columns(self.history_view, DoseHistoryModel.SAMPLES)
        self.history_view.doubleClicked.connect(lambda _index: actions["correct_dose"].trigger())
        self.history_view.installEventFilter(self)
        dose_buttons = QHBoxLayout()
        for key in ("new_dose", "returned_calendar", "correct_dose", "void_dose"):
            dose_buttons.addWidget(tool_button(actions[key], f"{key}_button"))
        dose_buttons.addStretch(1)
        self.gaps = GapList(open_gap)
        self.no_gaps = QLabel("No missing days from Day 1 to today.")
        self.no_gaps.setObjectName("no_gaps")
        # Its line is kept on a short screen: the dose history above gives up rows instead.
        self.no_gaps.setMinimumHeight(self.no_gaps.sizeHint().height())
        self.gaps_box = QGroupBox("Missing days")
        gl = QVBoxLayout(self.gaps_box)
        gl.addWidget(self.no_gaps)
        gl.addWidget(self.gaps)
        doses = QWidget()
        dl = QVBoxLayout(doses)
        dl.addLayout(dose_buttons)
        dl.addWidget(self.history_view, 1)
        dl.addWidget(self.gaps_box)

        self.schedule = SchedulePane()
        self.schedule.amend_button.setDefaultAction(actions["amend"])
        if "withdraw_amendment" in actions:
            self.schedule.withdraw_button.setDefaultAction(actions["withdraw_amendment"])
        if "correct_enrollment" in actions:
            self.schedule.correct_button.setDefaultAction(actions["correct_enrollment"])

        self.charts = TaperView()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("patient_tabs")
        self.tabs.addTab(doses, "&Doses")
        # Alt+S and Alt+H are the Study and Help menus': the tabs keep clear of them.
        self.tabs.addTab(self.schedule, "S&chedule")
        self.tabs.addTab(self.charts, "Ch&arts")
        # The chart needs the height more than the figures above it (it shows them too).
        self.tabs.currentChanged.connect(lambda _index: self._fit_to_tab())

        self.placeholder = QLabel("Select a patient in the list (Ctrl+F to find one).")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)

        self.content = QWidget()
        cl = QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(head)
        cl.addWidget(self.about)
        self.figures_box = QWidget()
        self.figures_box.setObjectName("figures_box")
        figures.setContentsMargins(0, 0, 0, 0)
        self.figures_box.setLayout(figures)
        cl.addWidget(self.figures_box)
        self.signatures = SignatureBox(actions.get("sign"))  # filled by the window
        cl.addWidget(self.signatures)
        cl.addWidget(self.tabs, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.content, 1)
        self.content.hide()

    def show_row(self, row: PatientRow | None, history: list[HistoryRow], study: StudyInfo,
                 can_enter_doses: bool) -> None:
        self.row = row
        if row is None or not row.complete:  # none, or its record still on its way
            self.placeholder.setText(
                "Select a patient in the list (Ctrl+F to find one)." if row is None
                else f"Loading {row.subject_id}…")
            self.content.hide()
            self.placeholder.show()
            self.history_model.set_rows([])
            self.gaps.set_gaps([], False)
            self.schedule.show_record(None, study)
            self.charts.show_analysis(None, study.protocol.settings)
            return
        template = study.templates.get(row.record.template_id)
        template_name = template.name if template is not None else row.record.template_id
        self.placeholder.hide()
        self.content.show()
        r, s = row.record, row.summary
        self.title.setText(r.subject_id)
        colour = status_colour(row.status)
        self.badge.setText(f" {flags_label(row.triage.flags)} ")
        self.badge.setStyleSheet(f"background: {colour}; color: white; border-radius: 4px; "
                                 "padding: 1px 6px;")
        self.queries.setText(queries_text(row.queries))
        self.queries.setVisible(row.unresolved_queries > 0)
        kit = f" · kit {r.kit_number}" if r.kit_number else ""
        through, changed = row.verified_through, row.changed_since_verification
        records = f"{changed} record{'s' * (changed != 1)} changed since source-verified"
        sdv = (f" · source-verified through {iso(through)}" if through is not None else "")
        if changed:
            sdv = f"{sdv} ({records})" if sdv else f" · {records}"
        self.about.setText(f"Site {r.site} · Day 1 {iso(r.day1_date)} · baseline "
                           f"{mg(r.baseline_mg)} mg/day · {template_name}{kit} · figures as "
                           f"of {s['as_of']}{sdv}")
        target = s["target"]
        deviations = (f"{s['deviation_days_above']} above, {s['deviation_days_below']} below "
                      f"({s['deviation_episodes']} episode{'s' * (s['deviation_episodes'] != 1)})")
        values = {
            "day": f"Day {s['as_of_day']}",
            "dose": f"{mg(s['actual_mg'])} mg/day (scheduled {mg(s['scheduled_mg'])})",
            "reduction": f"{pct(s['reduction_pct'])} % today; 28-day "
                         f"{pct(s['window_reduction_pct'])} %",
            "target": f"≥ {target['reduction_pct']:g} % by Day {target['day']}: "
                      f"{TARGET_LABELS.get(target['status'], target['status'])}"
                      + (f" ({pct(target['window_reduction_pct'])} %)"
                         if target["window_reduction_pct"] is not None else ""),
            "cumulative": f"{mg(s['cumulative_mg'])} mg (scheduled "
                          f"{mg(s['scheduled_cumulative_mg'])})",
            "spared": f"{mg(s['spared_mg'])} mg ({pct(s['cumulative_reduction_pct'])} %)",
            "missing": f"{s['missing_days']} of {max(0, s['as_of_day'])}",
            "deviations": deviations,
        }
        for key, text in values.items():
            self.figure_labels[key].setText(text)
        self.history_model.set_rows(history)
        self.schedule.show_record(r, study)
        self.charts.show_analysis(row.analysis, study.protocol.settings)
        gaps = row.analysis.gaps if row.analysis is not None else []
        self.gaps.set_gaps(gaps, can_enter_doses)
        self.no_gaps.setVisible(not gaps)
        self.gaps_box.setTitle(f"Missing days: {len(gaps)} gap{'s' * (len(gaps) != 1)}"
                               + (" (click one to enter its dose)" if gaps and can_enter_doses
                                  else ""))

    def _fit_to_tab(self) -> None:
        self.figures_box.setVisible(self.tabs.currentWidget() is not self.charts)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Arriving in the history with the keyboard chooses the row under the cursor, so
        # F2 or Ctrl+Shift+V act on what the nurse sees highlighted.
        if watched is self.history_view and event.type() == QEvent.Type.FocusIn:
            view = self.history_view
            if self.history_model.rowCount() and not view.selectionModel().hasSelection():
                current = view.currentIndex()
                view.selectRow(current.row() if current.isValid() else 0)
        return super().eventFilter(watched, event)

    def selected_history(self) -> HistoryRow | None:
        index = self.history_view.currentIndex()
        if not index.isValid() or not self.history_view.selectionModel().isSelected(index):
            return None
        return self.history_model.row_object(index.row())
