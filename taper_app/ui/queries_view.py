"""Queries (discrepancy notes) in the window, through ``services.queries`` as ``taper-app
query``: the Queries view lists them for the signed-in role (the site: those to answer; the
monitor: those to close and those open), and a small form takes each step's text (open a
query on the patient or a dose record, answer, close, ask again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..results import DoseRecordView, QueryView
from ..services.errors import ServiceError
from ..services.gateway import local_study
from ..storage.errors import DatabaseError
from . import messages
from .dialogs import DialogHost
from .formatting import iso
from .forms import ServiceDialog, StudyDoor
from .qt import (
    QAbstractTableModel,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPushButton,
    QSplitter,
    Qt,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .widgets import FORM_STYLE, em, line_edit, setup_table

_Index = QModelIndex | QPersistentModelIndex

STATE_LABELS = {"open": "Open – to answer", "answered": "Answered – to close",
                "closed": "Closed"}
STEP_LABELS = {"answer": "answered", "reask": "asked again", "close": "closed"}

#: What each role sees first (the Show filter): key, label, states shown.
SITE_SHOWS = (("todo", "To answer (open)", ("open",)),
              ("unresolved", "Not closed", ("open", "answered")),
              ("all", "All", ("open", "answered", "closed")))
MONITOR_SHOWS = (("todo", "To close (answered) and open", ("answered", "open")),
                 ("answered", "To close (answered)", ("answered",)),
                 ("open", "Open (waiting for the site)", ("open",)),
                 ("all", "All", ("open", "answered", "closed")))


def when(at_utc: str) -> str:
    """A stored UTC time as the window shows it: 2026-07-02 14:30 UTC."""
    return at_utc[:16].replace("T", " ") + " UTC"


def about(q: QueryView) -> str:
    return q.record_text or "the patient"


def last_message(q: QueryView) -> str:
    if not q.messages:
        return f"opened by {q.opened_by}: {q.text}"
    m = q.messages[-1]
    said = f": {m.text}" if m.text else ""
    return f"{STEP_LABELS.get(m.kind, m.kind)} by {m.by}{said}"


def record_words(dose: DoseRecordView) -> str:
    """A dose record in words, as the query names it (services.queries does the same)."""
    end = f" to {iso(dose.end_date)}" if dose.end_date is not None else ""
    return f"{dose.drug} {dose.dose_mg:f} mg {dose.frequency} from {iso(dose.start_date)}{end}"


def thread_html(q: QueryView) -> str:
    """The whole query: what was asked, and each step after it, in full."""
    def esc(text: str) -> str:
        return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("\n", "<br>"))

    parts = [f"<b>Query {q.id}</b> on {esc(q.subject_id)}, {esc(about(q))} – "
             f"{STATE_LABELS.get(q.state, q.state)}",
             f"<p><b>Opened by {esc(q.opened_by)}</b>, {when(q.opened_at_utc)}<br>"
             f"{esc(q.text)}</p>"]
    for m in q.messages:
        parts.append(f"<p><b>{STEP_LABELS.get(m.kind, m.kind).capitalize()} by "
                     f"{esc(m.by)}</b>, {when(m.at_utc)}<br>{esc(m.text or '—')}</p>")
    return "".join(parts)


class QueriesModel(QAbstractTableModel):
    SUBJECT, ABOUT, OPENED_BY, OPENED, LAST, STATE = range(6)
    HEADERS = ("Subject", "About", "Opened by", "Opened", "Last message", "State")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queries: list[QueryView] = []

    def set_queries(self, queries: list[QueryView]) -> None:
        self.beginResetModel()
        self._queries = list(queries)
        self.endResetModel()

    def queries(self) -> list[QueryView]:
        return list(self._queries)

    def query_at(self, row: int) -> QueryView:
        return self._queries[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._queries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        q = self._queries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return {self.SUBJECT: q.subject_id, self.ABOUT: about(q),
                    self.OPENED_BY: q.opened_by, self.OPENED: when(q.opened_at_utc),
                    self.LAST: last_message(q).replace("\n", " "),
                    self.STATE: STATE_LABELS.get(q.state, q.state)}[column]
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.ABOUT, self.LAST):
            return about(q) if column == self.ABOUT else last_message(q)
        return None


class QueryStepDialog(ServiceDialog):
    """One step's text: a new query (on the patient or one dose record), an answer, a
    closing note (optional) or the question asked again."""

    TITLES = {"open": "Open a query", "answer": "Answer the query",
              "close": "Close the query", "reask": "Ask again"}

    def __init__(self, ctx: StudyDoor, step: str, subject_id: str,
                 query: QueryView | None = None, doses: tuple[DoseRecordView, ...] = (),
                 selected: DoseRecordView | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.step, self.subject, self.query = step, subject_id, query
        self.setObjectName("query_step")
        self.setWindowTitle(f"{self.TITLES[step]} – {subject_id}")
        self.save_button.setText({"open": "&Open query", "answer": "&Answer",
                                  "close": "C&lose query", "reask": "Ask &again"}[step])
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.about_box = QComboBox()
        self.about_box.setObjectName("query_record")
        self.doses = [d for d in doses if not d.voided]
        if step == "open":
            self.about_box.addItem("The patient (no one record)", None)
            for d in self.doses:
                self.about_box.addItem(record_words(d), d.id)
            if selected is not None and not selected.voided:
                self.about_box.setCurrentIndex(self.about_box.findData(selected.id))
            form.addRow("&About:", self.about_box)
        else:
            assert query is not None
            thread = QTextBrowser()
            thread.setObjectName("query_thread")
            thread.setHtml(thread_html(query))
            thread.setMinimumHeight(em(self, 8))
            layout.addWidget(thread, 1)
        required = step != "close"
        self.text = line_edit("the text for the site" if step in ("open", "reask") else
                              "your answer" if step == "answer" else
                              "a closing note (optional)", "text")
        caption = {"open": "&Query:", "answer": "&Answer:", "close": "&Note:",
                   "reask": "&Query:"}[step]
        form.addRow(caption, self.errors.field("text", self.text))
        layout.addLayout(form)
        if not required:
            hint = QLabel("A note is optional when closing.")
            hint.setObjectName("hint")
            layout.addWidget(hint)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 48))
        self.text.setFocus()

    def changed_subject(self) -> str | None:
        return self.subject

    def save(self) -> None:
        if self.saving:
            return
        text = self.text.text()

        def done(summary: str) -> None:
            self.saved.emit(self.subject, summary)
            self.accept()

        if self.step == "open":
            record_id = self.about_box.currentData()
            self.call_service_then("Query", lambda: self.gateway.open_query(
                self.subject, text, record_id),
                lambda new_id: done(f"{self.subject}: query {new_id} opened"))
            return
        assert self.query is not None
        query_id = self.query.id
        call: Callable[[], None] = {
            "answer": lambda: self.gateway.answer_query(query_id, text),
            "close": lambda: self.gateway.close_query(query_id, text),
            "reask": lambda: self.gateway.reask_query(query_id, text)}[self.step]
        self.call_service_then("Query", call, lambda _none: done(
            f"{self.subject}: query {query_id} {STEP_LABELS[self.step]}"))


class QueriesDialog(QDialog):
    """The queries of the user's sites for their role, optionally of one patient; each
    step through a :class:`QueryStepDialog`. ``changed(subject_id, summary)`` after a step
    was saved (the window reloads that patient)."""

    changed = Signal(str, str)

    def __init__(self, ctx: StudyDoor, subject_id: str | None = None, *,
                 current_subject: str | None = None,
                 doses: Callable[[], tuple[DoseRecordView, ...]] = tuple,
                 selected: Callable[[], DoseRecordView | None] = lambda: None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = local_study(ctx)
        self.setObjectName("queries_view")
        self.setStyleSheet(FORM_STYLE)
        self.current_subject = current_subject or subject_id
        self.doses, self.selected = doses, selected
        self.monitor = ctx.actor.can("raise_query")
        self.site = ctx.actor.can("answer_query")
        shows = MONITOR_SHOWS if self.monitor else SITE_SHOWS
        self.show_box = QComboBox()
        self.show_box.setObjectName("queries_show")
        for key, caption, states in shows:
            self.show_box.addItem(caption, (key, states))
        self.patient = QComboBox()
        self.patient.setObjectName("queries_patient")
        self.patient.addItem("All patients", None)
        if self.current_subject is not None:
            self.patient.addItem(self.current_subject, self.current_subject)
        if subject_id is not None:
            self.patient.setCurrentIndex(self.patient.findData(subject_id))
        self.show_box.currentIndexChanged.connect(lambda _i: self.reload())
        self.patient.currentIndexChanged.connect(lambda _i: self.reload())

        filters = QHBoxLayout()
        for text, box in (("&Show:", self.show_box), ("&Patient:", self.patient)):
            label = QLabel(text)
            label.setBuddy(box)
            filters.addWidget(label)
            filters.addWidget(box)
        filters.addStretch(1)

        self.model = QueriesModel(self)
        self.table = QTableView()
        self.table.setObjectName("queries_table")
        self.table.setModel(self.model)
        setup_table(self.table, stretch_column=QueriesModel.LAST)
        metrics = self.table.fontMetrics()
        for column, sample in ((QueriesModel.SUBJECT, "101-0000"),
                               (QueriesModel.ABOUT,
                                "prednisone 17.5 mg QD from 2026-01-05 to 2026-01-31"),
                               (QueriesModel.OPENED_BY, "investigator"),
                               (QueriesModel.OPENED, "2026-07-02 14:30 UTC"),
                               (QueriesModel.STATE, "Answered – to close")):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + em(self, 2))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.detail = QTextBrowser()
        self.detail.setObjectName("query_detail")
        self.detail.setPlaceholderText("Select a query to read it whole.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        def button(text: str, name: str, slot: Callable[[], None]) -> QPushButton:
            b = QPushButton(text)
            b.setObjectName(name)
            b.setAutoDefault(False)
            b.clicked.connect(slot)
            return b

        self.new_button = button("&New query…", "new_query", self.new_query)
        self.answer_button = button("&Answer…", "answer_query", lambda: self.step("answer"))
        self.close_query_button = button("C&lose query…", "close_query",
                                         lambda: self.step("close"))
        self.reask_button = button("Ask a&gain…", "reask_query", lambda: self.step("reask"))
        self.new_button.setVisible(self.monitor)
        self.close_query_button.setVisible(self.monitor)
        self.reask_button.setVisible(self.monitor)
        self.answer_button.setVisible(self.site)
        self.count = QLabel()
        self.count.setObjectName("queries_count")
        done = QPushButton("&Done")
        done.setAutoDefault(False)
        done.clicked.connect(self.accept)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        for b in (self.new_button, self.answer_button, self.reask_button,
                  self.close_query_button, done):
            bottom.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.setWindowTitle("Queries")
        self.resize(em(self, 110), em(self, 40))
        self.reload()
        self.table.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, subject_id: str | None = None, *,
               current_subject: str | None = None,
               doses: Callable[[], tuple[DoseRecordView, ...]] = tuple,
               selected: Callable[[], DoseRecordView | None] = lambda: None,
               parent: QWidget | None = None) -> QueriesDialog:
        return cls(ctx, subject_id, current_subject=current_subject, doses=doses,
                   selected=selected, parent=parent)

    def shown_states(self) -> tuple[str, ...]:
        _key, states = self.show_box.currentData()
        return tuple(states)

    def reload(self, keep: int | None = None) -> None:
        subject = self.patient.currentData()
        states = self.shown_states()
        try:
            found = self.ctx.list_queries(subject, None)
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the queries", str(exc))
            return
        shown = [q for q in found if q.state in states]
        self.model.set_queries(shown)
        scope = f" of {subject}" if subject else ""
        n = len(shown)
        self.count.setText(f"{n} quer{'ies' if n != 1 else 'y'}{scope} shown "
                           f"({len(found)} in all)")
        row = next((i for i, q in enumerate(shown) if q.id == keep), 0 if shown else None)
        if row is not None:
            self.table.selectRow(row)
        else:
            self.detail.clear()
        self._update_buttons()

    def current_query(self) -> QueryView | None:
        index = self.table.currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(
                index.row(), QModelIndex()):
            return None
        return self.model.query_at(index.row())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.detail.setHtml(thread_html(self.model.query_at(current.row())))
        self._update_buttons()

    def _update_buttons(self) -> None:
        q = self.current_query()
        state = q.state if q is not None else None
        self.answer_button.setEnabled(state == "open")
        self.close_query_button.setEnabled(state in ("open", "answered"))
        self.reask_button.setEnabled(state == "answered")
        subject = self.patient.currentData() or self.current_subject
        self.new_button.setEnabled(subject is not None)
        self.new_button.setText(f"&New query on {subject}…" if subject else "&New query…")

    def new_query(self) -> None:
        subject = self.patient.currentData() or self.current_subject
        if subject is None or not self.monitor:
            return
        same = subject == self.current_subject
        dialog = QueryStepDialog(self.ctx, "open", subject, None,
                                 self.doses() if same else (),
                                 self.selected() if same else None, self)
        self._present(dialog)

    def step(self, step: str) -> None:
        q = self.current_query()
        if q is None:
            return
        allowed = {"answer": self.site and q.state == "open",
                   "close": self.monitor and q.state in ("open", "answered"),
                   "reask": self.monitor and q.state == "answered"}[step]
        if allowed:
            self._present(QueryStepDialog(self.ctx, step, q.subject_id, q, parent=self))

    def _present(self, dialog: QueryStepDialog) -> None:
        def saved(subject: str, summary: str) -> None:
            self.reload(keep=dialog.query.id if dialog.query is not None else None)
            self.count.setText(f"{summary}. {self.count.text()}")
            self.changed.emit(subject, summary)

        dialog.saved.connect(saved)
        # Cancelled (perhaps after a refusal: someone else took the step meanwhile): the
        # list shows the queries as they are now.
        dialog.rejected.connect(lambda: self.reload(
            keep=dialog.query.id if dialog.query is not None else None))
        DialogHost.present(dialog)

