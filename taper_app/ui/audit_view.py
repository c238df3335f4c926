"""The audit trail on screen, for people: one row per action (who, when in local time and
UTC, what, why) with the fields it changed inside it (old → new, in words), filtered by
patient, user, kind and date; the full values on hover and in the detail pane; and to CSV.

Rows come from ``services.audit_query.read_audit`` (which applies the user's site limits)
and are grouped and labelled by ``group_actions``; the CSV is ``export_audit_csv``, one
line per audit row as before. This window only asks and shows.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Any

from ..services.audit_query import (
    AuditAction,
    AuditFilter,
    AuditRow,
    FieldChange,
    action_label,
    export_audit_csv,
    group_actions,
    value_label,
)
from ..services.context import ServiceContext
from ..services.errors import Problem, ServiceError
from ..services.gateway import StudyGateway, local_study
from ..storage.errors import DatabaseError
from . import messages
from .inputs import DateField
from .qt import (
    QAbstractItemModel,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPushButton,
    QSplitter,
    Qt,
    QTextBrowser,
    QTreeView,
    QVBoxLayout,
    QWidget,
)
from .widgets import FORM_STYLE, FieldErrors, em

#: More audit rows than a person reads on screen; the CSV export always has every row.
SHOWN_ROWS = 5000
ALL = "(all)"

_Index = QModelIndex | QPersistentModelIndex


def _local(action: AuditAction) -> str:
    return f"{action.local_time():%Y-%m-%d %H:%M:%S}"


def _utc(action: AuditAction) -> str:
    return action.at_utc.replace("T", " ")[:19]


class AuditActionsModel(QAbstractItemModel):
    """Actions newest first; each action's changed fields are its child rows."""

    LOCAL, UTC, USER, PATIENT, WHAT, CHANGES, WHY = range(7)
    HEADERS = (
        ("When (local)", "Time of the action in this computer's time zone"),
        ("When (UTC)", "Time of the action, UTC (as stored)"),
        ("User", "Who did it"),
        ("Patient", "The patient it belongs to"),
        ("What", "The action, or (inside it) the field changed"),
        ("Changes", "The fields it changed: old → new"),
        ("Why", "The reason given"),
    )
    #: The role that gives the action (or the field change) behind an index.
    ObjectRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actions: list[AuditAction] = []

    def set_actions(self, actions: list[AuditAction]) -> None:
        self.beginResetModel()
        self._actions = list(actions)
        self.endResetModel()

    def actions(self) -> list[AuditAction]:
        return list(self._actions)

    # ------------------------------------------------------------ structure

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)  # an action
        return self.createIndex(row, column, parent.row() + 1)  # a field of action row-1

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, 0)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._actions)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self._actions[parent.row()].changes)
        return 0

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.HEADERS[section][1]
        return None

    # ------------------------------------------------------------ values

    def action_at(self, index: _Index) -> AuditAction:
        row = index.row() if index.internalId() == 0 else index.internalId() - 1
        return self._actions[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        action = self.action_at(index)
        change = None if index.internalId() == 0 else action.changes[index.row()]
        if role == self.ObjectRole:
            return change if change is not None else action
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(action, change, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(action, change)
        return None

    def _display(self, action: AuditAction, change: FieldChange | None, column: int) -> str:
        if change is not None:  # a field row: the field and its values, in full
            if column == self.WHAT:
                return change.label
            if column == self.CHANGES:
                if change.old_value is None:
                    return value_label(change.new_value)
                return f"{value_label(change.old_value)} → {value_label(change.new_value)}"
            return ""
        values = {self.LOCAL: _local(action), self.UTC: _utc(action),
                  self.USER: action.username, self.PATIENT: action.subject_id or "",
                  self.WHAT: action.what, self.CHANGES: action.summary,
                  self.WHY: action.reason or ""}
        return values.get(column, "")

    def _tooltip(self, action: AuditAction, change: FieldChange | None) -> str:
        """The full values (never cut), and the reason."""
        changes = [change] if change is not None else list(action.changes)
        lines = [f"<b>{html.escape(action.what)}</b> by {html.escape(action.username)}, "
                 f"{_local(action)} local ({_utc(action)} UTC)"]
        lines += [f"{html.escape(c.label)}: {html.escape(value_label(c.old_value))} → "
                  f"{html.escape(value_label(c.new_value))}" if c.old_value is not None
                  else f"{html.escape(c.label)}: {html.escape(value_label(c.new_value))}"
                  for c in changes]
        if action.reason:
            lines.append(f"Why: {html.escape(action.reason)}")
        return "<br>".join(lines)


def action_detail_html(action: AuditAction) -> str:
    """Everything about one action for the detail pane: full values, row ids and hashes."""
    e = html.escape
    head = (f"<h3>{e(action.what)}</h3><p><b>{e(action.username)}</b>, "
            f"{_local(action)} local time ({_utc(action)} UTC)"
            + (f"; patient <b>{e(action.subject_id)}</b>" if action.subject_id else "")
            + "</p>")
    why = f"<p>Why: {e(action.reason)}</p>" if action.reason else ""
    rows = "".join(
        f"<tr><td>{e(c.label)}</td><td>{e(value_label(c.old_value))}</td>"
        f"<td>{e(value_label(c.new_value))}</td><td>row {c.row_id}</td></tr>"
        for c in action.changes)
    table = ("<table cellspacing='0' cellpadding='3' border='1'><tr><th>Field</th>"
             f"<th>Old</th><th>New</th><th>Audit row</th></tr>{rows}</table>")
    hashes = "<br>".join(f"row {c.row_id}: SHA-256 {c.row_hash}" for c in action.changes)
    return (f"{head}{why}{table}<p style='color:#555'>Action code {e(action.action)} on "
            f"{e(action.entity)} {e(action.entity_id)}.<br>{hashes}</p>")


class AuditDialog(QDialog):
    """The trail of one patient or of the whole study, with filters and a CSV export."""

    def __init__(self, ctx: ServiceContext | StudyGateway, subject_id: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = local_study(ctx)
        self.subject_id = subject_id
        self.setObjectName("audit_view")
        self.setStyleSheet(FORM_STYLE)
        self.rows: list[AuditRow] = []
        self._filter = AuditFilter()

        self.patient = QComboBox()
        self.patient.setObjectName("patient_filter")
        self.user = QComboBox()
        self.user.setObjectName("user_filter")
        self.kind = QComboBox()
        self.kind.setObjectName("kind_filter")
        self.since = DateField(ctx.today, "from YYYY-MM-DD", "since")
        self.until = DateField(ctx.today, "to YYYY-MM-DD", "until")
        for edit in (self.since, self.until):
            edit.setMinimumWidth(em(self, 9))
            edit.setToolTip("A UTC date, inclusive")
        general = QLabel()
        self.errors = FieldErrors(general)
        self.apply_button = QPushButton("&Apply")
        self.apply_button.setObjectName("apply_filters")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.reload)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setObjectName("export_csv")
        self.export_button.clicked.connect(self.export_csv)
        self.expand_button = QPushButton("E&xpand all")
        self.expand_button.setObjectName("expand_all")
        self.expand_button.setCheckable(True)
        self.expand_button.toggled.connect(self._expand_all)
        close = QPushButton("&Close")
        close.clicked.connect(self.accept)

        filters = QHBoxLayout()
        for text, box in (("&Patient:", self.patient), ("&User:", self.user),
                          ("&Kind:", self.kind)):
            label = QLabel(text)
            label.setBuddy(box)
            filters.addWidget(label)
            filters.addWidget(box)
        filters.addWidget(self.errors.field("since", self.since))
        filters.addWidget(self.errors.field("until", self.until))
        filters.addWidget(self.apply_button)
        filters.addStretch(1)

        self.model = AuditActionsModel(self)
        self.tree = QTreeView()
        self.tree.setObjectName("audit_actions")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
        self.tree.setMouseTracking(True)
        widths = {AuditActionsModel.LOCAL: "2026-07-02 14:30:00 ",
                  AuditActionsModel.UTC: "2026-07-02 14:30:00",
                  AuditActionsModel.USER: "investigator", AuditActionsModel.PATIENT: "101-0000",
                  AuditActionsModel.WHAT: "Dose record closed: dose record 1234",
                  AuditActionsModel.CHANGES: "Drug: prednisone; Dose (mg): 20; Frequency: QD; "}
        metrics = self.tree.fontMetrics()
        for column, sample in widths.items():
            extra = self.tree.indentation() if column == 0 else 0  # the expand arrow
            self.tree.setColumnWidth(column, metrics.horizontalAdvance(sample) + em(self, 2)
                                     + extra)
        self.tree.selectionModel().currentRowChanged.connect(self._show_detail)
        self.detail = QTextBrowser()
        self.detail.setObjectName("audit_detail")
        self.detail.setPlaceholderText("Select an action to see its every field in full.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.count = QLabel()
        self.count.setObjectName("audit_count")

        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.expand_button)
        bottom.addWidget(self.export_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(general)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.setWindowTitle(self._title())
        self.resize(em(self, 100), em(self, 44))
        self._fill_choices()
        self.reload()

    def _title(self) -> str:
        scope = f"patient {self.subject_id}" if self.subject_id else "the whole study"
        return f"Audit trail – {scope}"

    @classmethod
    def build(cls, ctx: ServiceContext | StudyGateway, subject_id: str | None = None,
               parent: QWidget | None = None) -> AuditDialog:
        return cls(ctx, subject_id, parent)

    @classmethod
    def ask_save_path(cls, parent: QWidget, suggested: str) -> Path | None:
        """Where to save the CSV (a file dialog; tests replace this classmethod)."""
        chosen, _filter = QFileDialog.getSaveFileName(parent, "Export the audit trail",
                                                      suggested, "CSV files (*.csv)")
        return Path(chosen) if chosen else None

    def _fill_choices(self) -> None:
        try:
            choices = self.ctx.audit_choices()
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the audit trail", str(exc))
            return
        subjects = list(choices.subjects)
        if self.subject_id is not None and self.subject_id not in subjects:
            subjects.append(self.subject_id)
        for box, values, labels in (
                (self.patient, subjects, None), (self.user, choices.usernames, None),
                (self.kind, sorted(choices.actions, key=action_label), action_label)):
            box.clear()
            box.addItem(ALL, None)
            for value in values:
                box.addItem(labels(value) if labels else value, value)
        if self.subject_id is not None:
            self.patient.setCurrentIndex(self.patient.findData(self.subject_id))

    def current_filter(self) -> AuditFilter | None:
        """The filters as the service takes them; None (fields marked) if a date is wrong."""
        problems: list[Problem] = []
        dates: dict[str, date | None] = {}
        for name, edit in (("since", self.since), ("until", self.until)):
            text = edit.text().strip()
            try:
                dates[name] = date.fromisoformat(text) if text else None
            except ValueError:
                problems.append(Problem(name, "a date as YYYY-MM-DD"))
        first, last = dates.get("since"), dates.get("until")
        if first and last and last < first:
            problems.append(Problem("until", "is before the start date"))
        self.errors.show(problems)
        if problems:
            return None
        kind = self.kind.currentData()
        return AuditFilter(subject_id=self.patient.currentData(),
                           username=self.user.currentData(),
                           actions=(kind,) if kind else None, since=first, until=last)

    def reload(self) -> None:
        wanted = self.current_filter()
        if wanted is None:
            return
        try:
            _head, rows = self.ctx.read_audit(wanted, SHOWN_ROWS + 1)
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the audit trail", str(exc))
            return
        self._filter = wanted
        self.rows = rows[:SHOWN_ROWS]
        actions = group_actions(self.rows)
        self.model.set_actions(actions)
        if self.expand_button.isChecked():
            self.tree.expandAll()
        self.detail.clear()
        more = len(rows) > SHOWN_ROWS
        n, m = len(actions), len(self.rows)
        text = (f"{n} action{'s' * (n != 1)} ({m} audit row{'s' * (m != 1)})"
                + ("; the newest rows only: Export CSV writes them all" if more else ""))
        self.count.setText(text)

    def _expand_all(self, on: bool) -> None:
        if on:
            self.tree.expandAll()
        else:
            self.tree.collapseAll()

    def _show_detail(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        self.detail.setHtml(action_detail_html(self.model.action_at(current)))

    def export_csv(self) -> None:
        """Every row of the current filter (not only those shown) to a CSV file."""
        wanted = self.current_filter()
        if wanted is None:
            return
        scope = wanted.subject_id if wanted.subject_id else "study"
        path = self.ask_save_path(self, f"audit-{scope}.csv")
        if path is None:
            return
        try:
            # The head is read before the rows, so the trail holds it.
            head, rows = self.ctx.read_audit(wanted, None, with_head=True)
            assert head is not None
            export_audit_csv(rows, path, head=head)
        except OSError as exc:
            messages.error(self, "The audit trail was not exported",
                           f"{path}: {exc.strerror or exc}")
            return
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "The audit trail was not exported", str(exc))
            return
        messages.inform(self, "Audit trail exported", f"{len(rows)} rows written to {path}")
