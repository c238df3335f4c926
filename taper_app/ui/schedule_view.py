"""A patient's schedule: its steps and amendments, and the investigator's amendment form.

Amending (a flare, say) is ``services.patients.amend_patient_schedule``; the preview is
``services.patients.amended_steps``, the very steps the amendment would store.
"""

from __future__ import annotations

from decimal import Decimal

from ..domain.studyday import study_day
from ..domain.units import decimal_point
from ..services import patients as patient_service
from ..services.errors import Problem
from ..services.records import PatientRecord
from ..services.study import StudyInfo
from . import messages
from .formatting import iso, mg, step_date
from .forms import RecordDialog, StudyDoor
from .inputs import DATE_KEYS, DateField, parse_iso
from .models import AmendmentsModel, ScheduleStepsModel
from .qt import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    Qt,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from .widgets import OneLine, ScheduleChart, em, fit_columns, line_edit, setup_table


def _steps_view(model: ScheduleStepsModel, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    setup_table(view)
    fit_columns(view, ScheduleStepsModel.SAMPLES)
    return view


class SchedulePane(QWidget):
    """The Schedule tab of the patient pane."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = OneLine()
        self.summary.setObjectName("schedule_summary")
        self.amend_button = QToolButton()
        self.amend_button.setObjectName("amend_button")
        self.amend_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.withdraw_button = QToolButton()
        self.withdraw_button.setObjectName("withdraw_button")
        self.withdraw_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.correct_button = QToolButton()
        self.correct_button.setObjectName("correct_enrollment_button")
        self.correct_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.steps_model = ScheduleStepsModel(self)
        self.steps_view = _steps_view(self.steps_model, "schedule_steps")
        self.amendments_model = AmendmentsModel(self)
        self.amendments_view = QTableView()
        self.amendments_view.setObjectName("amendments")
        self.amendments_view.setModel(self.amendments_model)
        setup_table(self.amendments_view, stretch_column=AmendmentsModel.REASON)
        fit_columns(self.amendments_view, AmendmentsModel.SAMPLES)

        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.amend_button)
        top.addWidget(self.withdraw_button)
        top.addWidget(self.correct_button)
        steps_box = QGroupBox("Steps: from the day, the dose")
        QVBoxLayout(steps_box).addWidget(self.steps_view)
        view = self.steps_view
        steps_width = sum(view.columnWidth(c) for c in range(self.steps_model.columnCount()))
        view.setMinimumWidth(steps_width + view.verticalScrollBar().sizeHint().width()
                             + 2 * view.frameWidth() + 2)
        self.amendments_box = QGroupBox("Amendments")
        QVBoxLayout(self.amendments_box).addWidget(self.amendments_view)
        rows = self.amendments_view.verticalHeader().defaultSectionSize()
        self.amendments_view.setMaximumHeight(rows * 4 + self.amendments_view.horizontalHeader(
            ).sizeHint().height() + 4)
        steps_row = QHBoxLayout()
        steps_row.addWidget(steps_box, 0)
        steps_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.amendments_box)
        layout.addLayout(steps_row, 1)

    def selected_amendment(self) -> int | None:
        """The number of the amendment selected in the list, if any."""
        index = self.amendments_view.currentIndex()
        if not index.isValid():
            return None
        return self.amendments_model.row_object(index.row()).seq

    def show_record(self, record: PatientRecord | None, study: StudyInfo) -> None:
        if record is None:
            self.summary.set_full("")
            self.steps_model.set_schedule([], None)
            self.amendments_model.set_rows([])
            return
        template = study.templates.get(record.template_id)
        name = template.name if template is not None else record.template_id
        first = f" until Day {record.steps[0].day}" if record.steps else ""
        # One line beside the buttons, cut short on a narrow screen (the whole in the
        # tooltip): the header above already names the template and the baseline.
        self.summary.set_full(f"Template {name} ({record.template_id}); baseline "
                              f"{mg(record.baseline_mg)} mg/day{first}.")
        self.steps_model.set_schedule(record.steps, record.day1_date)
        self.amendments_model.set_rows(list(record.amendments))
        count = len(record.amendments)
        withdrawn = sum(1 for a in record.amendments if a.withdrawn)
        title = f"Amendments: {count}" if count else "Amendments: none"
        self.amendments_box.setTitle(title + (f" ({withdrawn} withdrawn)" if withdrawn else ""))
        self.amendments_view.setVisible(bool(count))


class AmendDialog(RecordDialog):
    """From a study day or its date (either typed, the other follows), a new dose and a
    reason; the taper then resumes from that dose."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                 default_day: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(ctx, study, record, "Amend the schedule", "&Amend",
                         "steps before the day stay; from it the dose is the new one, and "
                         "the taper resumes from it with the same template.", parent)
        self.day = line_edit("study day", "day")
        if default_day is not None and default_day >= 1:
            self.day.setText(str(default_day))
        # The investigator often knows the flare visit's date rather than its study day.
        self.day_date = DateField(ctx.today, name="day_date")
        self.day_date.setToolTip("The date of the study day (either can be typed). "
                                 + DATE_KEYS)
        self._syncing = False
        self.dose_mg = line_edit("mg prednisone-equivalent per day", "dose_mg")
        self.reason = line_edit("e.g. flare: CK and MMT-8 worse", "reason")
        e = self.errors
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        day_row = QWidget()
        day_layout = QHBoxLayout(day_row)
        day_layout.setContentsMargins(0, 0, 0, 0)
        day_layout.addWidget(e.field("day", self.day), 1)
        date_label = QLabel("or d&ate:")
        date_label.setBuddy(self.day_date)
        day_layout.addWidget(date_label, 0, Qt.AlignmentFlag.AlignTop)
        day_layout.addWidget(e.field("day_date", self.day_date), 2)
        day_row.setFocusProxy(self.day)
        form.addRow("From &day:", day_row)
        form.addRow("&New dose (mg/day):", e.field("dose_mg", self.dose_mg))
        form.addRow("&Reason:", e.field("reason", self.reason))

        self.steps_model = ScheduleStepsModel(self)
        self.steps_view = _steps_view(self.steps_model, "amend_preview")
        self.steps_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.chart = ScheduleChart()
        preview = QGroupBox("Schedule after the amendment (its steps in italics, dots)")
        pv = QHBoxLayout(preview)
        pv.addWidget(self.steps_view, 0)
        pv.addWidget(self.chart, 1)
        view = self.steps_view
        view.setMinimumWidth(sum(view.columnWidth(c) for c in range(4))
                             + view.verticalScrollBar().sizeHint().width() + 4)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(preview, 1)
        layout.addWidget(self.buttons)
        self.chart.setMinimumSize(em(self, 22), em(self, 12))
        self.resize(em(self, 62), em(self, 40))

        self.day.textChanged.connect(self._day_typed)
        self.day_date.textChanged.connect(self._date_typed)
        for edit in (self.day, self.day_date, self.dose_mg, self.reason):
            edit.textChanged.connect(self.update_preview)
        self._day_typed(self.day.text())
        self.update_preview()
        self.day.setFocus()
        self.day.selectAll()

    @classmethod
    def build(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
               default_day: int | None = None, parent: QWidget | None = None) -> AmendDialog:
        return cls(ctx, study, record, default_day, parent)

    def rebase(self, record: PatientRecord) -> None:
        self.record = record
        self.update_preview()

    def _day_typed(self, text: str) -> None:
        """A study day typed: its date follows."""
        if self._syncing:
            return
        try:
            day: int | None = int(text.strip())
        except ValueError:
            day = None
        self._syncing = True
        try:
            self.day_date.setText(iso(step_date(self.record.day1_date, day)) if day else "")
        finally:
            self._syncing = False

    def _date_typed(self, text: str) -> None:
        """A date typed or picked: its study day follows (no Day 0, as everywhere)."""
        if self._syncing:
            return
        chosen = parse_iso(text)
        if chosen is None:
            return
        self._syncing = True
        try:
            self.day.setText(str(study_day(chosen, self.record.day1_date)))
        finally:
            self._syncing = False

    def fields(self) -> dict[str, object]:
        return {"day": self.day.text(), "dose_mg": decimal_point(self.dose_mg.text()),
                "reason": self.reason.text()}

    def _problems(self) -> tuple[int | None, Decimal | None, list[Problem]]:
        day, dose, _reason, problems = patient_service.check_amendment(self.fields())
        typed = self.day_date.text().strip()
        if typed and parse_iso(typed) is None:
            problems = [*problems, Problem("day_date", "a date as YYYY-MM-DD")]
        return day, dose, problems

    def update_preview(self) -> None:
        day, dose, problems = self._problems()
        if day is not None and dose is not None:
            steps = patient_service.amended_steps(self.study, self.record, day, dose)
        else:
            steps = list(self.record.steps)
        self.steps_model.set_schedule(steps, self.record.day1_date)
        new_seq = len(self.record.amendments) + 1
        self.chart.show_schedule(steps, self.record.baseline_mg, highlight_seq=new_seq)
        first_new = next((i for i, s in enumerate(steps) if s.amendment_seq == new_seq), None)
        if first_new is not None:
            self.steps_view.scrollTo(self.steps_model.index(first_new, 0),
                                     self.steps_view.ScrollHint.PositionAtTop)
        if self._tried:
            self.errors.show(problems)
            self.fit_height()

    def save(self) -> None:
        if self.saving:
            return
        fields = self.fields()
        day, dose, problems = self._problems()
        if problems:
            self.refuse(problems)
            return
        assert day is not None and dose is not None
        subject, version = self.record.subject_id, self.record.version
        when = iso(step_date(self.record.day1_date, day))
        if not messages.ask(
                self, "Amend the schedule?",
                f"{subject}: from Day {day} ({when}) the scheduled dose becomes "
                f"{mg(dose)} mg/day, and the taper resumes from it.",
                "Steps from that day are replaced; an amendment can only be undone by "
                "withdrawing it (with a reason).", yes="&Amend", no="&Back to the form"):
            return

        def amend() -> None:
            self.call_service_then("Amendment", lambda: self.gateway.amend_schedule(
                self.study, subject, fields, patient_version=version), amended)

        def amended(seq: int) -> None:
            self.saved.emit(subject, f"{subject}: schedule amendment {seq} saved")
            self.accept()

        self.confirm_signed_period_then(subject, None, "This amendment", amend)

