"""The audit trail on screen: who changed what, when (UTC) and why, filtered, and to CSV.

Rows come from ``services.audit_query.read_audit`` (which applies the user's site limits)
and the CSV is written by ``export_audit_csv``; this window only asks and shows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ..services.audit import head_of
from ..services.audit_query import (
    AuditFilter,
    AuditRow,
    audit_choices,
    export_audit_csv,
    read_audit,
)
from ..services.context import ServiceContext
from ..services.errors import Problem, ServiceError
from ..storage.errors import DatabaseError
from . import messages
from .models import RowTableModel, ValueSortProxy
from .qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .widgets import FORM_STYLE, FieldErrors, em, fit_columns, line_edit, setup_table

#: More rows than a person reads on screen; the CSV export always has every row.
SHOWN_ROWS = 5000
ALL = "(all)"


class AuditTableModel(RowTableModel):
    """Audit rows newest first: one changed field per row."""

    WHEN, USER, ACTION, ENTITY, SUBJECT, FIELD, OLD, NEW, WHY = range(9)
    HEADERS = (
        ("When (UTC)", "Time of the change, UTC"),
        ("User", "Who made the change"),
        ("Action", "What was done"),
        ("Entity", "What was changed (and its id)"),
        ("Patient", "The patient the change belongs to"),
        ("Field", "The field that changed"),
        ("Old", "The value before"),
        ("New", "The value after"),
        ("Why", "The reason given"),
    )
    SAMPLES = {WHEN: "2026-07-02 14:30:00", USER: "investigator", ACTION: "record_dose",
               ENTITY: "dose_record 1234", SUBJECT: "101-0000", FIELD: "deviation_reason",
               OLD: "2026-07-02", NEW: "2026-07-02"}

    def display(self, row: AuditRow, column: int) -> str:
        values = (row.at_utc.replace("T", " ")[:19], row.username, row.action,
                  f"{row.entity} {row.entity_id}", row.subject_id or "", row.field,
                  row.old_value or "", row.new_value or "", row.reason or "")
        return values[column]

    def sort_value(self, row: AuditRow, column: int) -> Any:
        return row.id if column == self.WHEN else self.display(row, column)

    def tooltip(self, row: AuditRow, column: int) -> str | None:
        return f"audit row {row.id}; SHA-256 {row.row_hash}"


class AuditDialog(QDialog):
    """The trail of one patient or of the whole study, with filters and a CSV export."""

    def __init__(self, ctx: ServiceContext, subject_id: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.subject_id = subject_id
        self.setObjectName("audit_view")
        self.setStyleSheet(FORM_STYLE)
        self.rows: list[AuditRow] = []
        self._filter = AuditFilter()

        self.this_patient = QCheckBox(f"Only patient {subject_id}" if subject_id
                                      else "Only one patient")
        self.this_patient.setObjectName("this_patient")
        self.this_patient.setChecked(subject_id is not None)
        self.this_patient.setVisible(subject_id is not None)
        self.user = QComboBox()
        self.user.setObjectName("user_filter")
        self.entity = QComboBox()
        self.entity.setObjectName("entity_filter")
        self.since = line_edit("from YYYY-MM-DD", "since")
        self.until = line_edit("to YYYY-MM-DD", "until")
        for edit in (self.since, self.until):
            edit.setMinimumWidth(em(self, 10))
        general = QLabel()
        self.errors = FieldErrors(general)
        self.apply_button = QPushButton("&Apply")
        self.apply_button.setObjectName("apply_filters")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.reload)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setObjectName("export_csv")
        self.export_button.clicked.connect(self.export_csv)
        close = QPushButton("&Close")
        close.clicked.connect(self.accept)

        user_label = QLabel("&User:")
        user_label.setBuddy(self.user)
        entity_label = QLabel("E&ntity:")
        entity_label.setBuddy(self.entity)
        filters = QHBoxLayout()
        filters.addWidget(self.this_patient)
        filters.addWidget(user_label)
        filters.addWidget(self.user)
        filters.addWidget(entity_label)
        filters.addWidget(self.entity)
        filters.addWidget(self.errors.field("since", self.since))
        filters.addWidget(self.errors.field("until", self.until))
        filters.addWidget(self.apply_button)
        filters.addStretch(1)

        self.model = AuditTableModel(self)
        self.proxy = ValueSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("audit_rows")
        self.table.setModel(self.proxy)
        setup_table(self.table, stretch_column=AuditTableModel.WHY)
        self.table.setSortingEnabled(True)
        fit_columns(self.table, AuditTableModel.SAMPLES)
        self.count = QLabel()
        self.count.setObjectName("audit_count")

        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(general)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.setWindowTitle(self._title())
        self.resize(em(self, 90), em(self, 40))
        self._fill_choices()
        self.reload()
        # Newest first, as the service returns them: sort by time, descending.
        self.table.sortByColumn(AuditTableModel.WHEN, Qt.SortOrder.DescendingOrder)

    def _title(self) -> str:
        scope = f"patient {self.subject_id}" if self.subject_id else "the whole study"
        return f"Audit trail – {scope}"

    @classmethod
    def create(cls, ctx: ServiceContext, subject_id: str | None = None,
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
            choices = audit_choices(self.ctx)
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the audit trail", str(exc))
            return
        for box, values in ((self.user, choices.usernames), (self.entity, choices.entities)):
            box.clear()
            box.addItem(ALL, None)
            for value in values:
                box.addItem(value, value)

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
        return AuditFilter(
            subject_id=self.subject_id if self.this_patient.isChecked() else None,
            username=self.user.currentData(), entity=self.entity.currentData(),
            since=first, until=last)

    def reload(self) -> None:
        wanted = self.current_filter()
        if wanted is None:
            return
        try:
            rows = read_audit(self.ctx, wanted, limit=SHOWN_ROWS + 1)
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the audit trail", str(exc))
            return
        self._filter = wanted
        self.rows = rows[:SHOWN_ROWS]
        self.model.set_rows(self.rows)
        more = len(rows) > SHOWN_ROWS
        self.count.setText(f"Newest {SHOWN_ROWS} rows shown; Export CSV writes them all."
                           if more else f"{len(rows)} row{'s' * (len(rows) != 1)}")

    def export_csv(self) -> None:
        """Every row of the current filter (not only those shown) to a CSV file."""
        wanted = self.current_filter()
        if wanted is None:
            return
        scope = self.subject_id if wanted.subject_id else "study"
        path = self.ask_save_path(self, f"audit-{scope}.csv")
        if path is None:
            return
        try:
            head = head_of(self.ctx.db)  # read before the rows, so the trail holds it
            rows = read_audit(self.ctx, wanted)
            export_audit_csv(rows, path, head=head)
        except OSError as exc:
            messages.error(self, "The audit trail was not exported",
                           f"{path}: {exc.strerror or exc}")
            return
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "The audit trail was not exported", str(exc))
            return
        messages.inform(self, "Audit trail exported", f"{len(rows)} rows written to {path}")
