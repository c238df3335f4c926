"""The patient's dosing calendar in the window: a preview of the sheet, then print.

Ctrl+P opens it on the selected patient with the defaults (from today, four weeks, the
current oral drug) and Enter prints: the PDF is built by the same service as
``taper-app handout`` (audited), saved in the user's documents folder and opened in the
desktop's PDF viewer to print. A day whose dose no tablets make is shown in red, and the
nurse is asked before such a sheet is printed.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from ..domain.calendar import format_mg
from ..reports.calendar_words import dose_words, long_date, short_date, tablet_words
from ..services.calendar import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    CalendarLine,
    CalendarPrintout,
    DosingCalendar,
)
from ..services.context import ServiceContext
from ..services.errors import ServiceError, StaleData, ValidationError
from ..services.gateway import StudyGateway, local_study
from ..services.reporting import write_files
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from . import messages
from .dialogs import DialogHost
from .inputs import DateField
from .models import RowTableModel
from .qt import (
    QColor,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFont,
    QHBoxLayout,
    QLabel,
    QObject,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .report_export import ReportExport
from .tasks import TaskRunner
from .widgets import FORM_STYLE, em, fit_columns, setup_table

log = logging.getLogger(__name__)

NEW_DOSE_BACKGROUND = QColor("#fff4d6")
NONE_FOREGROUND = QColor("#6b7280")
ASK_FOREGROUND = QColor("#a3272b")


def documents_folder() -> Path:
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() else Path.home()


class CalendarLinesModel(RowTableModel):
    """The calendar's days as the sheet prints them (the same words)."""

    DATE, DAY, DOSE, TABLETS, NOTE = range(5)
    HEADERS = (
        ("Date", "The day"),
        ("Study day", "Day 1 is the first dose of study product"),
        ("Dose", "The day's dose of the calendar's drug"),
        ("Tablets to take", "The fewest tablets that make the dose exactly"),
        ("Note", "A new dose, a day with none, or a dose no tablets make"),
    )
    NUMERIC = frozenset({DAY})
    SAMPLES = {DATE: "Wed 30 Sep 2026", DAY: "Study day", DOSE: "12.5 mg twice a day",
               TABLETS: "1 tablet of 10 mg, 1 tablet of 2.5 mg",
               NOTE: "new dose from today; every other day"}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.drug = "prednisone"

    def display(self, row: CalendarLine, column: int) -> str:
        if column == self.DATE:
            return f"{short_date(row.date)} {row.date.year}"
        if column == self.DAY:
            return str(row.study_day)
        if column == self.DOSE:
            return dose_words(row, self.drug)
        if column == self.TABLETS:
            return ", ".join(w for w in tablet_words(row) if not w.startswith("("))
        if column == self.NOTE:
            return row.note
        return ""

    def sort_value(self, row: CalendarLine, column: int) -> Any:
        return row.date

    def font(self, row: CalendarLine, column: int) -> QFont | None:
        if row.new_dose or row.ask_nurse or (column == self.DOSE and not row.none):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def foreground(self, row: CalendarLine, column: int) -> QColor | None:
        if row.ask_nurse:
            return ASK_FOREGROUND
        return NONE_FOREGROUND if row.none else None

    def background(self, row: CalendarLine, column: int) -> QColor | None:
        return NEW_DOSE_BACKGROUND if row.new_dose else None


