"""The investigator's corrections of enrollment and withdrawals of amendments.

Both dialogs preview the schedule that would be stored, ask for a reason and the password
again, and call ``services.corrections``; the service decides who may, and refuses a
correction while an amendment is in force (the dialog says so before anything is typed).
"""

from __future__ import annotations

import contextlib
from datetime import date

from ..domain.schedule import ScheduleStep
from ..domain.units import decimal_point
from ..services import corrections
from ..services.errors import AuthenticationFailed, Problem, ServiceError, ValidationError
from ..services.patients import preview_schedule
from ..services.records import PatientRecord
from ..services.study import StudyInfo
from ..services.validation import MAX_DAILY_PEQ_MG, parse_amount
from .formatting import iso, mg
from .forms import RecordDialog, ServiceDialog, StudyDoor
from .models import ScheduleStepsModel
from .qt import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .widgets import ScheduleChart, em, fit_columns, line_edit, setup_table

NOTE_STYLE = "color: #8a4b00;"


def _password_edit() -> QLineEdit:
    edit = line_edit("your password, again", "password")
    edit.setEchoMode(edit.EchoMode.Password)
    return edit


def _preview_box(dialog: ServiceDialog, title: str) -> tuple[QGroupBox, ScheduleStepsModel,
                                                              ScheduleChart]:
    model = ScheduleStepsModel(dialog)
    view = QTableView()
    view.setObjectName("correction_preview")
    view.setModel(model)
    setup_table(view)
    fit_columns(view, ScheduleStepsModel.SAMPLES)
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    view.setMinimumWidth(sum(view.columnWidth(c) for c in range(model.columnCount()))
                         + view.verticalScrollBar().sizeHint().width() + 4)
    chart = ScheduleChart()
    chart.setMinimumSize(em(dialog, 22), em(dialog, 12))
    box = QGroupBox(title)
    row = QHBoxLayout(box)
    row.addWidget(view, 0)
    row.addWidget(chart, 1)
    return box, model, chart


def _reauthenticated(call):  # type: ignore[no-untyped-def]
    """A refused password shown at the password field, like a refused value."""
    def run():  # type: ignore[no-untyped-def]
        try:
            return call()
        except AuthenticationFailed as exc:
            raise ValidationError([Problem("password", str(exc))]) from None
    return run


