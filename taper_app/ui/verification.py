"""The monitor's source-data verification in the window: mark a patient's valid dose records
verified through a date, or the one record selected (``services.verification``, as
``taper-app sdv``). The history then shows each mark, and the list "verified through …"."""

from __future__ import annotations

from datetime import date

from ..results import DoseRecordView
from ..services.errors import Problem
from ..services.records import PatientRecord
from .formatting import iso
from .forms import ServiceDialog, StudyDoor
from .qt import QCheckBox, QFormLayout, QLabel, QVBoxLayout, QWidget
from .widgets import em, line_edit


class VerifyDialog(ServiceDialog):
    """Through a date (every valid record starting on or before it), or one record."""

    def __init__(self, ctx: StudyDoor, record: PatientRecord,
                 selected: DoseRecordView | None, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.record = record
        self.selected = selected
        self.setWindowTitle(f"Source-data verification – {record.subject_id}")
        self.save_button.setText("&Mark verified")
        intro = QLabel(f"<b>{record.subject_id}</b>: mark the dose records as checked against "
                       "the source (clinic chart, diary). A record changed afterwards shows "
                       "as changed since verified and must be verified again.")
        intro.setWordWrap(True)
        self.through = line_edit("YYYY-MM-DD", "through")
        self.through.setText(iso(ctx.today()))
        self.only_selected = QCheckBox()
        self.only_selected.setObjectName("only_selected")
        if selected is not None and not selected.voided:
            self.only_selected.setText(
                f"Only the selected record ({selected.drug} {selected.dose_mg:f} mg "
                f"{selected.frequency} from {iso(selected.start_date)})")
        self.only_selected.setVisible(selected is not None and not selected.voided)
        self.only_selected.toggled.connect(lambda on: self.through.setEnabled(not on))
        e = self.errors
        form = QFormLayout()
        form.addRow("Records starting &through:", e.field("through", self.through))
        form.addRow("", self.only_selected)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 40))
        self.through.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, record: PatientRecord,
               selected: DoseRecordView | None, parent: QWidget | None = None) -> VerifyDialog:
        return cls(ctx, record, selected, parent)

    def save(self) -> None:
        if self.saving:
            return
        subject = self.record.subject_id
        one = self.only_selected.isChecked() and self.selected is not None
        through: date | None = None
        if not one:
            try:
                through = date.fromisoformat(self.through.text().strip())
            except ValueError:
                self.refuse([Problem("through", "a date as YYYY-MM-DD")])
                return
        record_id = self.selected.id if one and self.selected is not None else None
        which = f"record {record_id}" if record_id is not None else f"through {iso(through)}"

        def marked(count: int) -> None:
            self.saved.emit(subject, f"{subject}: {count} dose record(s) marked "
                                     f"source-verified ({which})")
            self.accept()

        self.call_service_then("Verification", lambda: self.gateway.verify_source(
            subject, through, record_id), marked)