class DosingCalendarDialog(QDialog):
    """Preview and print a patient's dosing calendar. ``printed(subject_id, summary)``."""

    printed = Signal(str, str)

    @classmethod
    def open_document(cls, path: Path) -> bool:
        """Open the written PDF in the desktop's viewer, to print (tests replace this)."""
        return ReportExport.open_document(path)

    def __init__(self, ctx: ServiceContext | StudyGateway, study: StudyInfo, subject_id: str,
                 tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dosing_calendar")
        self.setStyleSheet(FORM_STYLE)
        self.ctx, self.study, self.subject_id, self.tasks = (local_study(ctx), study,
                                                             subject_id, tasks)
        self.calendar: DosingCalendar | None = None
        self.folder = documents_folder()
        self._drug_touched = False
        self._busy = False
        self._token = 0  # the newest preview asked for
        self.setWindowTitle(f"Dosing calendar – {subject_id}")

        self.first_date = DateField(ctx.today, name="calendar_from")
        self.first_date.setText(ctx.today().isoformat())
        self.first_date.setMaximumWidth(em(self, 11))
        self.weeks = QComboBox()
        self.weeks.setObjectName("calendar_weeks")
        for n in range(1, MAX_WEEKS + 1):
            self.weeks.addItem(f"{n} week{'s' if n != 1 else ''}", n)
        self.weeks.setCurrentIndex(DEFAULT_WEEKS - 1)
        self.drug = QComboBox()
        self.drug.setObjectName("calendar_drug")
        self.drug.addItems(list(study.equivalence.drugs))
        self.drug.activated.connect(self._drug_chosen)
        controls = QHBoxLayout()
        for text, widget in (("&From:", self.first_date), ("&Weeks:", self.weeks),
                             ("&Drug:", self.drug)):
            label = QLabel(text)
            label.setBuddy(widget)
            controls.addWidget(label)
            controls.addWidget(widget)
        controls.addStretch(1)

        self.about = QLabel()
        self.about.setObjectName("calendar_about")
        self.about.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setObjectName("calendar_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #a3272b; font-weight: bold;")
        self.warning.hide()
        self.problem = QLabel()
        self.problem.setObjectName("calendar_problem")
        self.problem.setProperty("role", "general-error")
        self.problem.setWordWrap(True)
        self.problem.hide()

        self.model = CalendarLinesModel(self)
        self.view = QTableView()
        self.view.setObjectName("calendar_preview")
        self.view.setModel(self.model)
        setup_table(self.view, stretch_column=CalendarLinesModel.NOTE)
        font = self.view.font()  # larger, as the sheet is
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.15)
            self.view.setFont(font)
        self.view.verticalHeader().setDefaultSectionSize(int(self.view.fontMetrics().height()
                                                             * 1.6))
        # Columns measured in bold: a new dose's whole line is bold, and must not be cut.
        bold = QFont(self.view.font())
        bold.setBold(True)
        regular = self.view.font()
        self.view.setFont(bold)
        fit_columns(self.view, CalendarLinesModel.SAMPLES)
        self.view.setFont(regular)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter prints, whatever has focus

        self.buttons = QDialogButtonBox()
        self.print_button = QPushButton("&Print")
        self.print_button.setObjectName("calendar_print")
        self.print_button.setToolTip("Save the sheet as a PDF in your documents folder and "
                                     "open it to print (Enter)")
        self.print_button.setDefault(True)
        self.print_button.setAutoDefault(True)
        self.save_button = QPushButton("Save P&DF…")
        self.save_button.setObjectName("calendar_save")
        self.save_button.setAutoDefault(False)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAutoDefault(False)
        self.buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.print_button.clicked.connect(self.print_calendar)
        self.save_button.clicked.connect(self.save_calendar)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.about)
        layout.addWidget(self.warning)
        layout.addWidget(self.problem)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        # Every column in view if the screen allows (a 1366x768 laptop does), and most of
        # the screen's height for the days.
        width = sum(self.view.columnWidth(c) for c in range(self.model.columnCount()))
        width += self.view.verticalScrollBar().sizeHint().width() + em(self, 3)
        screen = self.screen()
        free = screen.availableGeometry() if screen is not None else None
        self.setMinimumWidth(min(width, em(self, 50)))
        self.resize(min(width, int(free.width() * 0.95)) if free is not None else width,
                    int(free.height() * 0.88) if free is not None else em(self, 45))

        self.first_date.textChanged.connect(lambda _text: self.refresh())
        self.weeks.currentIndexChanged.connect(lambda _index: self.refresh())
        self.refresh()

    @classmethod
    def build(cls, ctx: ServiceContext | StudyGateway, study: StudyInfo, subject_id: str,
              tasks: TaskRunner, parent: QWidget | None = None) -> DosingCalendarDialog:
        return cls(ctx, study, subject_id, tasks, parent)

    # ------------------------------------------------------------ the preview

    def _drug_chosen(self, _index: int) -> None:
        """The nurse chose a drug: it is kept (no longer the patient's current one)."""
        self._drug_touched = True
        self.refresh()

    def _period(self) -> tuple[date, int, str | None] | None:
        text = self.first_date.text().strip()
        try:
            first = date.fromisoformat(text)
        except ValueError:
            self._show_problem(f"From: {text!r} is not a date (YYYY-MM-DD)")
            return None
        drug = self.drug.currentText() if self._drug_touched else None
        return first, int(self.weeks.currentData()), drug

    def _show_problem(self, text: str) -> None:
        self.calendar = None
        self.model.set_rows([])
        self.problem.setText(text)
        self.problem.show()
        self.warning.hide()
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)

    def refresh(self) -> None:
        """The calendar for what the fields say, from the stored schedule as it is now;
        read off the GUI thread, and only the newest answer is shown."""
        period = self._period()
        if period is None:
            return
        first, weeks, drug = period
        self._token += 1
        token = self._token
        ctx, subject = self.ctx, self.subject_id
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.tasks.submit(lambda: ctx.dosing_calendar(subject, first, weeks, drug),
                          lambda calendar: self._show(token, calendar),
                          lambda exc: self._not_shown(token, exc))

    def _not_shown(self, token: int, exc: Exception) -> None:
        if token != self._token:
            return
        if isinstance(exc, ValidationError):
            self._show_problem("\n".join(p.message for p in exc.problems))
        elif isinstance(exc, (ServiceError, DatabaseError)):
            self._show_problem(str(exc))
        else:
            raise exc

    def _show(self, token: int, calendar: DosingCalendar) -> None:
        if token != self._token:
            return  # the fields changed since: a newer calendar is on its way
        self.calendar = calendar
        self.problem.hide()
        self.print_button.setEnabled(not self._busy)
        self.save_button.setEnabled(not self._busy)
        if not self._drug_touched:
            self.drug.blockSignals(True)
            self.drug.setCurrentText(calendar.drug)
            self.drug.blockSignals(False)
        self.model.drug = calendar.drug
        self.model.set_rows(list(calendar.lines))
        strengths = ", ".join(f"{format_mg(s)} mg" for s in sorted(calendar.strengths))
        why = {"chosen": "chosen here", "current oral record": "the current oral record",
               "default": "no oral record: the default"}[calendar.drug_from]
        self.about.setText(
            f"<b>{calendar.subject_id}</b>, site {calendar.site}: "
            f"{long_date(calendar.first_date)} to {long_date(calendar.last_date)}. "
            f"<b>{calendar.drug}</b> ({why}); tablets: {strengths or 'none in the protocol'}. "
            f"Schedule version: {calendar.schedule_version}.")
        asked = calendar.days_to_ask
        self.warning.setVisible(bool(asked))
        if asked:
            self.warning.setText(
                f"On {len(asked)} day(s) no {calendar.drug} tablets make the dose exactly "
                f"(first {short_date(asked[0])}): the sheet tells the patient to ask you. "
                "Tell them what to take, or print another drug's calendar.")

    # ------------------------------------------------------------ printing

    def _confirm_ask_days(self) -> bool:
        calendar = self.calendar
        if calendar is None or not calendar.days_to_ask:
            return True
        days = ", ".join(short_date(d) for d in calendar.days_to_ask[:7])
        more = "…" if len(calendar.days_to_ask) > 7 else ""
        return messages.confirm(
            self, "Print a calendar with doses no tablets make?",
            f"On {len(calendar.days_to_ask)} day(s) ({days}{more}) no {calendar.drug} "
            "tablets make the dose exactly; the sheet says \"ask your study nurse\" there.",
            "Print it anyway?")

    def file_name(self) -> str:
        calendar = self.calendar
        assert calendar is not None
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in calendar.subject_id)
        return f"{safe}-dosing-calendar-{calendar.first_date.isoformat()}.pdf"

    def print_calendar(self) -> None:
        """Build the sheet (audited), save it in the documents folder, open it to print."""
        if self.calendar is None or self._busy or not self.print_button.isEnabled() \
                or not self._confirm_ask_days():
            return  # (a preview still on its way disables Print: the sheet is what is shown)
        self._build(self.folder / self.file_name(), opened=True)

    def save_calendar(self) -> None:
        if self.calendar is None or self._busy or not self._confirm_ask_days():
            return
        out = DialogHost.save_file(self, "Save the dosing calendar (PDF)",
                                   self.folder / self.file_name())
        if out is not None:
            self.folder = out.parent
            self._build(out, opened=False)

    def _build(self, out: Path, *, opened: bool) -> None:
        calendar = self.calendar
        assert calendar is not None
        period = self._period()
        assert period is not None
        first, weeks, drug = period
        ctx, subject = self.ctx, self.subject_id
        self._set_busy(True)

        def work() -> CalendarPrintout:
            printout = ctx.print_dosing_calendar(subject, first, weeks, drug,
                                                 patient_version=calendar.patient_version)
            write_files({out: printout.pdf})
            return printout

        log.info("printing the dosing calendar of %s to %s", subject, out)
        self.tasks.submit(work, lambda printout: self._done(printout, out, opened),
                          self._failed)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.print_button.setEnabled(not busy and self.calendar is not None)
        self.save_button.setEnabled(not busy and self.calendar is not None)
        self.print_button.setText("Printing…" if busy else "&Print")

    def _done(self, printout: CalendarPrintout, out: Path, opened: bool) -> None:
        self._set_busy(False)
        calendar = printout.calendar
        pages = f"{printout.pages} page{'s' if printout.pages != 1 else ''}"
        summary = (f"{calendar.subject_id}: dosing calendar {calendar.first_date.isoformat()} "
                   f"to {calendar.last_date.isoformat()} saved as {out} ({pages})")
        if opened:
            if type(self).open_document(out):
                summary += ", opened to print"
            else:
                messages.inform(self, "Calendar saved",
                                f"The calendar is saved as {out}; no PDF viewer could open "
                                "it. Open and print it from there.")
        self.printed.emit(calendar.subject_id, summary)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self._set_busy(False)
        if isinstance(exc, StaleData):
            messages.warning(self, "Calendar not printed", str(exc),
                             "The calendar below is now the new one.")
            self.refresh()
            return
        if isinstance(exc, ValidationError):
            self._show_problem("\n".join(p.message for p in exc.problems))
            return
        if isinstance(exc, (ServiceError, DatabaseError)):
            messages.error(self, "Calendar not printed", str(exc))
            return
        raise exc  # a bug, for the excepthook
