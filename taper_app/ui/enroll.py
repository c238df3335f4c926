"""Enrolling a patient: the form, and a preview of the schedule it will store.

The schedule shown is ``services.patients.preview_schedule`` (what enrollment stores);
saving is ``services.patients.enroll_patient``, which refuses duplicates and bad values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from ..domain.units import decimal_point
from ..services import patients as patient_service
from ..services.errors import Problem, ServiceError
from ..services.study import StudyInfo
from ..services.validation import check_enrollment, parse_amount
from .formatting import mg
from .forms import ServiceDialog, StudyDoor
from .inputs import DateField
from .models import ScheduleStepsModel
from .qt import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .widgets import ScheduleChart, combo, em, fit_columns, line_edit, setup_table

ENROLL_FIELDS = ("subject_id", "site", "day1_date", "baseline_mg", "kit_number", "template_id")


class EnrollDialog(ServiceDialog):
    """Subject id, site, Day 1, baseline, kit and template; previews the schedule."""

    def __init__(self, ctx: StudyDoor, study: StudyInfo, existing_subjects: Iterable[str],
                 sites: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.study = study
        self.existing = {s.casefold() for s in existing_subjects}
        self.setWindowTitle(f"Enroll a patient – {study.name}")
        self.save_button.setText("&Enroll")

        self.subject_id = line_edit("e.g. 101-014", "subject_id")
        allowed = ctx.actor.sites
        choices = sorted(allowed) if allowed is not None else sorted(set(sites))
        self.site = combo(choices, editable=True, name="site")
        self.site.setEditText(choices[0] if allowed is not None and len(choices) == 1 else "")
        self.day1_date = DateField(ctx.today, name="day1_date")
        self.day1_date.setText(ctx.today().isoformat())
        self.baseline_mg = line_edit("mg prednisone-equivalent per day", "baseline_mg")
        self.kit_number = line_edit("optional, as on the kit label", "kit_number")
        self.template_id = combo([], name="template_id")
        for template_id, template in study.templates.items():
            self.template_id.addItem(f"{template.name} ({template_id})", template_id)

        e = self.errors
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("S&ubject id:", e.field("subject_id", self.subject_id))
        form.addRow("S&ite:", e.field("site", self.site))
        form.addRow("&Day 1 date:", e.field("day1_date", self.day1_date,
                                            "date of the first dose of study product"))
        form.addRow("&Baseline (mg/day):", e.field("baseline_mg", self.baseline_mg,
                                                   "prednisone-equivalent daily dose at "
                                                   "enrollment"))
        form.addRow("&Kit number:", e.field("kit_number", self.kit_number))
        form.addRow("&Template:", e.field("template_id", self.template_id))
        self.steps_model = ScheduleStepsModel(self)
        self.steps_view = QTableView()
        self.steps_view.setObjectName("preview_steps")
        self.steps_view.setModel(self.steps_model)
        setup_table(self.steps_view)
        fit_columns(self.steps_view, ScheduleStepsModel.SAMPLES)
        self.steps_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        view = self.steps_view
        view.setMinimumWidth(sum(view.columnWidth(c) for c in range(4))
                             + view.verticalScrollBar().sizeHint().width() + 4)
        self.summary = QLabel()
        self.summary.setObjectName("preview_summary")
        self.summary.setWordWrap(True)
        self.chart = ScheduleChart()
        self.chart.setMinimumSize(em(self, 22), em(self, 12))
        preview = QGroupBox("Schedule this enrollment will store")
        pv = QVBoxLayout(preview)
        pv.addWidget(self.summary)
        side = QHBoxLayout()
        side.addWidget(self.steps_view, 0)
        side.addWidget(self.chart, 1)
        pv.addLayout(side, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(preview, 1)
        layout.addWidget(self.buttons)
        self.resize(em(self, 62), em(self, 46))

        for edit in (self.subject_id, self.day1_date, self.baseline_mg, self.kit_number):
            edit.textChanged.connect(self.update_preview)
        self.site.currentTextChanged.connect(self.update_preview)
        self.template_id.currentIndexChanged.connect(self.update_preview)
        self.save_on_return(self.site)
        self.update_preview()
        self.subject_id.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, study: StudyInfo, existing_subjects: Iterable[str],
               sites: Iterable[str], parent: QWidget | None = None) -> EnrollDialog:
        return cls(ctx, study, existing_subjects, sites, parent)

    def fields(self) -> dict[str, object]:
        return {"subject_id": self.subject_id.text(), "site": self.site.currentText(),
                "day1_date": self.day1_date.text(),
                "baseline_mg": decimal_point(self.baseline_mg.text()),
                "kit_number": self.kit_number.text(),
                "template_id": self.template_id.currentData()}

    def _baseline(self, problems: list[Problem]) -> Decimal | None:
        text = self.baseline_mg.text()
        if not text.strip():
            return None
        return parse_amount(decimal_point(text), "baseline_mg", problems, positive=True)

    def _duplicate(self) -> list[Problem]:
        subject = self.subject_id.text().strip()
        if subject and subject.casefold() in self.existing:
            return [Problem("subject_id", f"{subject!r} is already enrolled")]
        return []

    def update_preview(self) -> None:
        problems: list[Problem] = []
        baseline = self._baseline(problems)
        template_id = str(self.template_id.currentData() or "")
        steps = []
        if baseline is not None and template_id:
            try:
                steps = patient_service.preview_schedule(self.study, template_id, baseline)
            except (ServiceError, ValueError):
                baseline = None
        try:
            day1: date | None = date.fromisoformat(self.day1_date.text().strip())
        except ValueError:
            day1 = None
        self.steps_model.set_schedule(steps, day1)
        self.chart.show_schedule(steps, baseline)
        if baseline is None:
            self.summary.setText("Enter a baseline dose to see the schedule.")
        elif steps:
            last = steps[-1]
            self.summary.setText(f"Baseline {mg(baseline)} mg/day until Day {steps[0].day}; "
                                 f"{len(steps)} steps to {mg(last.dose_mg)} mg/day on Day "
                                 f"{last.day}.")
        else:
            self.summary.setText(f"Baseline {mg(baseline)} mg/day: this template has no steps "
                                 "below it.")
        # A duplicate id is certain while typing, so it shows at once; the other checks
        # (the service's own) show after a first Save, then follow the typing.
        shown = self._duplicate()
        if self._tried:
            _, checked = check_enrollment(self.fields(), set(self.study.templates),
                                          self.gateway.today())
            shown += checked
        self.errors.show(shown)
        self.fit_height()

    def save(self) -> None:
        duplicate = self._duplicate()
        if duplicate:
            self.refuse(duplicate)
            return
        if self.saving:
            return
        fields = self.fields()

        def enrolled(subject: str) -> None:
            self.saved.emit(subject, f"{subject} enrolled")
            self.accept()

        self.call_service_then("Enrollment", lambda: self.gateway.enroll_patient(
            self.study, fields), enrolled)
