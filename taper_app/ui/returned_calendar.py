"""A returned dosing calendar typed back in, week by week, with only the differences.

One row a day, pre-filled with the dose the calendar printed: the nurse changes the days
the patient marked differently, empties the days left blank (they stay missing), and gives
a reason where a day differs. Saving is one service call (``enter_returned_calendar``):
consecutive equal days become one record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..domain.calendar import format_mg
from ..domain.units import QuantityError, decimal_point, parse_mg
from ..reports.calendar_words import dose_words, short_date
from ..services.calendar import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    DosingCalendar,
    PrintedCalendar,
    ReturnedCalendarPlan,
    ReturnedCalendarSaved,
    ReturnedDay,
    plan_returned_calendar,
)
from ..services.errors import Problem, ServiceError, ValidationError
from ..services.records import PatientRecord
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from .forms import ServiceDialog, StudyDoor
from .inputs import DateField
from .qt import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
)
from .tasks import TaskRunner
from .widgets import em, repolish

OTHER_DATES = "Other dates…"


@dataclass
class _Entry:
    """What is typed for one day (kept while the nurse moves between weeks)."""

    taken: str
    reason: str = ""


class ReturnedCalendarDialog(ServiceDialog):
    """Enter a returned calendar of ``record``'s patient."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                 tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("returned_calendar")
        self.study, self.record, self.tasks = study, record, tasks
        self._token = 0  # the newest calendar asked for
        self.calendar: DosingCalendar | None = None
        self.entries: dict[date, _Entry] = {}
        self.week = 0
        self.day_problems: dict[date, str] = {}
        self.setWindowTitle(f"Returned dosing calendar – {record.subject_id}")
        self.save_button.setText("&Save diary")

        heading = QLabel(f"<b>{record.subject_id}</b> &nbsp; site {record.site}: each day "
                         "starts as the calendar printed it. Change only the days the "
                         "patient marked differently; empty a day left blank (it stays "
                         "missing).")
        heading.setWordWrap(True)
        self.changed = QLabel()
        self.changed.setObjectName("returned_schedule_changed")
        self.changed.setWordWrap(True)
        self.changed.setStyleSheet("color: #a3272b; font-weight: bold;")
        self.changed.hide()
        self.printed: list[PrintedCalendar] = []
        self.which = QComboBox()
        self.which.setObjectName("returned_which")
        self.which.addItem(OTHER_DATES)
        self.first_date = DateField(ctx.today, name="returned_from")
        self.first_date.setMaximumWidth(em(self, 11))
        self.weeks = QComboBox()
        self.weeks.setObjectName("returned_weeks")
        for n in range(1, MAX_WEEKS + 1):
            self.weeks.addItem(f"{n} week{'s' if n != 1 else ''}", n)
        self.drug = QComboBox()
        self.drug.setObjectName("returned_drug")
        self.drug.addItems(list(study.equivalence.drugs))
        #: False until a printed calendar or the nurse names the drug: the service's default
        #: (the current oral record's drug, else prednisone) until then.
        self._drug_named = False
        period = QHBoxLayout()
        for text, widget in (("&Calendar:", self.which), ("&From:", self.first_date),
                             ("&Weeks:", self.weeks), ("D&rug:", self.drug)):
            label = QLabel(text)
            label.setBuddy(widget)
            period.addWidget(label)
            period.addWidget(widget)
        period.addStretch(1)

        self.week_label = QLabel()
        self.week_label.setObjectName("returned_week")
        self.previous_button = QPushButton("◀ &Previous week")
        self.next_button = QPushButton("&Next week ▶")
        for button, key, step in ((self.previous_button, "Page Up", -1),
                                  (self.next_button, "Page Down", 1)):
            button.setAutoDefault(False)
            button.setToolTip(key)  # the keys work from any field: see keyPressEvent
            button.clicked.connect(lambda _checked=False, s=step: self.show_week(self.week + s))
        pager = QHBoxLayout()
        pager.addWidget(self.previous_button)
        pager.addWidget(self.week_label, 1, Qt.AlignmentFlag.AlignCenter)
        pager.addWidget(self.next_button)

        grid = QGridLayout()
        grid.setHorizontalSpacing(em(self, 0.8))
        for column, title in enumerate(("Date", "Day", "Calendar said", "Taken (mg)",
                                        "Reason, where it differs", "")):
            head = QLabel(f"<b>{title}</b>")
            grid.addWidget(head, 0, column)
        self.date_labels: list[QLabel] = []
        self.day_labels: list[QLabel] = []
        self.printed_labels: list[QLabel] = []
        self.taken_edits: list[QLineEdit] = []
        self.reason_edits: list[QLineEdit] = []
        self.state_labels: list[QLabel] = []
        for i in range(7):
            date_label, day_label, printed_label = QLabel(), QLabel(), QLabel()
            taken = QLineEdit()
            taken.setObjectName(f"taken_{i}")
            taken.setMaximumWidth(em(self, 6))
            taken.setPlaceholderText("blank")
            reason = QLineEdit()
            reason.setObjectName(f"reason_{i}")
            reason.setMinimumWidth(em(self, 16))
            state = QLabel()
            state.setObjectName(f"state_{i}")
            for column, cell in enumerate((date_label, day_label, printed_label, taken,
                                           reason, state)):
                grid.addWidget(cell, i + 1, column)
            taken.textEdited.connect(lambda text, row=i: self._row_edited(row, taken=text))
            reason.textEdited.connect(lambda text, row=i: self._row_edited(row, reason=text))
            self.date_labels.append(date_label)
            self.day_labels.append(day_label)
            self.printed_labels.append(printed_label)
            self.taken_edits.append(taken)
            self.reason_edits.append(reason)
            self.state_labels.append(state)
        grid.setColumnStretch(4, 1)

        self.close_ongoing = QCheckBox()
        self.close_ongoing.setObjectName("returned_close_ongoing")
        self.close_ongoing.setChecked(True)
        self.close_ongoing.toggled.connect(lambda _on: self.update_plan())
        # Out of the typing path: Tab never stops on it (a typed space cannot toggle it);
        # Alt+C or a click changes it, and its coming and going moves nothing below.
        self.close_ongoing.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        policy = self.close_ongoing.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.close_ongoing.setSizePolicy(policy)
        self.plan_label = QLabel()
        self.plan_label.setObjectName("returned_plan")
        self.plan_label.setProperty("role", "readout")
        self.plan_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(period)
        layout.addWidget(self.changed)
        layout.addLayout(pager)
        layout.addLayout(grid)
        layout.addWidget(self.close_ongoing)
        layout.addWidget(self.plan_label)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 60))

        self.first_date.setText((ctx.today() - timedelta(days=7 * DEFAULT_WEEKS)).isoformat())
        self.weeks.setCurrentIndex(DEFAULT_WEEKS - 1)
        self.which.activated.connect(self._which_chosen)
        self.first_date.editingFinished.connect(self._period_edited)
        self.weeks.activated.connect(lambda _i: self._period_edited())
        self.drug.activated.connect(lambda _i: self._drug_chosen())
        self.taken_edits[0].setFocus()
        self.show_week(0)
        # The calendars printed for the patient (off the GUI thread): the newest is chosen.
        subject = record.subject_id
        door = self.gateway
        self.tasks.submit(lambda: door.printed_calendars(subject), self._printed_loaded,
                          lambda exc: self._printed_loaded([]) if isinstance(
                              exc, (ServiceError, DatabaseError)) else self._raise(exc))

    @staticmethod
    def _raise(exc: Exception) -> None:
        raise exc

    def _printed_loaded(self, printed: list[PrintedCalendar]) -> None:
        self.printed = printed
        for i, p in enumerate(printed):
            self.which.insertItem(i, f"{p.first_date.isoformat()} to "
                                     f"{p.last_date.isoformat()}, {p.drug} (printed "
                                     f"{p.printed_at_utc[:10]} by {p.printed_by})")
        if printed:
            self._use_printed(0)
        else:
            self.which.setCurrentIndex(self.which.count() - 1)
            self.load_calendar()

    @classmethod
    def build(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
               tasks: TaskRunner, parent: QWidget | None = None) -> ReturnedCalendarDialog:
        return cls(ctx, study, record, tasks, parent)

    # ------------------------------------------------------------ which calendar

    def _use_printed(self, index: int) -> None:
        p = self.printed[index]
        self.which.setCurrentIndex(index)
        self.first_date.setText(p.first_date.isoformat())
        self.weeks.setCurrentIndex(max(1, min(p.weeks, MAX_WEEKS)) - 1)
        self.drug.setCurrentText(p.drug)
        self._drug_named = True
        self.load_calendar(printed=p)

    def _which_chosen(self, index: int) -> None:
        if index < len(self.printed):
            self._use_printed(index)

    def _drug_chosen(self) -> None:
        self._drug_named = True
        self._period_edited()

    def _period_edited(self) -> None:
        self.which.setCurrentIndex(self.which.count() - 1)
        self.load_calendar()

    def load_calendar(self, printed: PrintedCalendar | None = None) -> None:
        """The calendar of the chosen dates (as it prints now), every day pre-filled; read
        off the GUI thread, and only the newest answer is shown."""
        try:
            first = date.fromisoformat(self.first_date.text().strip())
        except ValueError:
            self._no_calendar(f"From: {self.first_date.text().strip()!r} is not a date "
                              "(YYYY-MM-DD)")
            return
        self._token += 1
        token = self._token
        self.changed.hide()
        self.save_button.setEnabled(False)
        door, subject, weeks = self.gateway, self.record.subject_id, int(
            self.weeks.currentData())
        drug = self.drug.currentText() if self._drug_named else None
        self.tasks.submit(lambda: door.dosing_calendar(subject, first, weeks, drug),
                          lambda calendar: self._calendar_loaded(token, calendar, printed),
                          lambda exc: self._calendar_failed(token, exc))

    def _calendar_failed(self, token: int, exc: Exception) -> None:
        if token != self._token:
            return
        if not isinstance(exc, (ServiceError, DatabaseError)):
            raise exc
        self._no_calendar(str(exc))

    def _calendar_loaded(self, token: int, calendar: DosingCalendar,
                         printed: PrintedCalendar | None) -> None:
        if token != self._token:
            return  # the dates changed since: a newer calendar is on its way
        self.calendar = calendar
        self.drug.setCurrentText(calendar.drug)
        today = self.gateway.today()
        self.entries = {line.date: _Entry(format_mg(line.dose_mg) if line.exact
                                          and line.date <= today else "")
                        for line in calendar.lines}
        self.day_problems = {}
        self.errors.clear()
        if printed is not None and printed.schedule_version and \
                printed.schedule_version != calendar.schedule_version:
            self.changed.setText(
                f"The schedule changed after this calendar was printed (it was: "
                f"{printed.schedule_version}). The days start from the schedule as it is "
                "now: check each one against the sheet.")
            self.changed.show()
        self.show_week(0)
        focus = self.focusWidget()
        if focus is None or focus in self.taken_edits:
            self.taken_edits[0].setFocus()
            self.taken_edits[0].selectAll()

    def _no_calendar(self, text: str) -> None:
        self.calendar = None
        self.entries = {}
        self.errors.show([Problem("calendar", text)])
        self.show_week(0)

    # ------------------------------------------------------------ the week's rows

    def weeks_count(self) -> int:
        return 0 if self.calendar is None else len(self.calendar.lines) // 7

    def show_week(self, week: int) -> None:
        count = self.weeks_count()
        self.week = max(0, min(week, count - 1)) if count else 0
        lines = [] if self.calendar is None else list(
            self.calendar.lines[7 * self.week:7 * self.week + 7])
        today = self.gateway.today()
        for i in range(7):
            line = lines[i] if i < len(lines) else None
            widgets = (self.date_labels[i], self.day_labels[i], self.printed_labels[i],
                       self.taken_edits[i], self.reason_edits[i], self.state_labels[i])
            for widget in widgets:
                widget.setVisible(line is not None)
            if line is None:
                continue
            entry = self.entries[line.date]
            self.date_labels[i].setText(f"{short_date(line.date)} {line.date.year}")
            self.day_labels[i].setText(str(line.study_day))
            self.printed_labels[i].setText(dose_words(line, self.calendar.drug
                                                      if self.calendar else ""))
            future = line.date > today
            self.taken_edits[i].setText(entry.taken)
            self.reason_edits[i].setText(entry.reason)
            self.taken_edits[i].setEnabled(not future)
            self.reason_edits[i].setEnabled(not future)
            self.taken_edits[i].setToolTip("after today: not yet taken" if future else
                                           "mg taken that day; empty if the day was left "
                                           "blank (it stays missing)")
        if count:
            first, last = lines[0].date, lines[-1].date
            self.week_label.setText(f"Week {self.week + 1} of {count}: {short_date(first)} "
                                    f"to {short_date(last)} {last.year}")
        else:
            self.week_label.setText("No calendar")
        self.previous_button.setEnabled(self.week > 0)
        self.next_button.setEnabled(self.week + 1 < count)
        self.update_plan()

    def _row_edited(self, row: int, *, taken: str | None = None, reason: str | None = None) -> None:
        if self.calendar is None:
            return
        line = self.calendar.lines[7 * self.week + row]
        entry = self.entries[line.date]
        if taken is not None:
            entry.taken = taken
        if reason is not None:
            entry.reason = reason
        self.update_plan()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Page Down / Page Up turn the week from any field (a line edit passes them on),
        # keeping the cursor in the same row of the new week.
        step = {Qt.Key.Key_PageDown: 1, Qt.Key.Key_PageUp: -1}.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        focus = self.focusWidget()
        row = next((i for i, edits in enumerate(zip(self.taken_edits, self.reason_edits,
                                                    strict=True)) if focus in edits), None)
        self.show_week(self.week + step)
        if row is not None and self.taken_edits[row].isVisible():
            self.taken_edits[row].setFocus()
            self.taken_edits[row].selectAll()

    # ------------------------------------------------------------ what saving would do

    def returned_days(self) -> tuple[list[ReturnedDay], dict[date, str]]:
        """The days as typed, and the days whose text is not an amount."""
        days, bad = [], {}
        for d, entry in sorted(self.entries.items()):
            text = entry.taken.strip().replace(",", ".")
            if not text:
                days.append(ReturnedDay(d, None, entry.reason))
                continue
            try:
                days.append(ReturnedDay(d, parse_mg(decimal_point(text)), entry.reason))
            except QuantityError as exc:
                bad[d] = str(exc)
                days.append(ReturnedDay(d, None, entry.reason))
        return days, bad

    def plan(self) -> tuple[ReturnedCalendarPlan | None, dict[date, str]]:
        if self.calendar is None:
            return None, {}
        days, bad = self.returned_days()
        plan = plan_returned_calendar(self.study, self.record, self.calendar, days,
                                      self.gateway.today(), self.close_ongoing.isChecked())
        problems = dict(bad)
        for p in plan.problems:
            try:
                problems.setdefault(date.fromisoformat(p.field), p.message)
            except ValueError:
                continue
        return plan, problems

    def update_plan(self) -> None:
        plan, problems = self.plan()
        self.day_problems = problems
        calendar = self.calendar
        lines = [] if calendar is None else calendar.lines[7 * self.week:7 * self.week + 7]
        for i, line in enumerate(lines):
            entry = self.entries[line.date]
            state, invalid = self._state(line.date, entry, line.dose_mg, line.exact)
            self.state_labels[i].setText(state)
            self.state_labels[i].setStyleSheet("color: #b00020;" if invalid else
                                               "color: #5f6b76;")
            for edit in (self.taken_edits[i], self.reason_edits[i]):
                wrong = invalid and (edit is self.taken_edits[i] or "reason" in state)
                if bool(edit.property("invalid")) != wrong:
                    edit.setProperty("invalid", wrong)
                    repolish(edit)
        ongoing = [d for d in self.record.valid_doses
                   if d.end_date is None and d.frequency != "ONCE"
                   and calendar is not None and d.start_date < calendar.first_date]
        self.close_ongoing.setVisible(bool(ongoing))
        if ongoing and calendar is not None:
            end = calendar.first_date - timedelta(days=1)
            which = "; ".join(f"{format_mg(d.dose_mg)} mg {d.drug} {d.frequency} from "
                              f"{d.start_date.isoformat()}" for d in ongoing)
            self.close_ongoing.setText(f"&Close the ongoing record on {end.isoformat()} "
                                       f"({which})")
        if plan is None:
            self.plan_label.setText("")
            self.save_button.setEnabled(False)
            return
        self.save_button.setEnabled(True)
        parts = [self._describe(r.dose_mg, r.frequency, r.start_date, r.end_date)
                 for r in plan.records]
        text = (f"Saving makes {len(parts)} record{'s' if len(parts) != 1 else ''} from the "
                f"diary: " + "; ".join(parts) + "." if parts else
                "No day has a dose yet: nothing would be saved.")
        if plan.missing_days:
            text += (f"<br>Left blank (stay missing): {len(plan.missing_days)} day(s), "
                     + ", ".join(short_date(d) for d in plan.missing_days[:6])
                     + ("…" if len(plan.missing_days) > 6 else "") + ".")
        others = [p.message for p in plan.problems if not _is_date(p.field)]
        if problems or others:
            weeks = sorted({self._week_of(d) + 1 for d in problems})
            text += "<br><b>To check:</b> " + "; ".join(
                [f"{len(problems)} day(s) (week {', '.join(map(str, weeks))})"]
                if problems else []) + ("; " if problems and others else "") + "; ".join(others)
        self.plan_label.setText(text)
        warn = bool(problems or others)
        if bool(self.plan_label.property("warn")) != warn:
            self.plan_label.setProperty("warn", warn)
            repolish(self.plan_label)

    def _state(self, d: date, entry: _Entry, printed: object, exact: bool) -> tuple[str, bool]:
        if d > self.gateway.today():
            return "after today", False
        if d in self.day_problems:
            return self.day_problems[d], True
        text = entry.taken.strip()
        if not text and not exact:
            return "type what was taken", False
        if not text:
            return "blank: stays missing", False
        if exact and text.replace(",", ".") == format_mg(printed):  # type: ignore[arg-type]
            return "as printed", False
        return "differs", False

    def _describe(self, dose: object, frequency: str, first: date, last: date) -> str:
        how = "every other day" if frequency == "QOD" else "a day"
        span = short_date(first) if first == last else f"{short_date(first)} to {short_date(last)}"
        return f"{format_mg(dose)} mg {how}, {span}"  # type: ignore[arg-type]

    def _week_of(self, d: date) -> int:
        assert self.calendar is not None
        return (d - self.calendar.first_date).days // 7

    # ------------------------------------------------------------ save

    def refuse(self, problems: list[Problem]) -> None:
        """Day problems at their rows (on the first such week); others below the rows."""
        super().refuse([p for p in problems if not _is_date(p.field)])
        dated = [date.fromisoformat(p.field) for p in problems if _is_date(p.field)]
        if dated and self.calendar is not None:
            self.show_week(self._week_of(min(dated)))

    def save(self) -> None:
        calendar = self.calendar
        if calendar is None or self.saving:
            return
        days, bad = self.returned_days()
        if bad:
            self.refuse([Problem(d.isoformat(), message) for d, message in bad.items()])
            return
        plan, problems = self.plan()
        if plan is not None and (plan.problems or problems):
            self.refuse(list(plan.problems))
            return
        subject, version = self.record.subject_id, self.record.version
        first, weeks, drug = calendar.first_date, calendar.weeks, calendar.drug
        close = self.close_ongoing.isChecked()
        entered = [d.date for d in days if d.taken_mg is not None]
        if close:
            entered.append(first - timedelta(days=1))

        def enter() -> None:
            self.call_service_then("Returned calendar", lambda: (
                self.gateway.enter_returned_calendar(subject, first, weeks, drug, days,
                                                     close_ongoing=close,
                                                     patient_version=version)),
                lambda saved: self._entered(subject, saved))

        if entered:
            self.confirm_signed_period_then(subject, min(entered), "This returned calendar",
                                            enter)
        else:
            enter()

    def _entered(self, subject: str, saved: ReturnedCalendarSaved) -> None:
        summary = (f"{subject}: returned calendar saved as {len(saved.record_ids)} dose "
                   f"record{'s' if len(saved.record_ids) != 1 else ''}")
        if saved.closed_record_ids:
            n = len(saved.closed_record_ids)
            summary += (f"; the ongoing record{'s' * (n != 1)} ended the day before the "
                        "calendar")
        if saved.missing_days:
            summary += f"; {len(saved.missing_days)} day(s) left missing"
        self.saved.emit(subject, summary)
        self.accept()

    def rebase(self, record: PatientRecord) -> None:
        """The patient changed meanwhile: the days typed stay; the checks use the new record."""
        self.record = record
        self.update_plan()


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


__all__ = ["ReturnedCalendarDialog", "ValidationError"]
