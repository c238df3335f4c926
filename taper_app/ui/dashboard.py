"""The study dashboard: every patient's reduction on one chart, target attainment and data
completeness per site, and a table of every patient's figures. Blinded: no arm anywhere.

It shows the rows the main window loaded (``PatientRow``: the analysis and its
``summary_dict``, the call behind ``summary --json``), and the study PDF's own groupings
(``services.cohort``), so the window, the PDF and the command line agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .. import __version__
from ..reports.taper_chart import dashboard_figure
from ..results import STATUSES, Attainment, Completeness, StudyInfo
from ..services.cohort import attainment, completeness
from . import messages
from .dialogs import DialogHost
from .formatting import DASH, TARGET_LABELS, pct
from .models import ROW_ROLE, PatientTableModel, RowTableModel, ValueSortProxy
from .qt import (
    FigureCanvasQTAgg,
    QColor,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QModelIndex,
    QPushButton,
    QShowEvent,
    QSizePolicy,
    QSplitter,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .report_export import ReportExport
from .rows import PatientRow
from .widgets import em, fit_columns, setup_table

TARGET_COLOURS = {"met": "#6a1b9a", "not_met": "#c62828", "not_evaluable": "#6d4c41",
                  "pending": "#555555", "discontinued": "#37474f"}


def _count_pct(n: int, share: float | None) -> str:
    return f"{n} ({DASH if share is None else pct(share)} %)"


class AttainmentModel(RowTableModel):
    """Target status at the target day, all sites first, then per site (as in the PDF)."""

    GROUP, PATIENTS, REACHED, MET, NOT_MET, NOT_EVALUABLE, PENDING, DISCONTINUED = range(8)
    HEADERS = (
        ("Site", "All sites, then each site"),
        ("Pts", "Patients in the group"),
        ("Met of reached", "Patients who met the target among those who have reached the "
                           "target day (met, not met or not evaluable)"),
        ("Met", "28-day window reduction at the target day reached the target: n (% of the "
                "group's patients)"),
        ("Not met", "Below the target at the target day: n (%)"),
        ("Not eval.", "Not evaluable: fewer than 14 observed days in the window at the target "
                      "day: n (%)"),
        ("Pending", "Not at the target day yet: n (%)"),
        ("Disc.", "Discontinued: participation ended before the target day (counted apart, "
                  "not in met of reached): n (%)"),
    )
    NUMERIC = frozenset({PATIENTS, REACHED, MET, NOT_MET, NOT_EVALUABLE, PENDING,
                         DISCONTINUED})
    SAMPLES = {GROUP: "All sites", PATIENTS: "999", REACHED: "99 / 99 (100.0 %)",
               MET: "99 (100.0 %)",
               NOT_MET: "99 (100.0 %)", NOT_EVALUABLE: "99 (100.0 %)",
               PENDING: "99 (100.0 %)", DISCONTINUED: "99 (100.0 %)"}
    _STATUS = {MET: "met", NOT_MET: "not_met", NOT_EVALUABLE: "not_evaluable",
               PENDING: "pending", DISCONTINUED: "discontinued"}

    def display(self, row: Attainment, column: int) -> str:
        if column == self.GROUP:
            return row.group
        if column == self.PATIENTS:
            return str(row.patients)
        if column == self.REACHED:
            share = row.met_of_reached_pct
            return (f"{row.counts['met']} / {row.reached} "
                    f"({DASH if share is None else pct(share)} %)")
        status = self._STATUS[column]
        return _count_pct(row.counts[status], row.pct(status))

    def sort_value(self, row: Attainment, column: int) -> Any:
        if column == self.GROUP:
            return row.group.casefold()
        if column == self.PATIENTS:
            return row.patients
        if column == self.REACHED:
            return row.met_of_reached_pct
        return row.pct(self._STATUS[column])


class CompletenessModel(RowTableModel):
    """Observed and missing days, Day 1 to the as-of date, all sites and per site."""

    GROUP, PATIENTS, OBSERVED, MISSING, OBSERVED_PCT, WITH_GAPS = range(6)
    HEADERS = (
        ("Site", "All sites, then each site"),
        ("Pts", "Patients in the group"),
        ("Observed", "Days with a dose record, Day 1 to the as-of date"),
        ("Missing", "Days with no dose record (missing, never counted as zero)"),
        ("Obs. %", "Observed days of all days Day 1 to the as-of date"),
        ("Pts w/ gaps", "Patients with at least one missing day"),
    )
    NUMERIC = frozenset({PATIENTS, OBSERVED, MISSING, OBSERVED_PCT, WITH_GAPS})
    SAMPLES = {GROUP: "All sites", PATIENTS: "999", OBSERVED: "99,999",
               MISSING: "99,999", OBSERVED_PCT: "100.0", WITH_GAPS: "999"}

    def display(self, row: Completeness, column: int) -> str:
        values = {self.GROUP: row.group, self.PATIENTS: str(row.patients),
                  self.OBSERVED: f"{row.observed_days:,}", self.MISSING: f"{row.missing_days:,}",
                  self.OBSERVED_PCT: pct(row.observed_pct),
                  self.WITH_GAPS: str(row.patients_with_gaps)}
        return values.get(column, "")

    def sort_value(self, row: Completeness, column: int) -> Any:
        values = {self.GROUP: row.group.casefold(), self.PATIENTS: row.patients,
                  self.OBSERVED: row.observed_days, self.MISSING: row.missing_days,
                  self.OBSERVED_PCT: row.observed_pct, self.WITH_GAPS: row.patients_with_gaps}
        return values.get(column)


#: The patient table's columns: (title, tooltip, summary --json key, kind).
FIGURE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("Subject", "Subject id", "subject_id", "text"),
    ("Site", "Site code", "site", "text"),
    ("Day", "Study day of the as-of date", "as_of_day", "int"),
    ("Baseline", "Baseline, mg PEQ/day", "baseline_mg", "mg"),
    ("Dose", "Actual dose on the as-of date, mg PEQ/day", "actual_mg", "mg"),
    ("Sched.", "Scheduled dose on the as-of date, mg PEQ/day", "scheduled_mg", "mg"),
    ("Red. %", "Reduction from baseline on the as-of date, %", "reduction_pct", "pct"),
    ("28-day %", "28-day window reduction from baseline, %", "window_reduction_pct", "pct"),
    ("Cum. mg", "Cumulative dose, Day 1 to the as-of date (observed days)", "cumulative_mg",
     "mg"),
    ("Sched. cum.", "Scheduled cumulative dose over the same days", "scheduled_cumulative_mg",
     "mg"),
    ("Cum. red. %", "Cumulative reduction from the baseline continued, %",
     "cumulative_reduction_pct", "pct"),
    ("Spared mg", "Steroid spared: baseline continued minus the cumulative dose",
     "spared_mg", "mg"),
    ("Missing", "Missing days, Day 1 to the as-of date", "missing_days", "int"),
    ("Above", "Deviation days above the schedule", "deviation_days_above", "int"),
    ("Below", "Deviation days below the schedule", "deviation_days_below", "int"),
    ("Episodes", "Deviation episodes", "deviation_episodes", "int"),
    ("Target", "Target status at the target day", "target", "target"),
)


class PatientFiguresModel(RowTableModel):
    """One row per patient: the ``summary --json`` object of that patient, as shown."""

    HEADERS = tuple((title, tip) for title, tip, _key, _kind in FIGURE_COLUMNS)
    NUMERIC = frozenset(i for i, c in enumerate(FIGURE_COLUMNS) if c[3] in ("int", "mg", "pct"))
    SAMPLES = {i: ({"text": "101-0000", "int": "9999", "mg": "99,999.5", "pct": "-100.0",
                    "target": "not evaluable (99.9 %)"}[c[3]])
               for i, c in enumerate(FIGURE_COLUMNS)}
    TARGET = len(FIGURE_COLUMNS) - 1

    def display(self, row: dict[str, Any], column: int) -> str:
        _title, _tip, key, kind = FIGURE_COLUMNS[column]
        value = row[key]
        if kind == "target":
            label = TARGET_LABELS.get(value["status"], value["status"])
            figure = value["window_reduction_pct"]
            return label if figure is None else f"{label} ({pct(figure)} %)"
        if kind == "mg":
            return DASH if value is None else f"{value:,.3f}".rstrip("0").rstrip(".")
        if kind == "pct":
            return pct(value)
        return str(value)

    def sort_value(self, row: dict[str, Any], column: int) -> Any:
        _title, _tip, key, kind = FIGURE_COLUMNS[column]
        value = row[key]
        if kind == "target":
            return STATUSES.index(value["status"]) if value["status"] in STATUSES else 99
        return value.casefold() if kind == "text" else value

    def filter_text(self, row: dict[str, Any]) -> str:
        return f"{row['subject_id']} {row['site']}"

    def foreground(self, row: dict[str, Any], column: int) -> QColor | None:
        if column == self.TARGET:
            return QColor(TARGET_COLOURS.get(row["target"]["status"], "#555555"))
        return None


def _table(name: str, model: RowTableModel, stretch: int | None = None) -> QTableView:
    proxy = ValueSortProxy(model)
    proxy.setSourceModel(model)
    view = QTableView()
    view.setObjectName(name)
    view.setModel(proxy)
    setup_table(view, stretch_column=stretch)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    fit_columns(view, model.SAMPLES)
    return view


def _fit_height(view: QTableView) -> None:
    """A short table as big as its cells: no scroll bars, no empty space below."""
    rows = view.model().rowCount()
    view.horizontalHeader().setStretchLastSection(False)
    view.setFixedHeight(view.horizontalHeader().sizeHint().height() + 2 * view.frameWidth()
                        + sum(view.rowHeight(r) for r in range(rows)) + 2)
    view.setMinimumWidth(sum(view.columnWidth(c) for c in range(view.model().columnCount()))
                         + 2 * view.frameWidth() + 2)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


class StudyDashboard(QWidget):
    """A window of its own beside the main one: the study at a glance, for investigators.

    It follows the main window's patient list (``PatientTableModel``): a reload or a save
    there updates it, and it redraws only while it is on screen. Double-clicking a patient
    shows that patient in the main window.
    """

    def __init__(self, patients: PatientTableModel, study: StudyInfo,
                 show_patient: Callable[[str], object], parent: QWidget | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.clock = clock  # the time printed in the table's PDF footer
        self.setObjectName("dashboard")
        self.setWindowTitle(f"Study dashboard – {study.name} (blinded)")
        self.patients = patients
        self.study = study
        self.show_patient = show_patient
        self._stale = True
        self._split = False

        self.heading = QLabel()
        self.heading.setObjectName("dashboard_heading")
        self.heading.setWordWrap(True)
        self.figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setObjectName("dashboard_canvas")
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumSize(em(self, 30), em(self, 14))

        self.attainment_model = AttainmentModel(self)
        self.attainment_view = _table("attainment", self.attainment_model)
        self.completeness_model = CompletenessModel(self)
        self.completeness_view = _table("completeness", self.completeness_model)
        self.figures_model = PatientFiguresModel(self)
        self.figures_view = _table("patient_figures", self.figures_model)
        self.figures_view.doubleClicked.connect(self._open_patient)
        self.figures_view.setToolTip("Double-click a patient to show them in the main window")

        target = study.protocol.settings
        attainment_box = QGroupBox(f"Target ≥ {target.target_reduction_pct:g} % by day "
                                   f"{target.target_day} (28-day window): status per site")
        QVBoxLayout(attainment_box).addWidget(self.attainment_view)
        completeness_box = QGroupBox("Data completeness, Day 1 to the as-of date")
        QVBoxLayout(completeness_box).addWidget(self.completeness_view)
        note = QLabel("Shares are of each group's patients. Pending: not at the target day "
                      "yet. Disc.: participation ended before the target day (counted apart). "
                      "Missing days are days with no dose record, never counted as zero.")
        note.setWordWrap(True)
        note.setEnabled(False)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(attainment_box)
        sl.addWidget(completeness_box)
        sl.addWidget(note)
        sl.addStretch(1)
        self.side = side
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.canvas)
        top.addWidget(side)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 0)
        top.setChildrenCollapsible(False)
        self.top_splitter = top
        figures_box = QGroupBox("Every patient's figures (the same as in the reports and "
                                "exports; click a heading to sort)")
        QVBoxLayout(figures_box).addWidget(self.figures_view)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(figures_box)
        # The table gets the larger share: at 150 or 1,000 patients it is what is read, and it
        # scrolls (its own scroll bar, the heading row kept); the chart keeps its minimum.
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        heading_row = QHBoxLayout()
        heading_row.addWidget(self.heading, 1)
        self.export_button = QPushButton("Export table (&CSV)…")
        self.export_button.setObjectName("export_table_csv")
        self.export_button.setToolTip("Every patient's figures, as the table shows them, "
                                      "to a CSV file")
        self.export_button.clicked.connect(self.export_table_csv)
        self.print_button = QPushButton("&Print table…")
        self.print_button.setObjectName("print_table")
        self.print_button.setToolTip("The table as a PDF (landscape A4), opened to print")
        self.print_button.clicked.connect(self.print_table)
        heading_row.addWidget(self.export_button)
        heading_row.addWidget(self.print_button)
        layout.addLayout(heading_row)
        layout.addWidget(self.splitter, 1)

        for signal in (patients.modelReset, patients.rowsInserted, patients.dataChanged):
            signal.connect(self._patients_changed)
        self.refresh()

    # ------------------------------------------------------------ data

    def rows(self) -> list[PatientRow]:
        return self.patients.rows()

    def summaries(self) -> list[dict[str, Any]]:
        """The patients' ``summary --json`` objects, in subject order."""
        return [r.summary for r in sorted(self.rows(), key=lambda r: r.subject_id)]

    def _patients_changed(self, *_args: object) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the tables and the chart from the main window's rows."""
        self._stale = False
        rows = sorted(self.rows(), key=lambda r: r.subject_id)
        summaries = [r.summary for r in rows]
        self.attainment_model.set_rows(attainment(summaries))
        self.completeness_model.set_rows(completeness(summaries))
        self.figures_model.set_rows(summaries)
        for view in (self.attainment_view, self.completeness_view):
            _fit_height(view)
        # The site tables as wide as their columns; the chart takes the rest.
        widest = max(self.attainment_view.minimumWidth(), self.completeness_view.minimumWidth())
        self.side.setMaximumWidth(widest + em(self, 3))  # and the group boxes' margins
        as_of = {s["as_of"] for s in summaries}
        when = ", ".join(sorted(as_of)) or DASH
        sites = sorted({s["site"] for s in summaries})
        self.heading.setText(
            f"<b>{self.study.name}</b> · {len(summaries)} patients at "
            f"{len(sites)} site{'s' * (len(sites) != 1)} · figures as of {when} · blinded: "
            "no treatment arm is stored or shown")
        analyses = [r.analysis for r in rows if r.analysis is not None]
        if len(analyses) < len(rows):
            # Through the server the list holds figures only; the window is loading every
            # patient's record for the chart, and this redraws when the rows come.
            self.figure.clear()
            self.figure.text(0.5, 0.5, "Loading every patient's record for the chart…",
                             ha="center", va="center")
        else:
            dashboard_figure(analyses, self.study.protocol.settings, self.figure)
        self.canvas.draw_idle()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._split:  # first shown: the table 5/9 of the height, the chart 4/9
            self._split = True
            height = sum(self.splitter.sizes())
            self.splitter.setSizes([height * 4 // 9, height - height * 4 // 9])
        if self._stale:
            self.refresh()


    # ------------------------------------------------------------ the table out

    def _as_of(self) -> date:
        dates = sorted({s["as_of"] for s in self.summaries()})
        return date.fromisoformat(dates[-1]) if dates else date.today()

    def export_table_csv(self) -> Path | None:
        path = DialogHost.save_file(self, "Export the patients' figures (CSV)",
                                    Path.home() / f"figures-{self._as_of().isoformat()}.csv",
                                    "CSV files (*.csv)")
        if path is None:
            return None
        try:
            from ..reports.summary_table import write_summary_csv  # ReportLab: when asked

            write_summary_csv(self.summaries(), path)
        except OSError as exc:
            messages.error(self, "The table was not exported", f"{path}: {exc.strerror or exc}")
            return None
        messages.inform(self, "Table exported",
                        f"{len(self.summaries())} patients written to {path}")
        return path

    def print_table(self) -> Path | None:
        """The table as a PDF, then opened in the viewer to print (as the reports are)."""
        path = DialogHost.save_file(self, "Print the patients' figures (PDF)",
                                    Path.home() / f"figures-{self._as_of().isoformat()}.pdf")
        if path is None:
            return None
        try:
            from ..reports.summary_table import summary_table_pdf  # ReportLab: when asked

            built = summary_table_pdf(self.summaries(), self.study.name, self._as_of(),
                                      self.clock(), __version__)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(built.pdf)
            partial.replace(path)
        except OSError as exc:
            messages.error(self, "The table was not printed", f"{path}: {exc.strerror or exc}")
            return None
        if not ReportExport.open_document(path):
            messages.inform(self, "Table saved",
                            f"The table is saved as {path}; no PDF viewer could open it.")
        return path

    def _open_patient(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)  # the patient's summary object
        if isinstance(row, dict):
            self.show_patient(str(row["subject_id"]))