class CorrectEnrollmentDialog(RecordDialog):
    """Correct a patient's baseline, Day 1 or template; the schedule is generated again."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, study, record, "Correct the enrollment", "&Correct",
                         parent=parent)
        self.intro.setObjectName("correction_intro")
        self.blocked = QLabel()
        self.blocked.setObjectName("correction_blocked")
        self.blocked.setWordWrap(True)
        self.blocked.setStyleSheet(NOTE_STYLE)
        self.baseline = line_edit("mg prednisone-equivalent per day", "baseline_mg")
        self.day1 = line_edit("YYYY-MM-DD", "day1_date")
        self.template = QComboBox()
        self.template.setObjectName("template_id")
        for template_id, template in sorted(study.templates.items()):
            self.template.addItem(f"{template.name} ({template_id})", template_id)
        self.reason = line_edit("e.g. baseline misread from the CRF", "reason")
        self.password = _password_edit()
        e = self.errors
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Baseline (mg/day):", e.field("baseline_mg", self.baseline))
        form.addRow("Day &1:", e.field("day1_date", self.day1))
        form.addRow("&Template:", e.field("template_id", self.template))
        form.addRow("&Reason:", e.field("reason", self.reason))
        form.addRow("&Password:", e.field("password", self.password))
        preview, self.steps_model, self.chart = _preview_box(
            self, "Schedule after the correction")
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.blocked)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(preview, 1)
        layout.addWidget(self.buttons)
        self.resize(em(self, 62), em(self, 40))
        self._fill(record)
        for edit in (self.baseline, self.day1):
            edit.textChanged.connect(self.update_preview)
        self.template.currentIndexChanged.connect(self.update_preview)
        self.update_preview()
        self.baseline.setFocus()
        self.baseline.selectAll()

    @classmethod
    def build(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
               parent: QWidget | None = None) -> CorrectEnrollmentDialog:
        return cls(ctx, study, record, parent)

    def _fill(self, record: PatientRecord) -> None:
        self.baseline.setText(mg(record.baseline_mg))
        self.day1.setText(iso(record.day1_date))
        self.template.setCurrentIndex(max(0, self.template.findData(record.template_id)))
        self.intro.setText(
            f"<b>{record.subject_id}</b> was enrolled with baseline "
            f"<b>{mg(record.baseline_mg)} mg/day</b>, Day 1 <b>{iso(record.day1_date)}</b> "
            f"and template <b>{record.template_id}</b>. Change what was entered wrongly: a "
            "new baseline or template generates the schedule again (the old steps are kept "
            "in the record as replaced). Signatures covering the record will no longer be "
            "valid.")
        in_force = corrections.amendments_in_force(record)
        if in_force:
            numbers = ", ".join(str(n) for n in in_force)
            self.blocked.setText(
                f"Amendment{'s' if len(in_force) > 1 else ''} {numbers} "
                f"{'are' if len(in_force) > 1 else 'is'} in force: the enrollment cannot be "
                "corrected under it. Withdraw the amendment(s) first (Schedule tab), correct "
                "the enrollment, then amend the new schedule again if still needed.")
        self.blocked.setVisible(bool(in_force))

    def rebase(self, record: PatientRecord) -> None:
        """Continue on the fresh record: what is typed stays, the note follows it."""
        self.record = record
        self.blocked.setVisible(bool(corrections.amendments_in_force(record)))
        self.update_preview()

    def fields(self) -> dict[str, object]:
        """Only what differs from the enrolled values is sent as a correction."""
        r = self.record
        values: dict[str, object] = {"reason": self.reason.text()}
        if decimal_point(self.baseline.text()).strip() != mg(r.baseline_mg):
            values["baseline_mg"] = decimal_point(self.baseline.text())
        if self.day1.text().strip() != iso(r.day1_date):
            values["day1_date"] = self.day1.text()
        if self.template.currentData() != r.template_id:
            values["template_id"] = self.template.currentData()
        return values

    def _preview(self) -> list[ScheduleStep]:
        problems: list[Problem] = []
        baseline = parse_amount(decimal_point(self.baseline.text()), "baseline_mg", problems,
                                positive=True)
        template = str(self.template.currentData())
        if baseline is None or baseline > MAX_DAILY_PEQ_MG:
            return list(self.record.steps)
        try:
            return preview_schedule(self.study, template, baseline)
        except ServiceError:
            return list(self.record.steps)

    def update_preview(self) -> None:
        steps = self._preview()
        day1 = self.record.day1_date
        with contextlib.suppress(ValueError):
            day1 = date.fromisoformat(self.day1.text().strip())
        self.steps_model.set_schedule(steps, day1)
        self.chart.show_schedule(steps, self.record.baseline_mg)

    def save(self) -> None:
        if self.saving:
            return
        fields = self.fields()
        password = self.password.text()
        subject, version = self.record.subject_id, self.record.version

        def correct() -> None:
            self.password.clear()
            self.call_service_then("Correction", _reauthenticated(
                lambda: self.gateway.correct_enrollment(self.study, subject, fields, password,
                                                        patient_version=version)),
                corrected)

        def corrected(changed: list[str]) -> None:
            self.saved.emit(subject, f"{subject}: enrollment corrected ({', '.join(changed)})")
            self.accept()

        self.confirm_signed_period_then(subject, None, "Correcting the enrollment", correct)


class WithdrawAmendmentDialog(RecordDialog):
    """Withdraw an amendment: the schedule resumes as if it had not been made."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                 seq: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(ctx, study, record, "Withdraw an amendment", "&Withdraw",
                         "the schedule is stored again as if the amendment had not been made "
                         "(the amendments after it still apply). The amendment stays in the "
                         "record, shown as withdrawn with your reason. Signatures covering "
                         "the schedule will no longer be valid.", parent)
        self.amendment = QComboBox()
        self.amendment.setObjectName("amendment")
        self.reason = line_edit("e.g. entered on the wrong patient", "reason")
        self.password = _password_edit()
        e = self.errors
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Amendment:", e.field("amendment", self.amendment))
        form.addRow("&Reason:", e.field("reason", self.reason))
        form.addRow("&Password:", e.field("password", self.password))
        preview, self.steps_model, self.chart = _preview_box(
            self, "Schedule after the withdrawal")
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(preview, 1)
        layout.addWidget(self.buttons)
        self.resize(em(self, 62), em(self, 40))
        self._fill(record, seq)
        self.amendment.currentIndexChanged.connect(self.update_preview)
        self.update_preview()
        self.reason.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
               seq: int | None = None, parent: QWidget | None = None,
               ) -> WithdrawAmendmentDialog:
        return cls(ctx, study, record, seq, parent)

    def _fill(self, record: PatientRecord, seq: int | None) -> None:
        chosen = self.amendment.currentData() if seq is None else seq
        self.amendment.blockSignals(True)
        self.amendment.clear()
        for a in record.amendments:
            if not a.withdrawn:
                self.amendment.addItem(f"{a.seq}: from day {a.day}, {mg(a.dose_mg)} mg/day – "
                                       f"{a.reason}", a.seq)
        index = self.amendment.findData(chosen)
        self.amendment.setCurrentIndex(index if index >= 0 else self.amendment.count() - 1)
        self.amendment.blockSignals(False)

    def rebase(self, record: PatientRecord) -> None:
        self.record = record
        self._fill(record, None)
        self.update_preview()

    def update_preview(self) -> None:
        seq = self.amendment.currentData()
        steps = (list(self.record.steps) if seq is None
                 else corrections.schedule_after_withdrawal(self.study, self.record, int(seq)))
        self.steps_model.set_schedule(steps, self.record.day1_date)
        self.chart.show_schedule(steps, self.record.baseline_mg)

    def save(self) -> None:
        if self.saving:
            return
        seq = self.amendment.currentData()
        if seq is None:
            self.refuse([Problem("amendment", "no amendment in force to withdraw")])
            return
        reason, password = self.reason.text(), self.password.text()
        subject, version = self.record.subject_id, self.record.version

        def withdraw() -> None:
            self.password.clear()
            self.call_service_then("Withdrawal", _reauthenticated(
                lambda: self.gateway.withdraw_amendment(self.study, subject, int(seq), reason,
                                                        password, patient_version=version)),
                lambda _schedule: withdrawn())

        def withdrawn() -> None:
            self.saved.emit(subject, f"{subject}: amendment {seq} withdrawn")
            self.accept()

        self.confirm_signed_period_then(subject, None, "Withdrawing the amendment", withdraw)
