"""The dose form, keyboard first: enter, correct or void a dose record.

Defaults, the prednisone-equivalent read-out and the scheduled dose come from
``services.entry``; saving is ``services.patients``. The form only shows and asks.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

from ..domain.units import decimal_point
from ..services import patients as patient_service
from ..services.entry import (
    DosePreview,
    closes_ongoing_record,
    dose_defaults,
    preview_dose,
    scheduled_dose_on,
    suggested_frequency,
)
from ..services.errors import Problem
from ..services.patients import SavedDose
from ..services.records import DoseRecordView, PatientRecord
from ..services.signatures import SignatureView
from ..services.study import StudyInfo
from ..services.validation import FREQUENCIES, ROUTES, SOURCES
from . import messages
from .formatting import iso, mg
from .forms import ServiceDialog, StudyDoor
from .inputs import DateField, parse_iso
from .qt import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .rows import dose_fields
from .signed_period import ask_about_broken_signatures
from .widgets import combo, em, hline, line_edit, repolish

FREQUENCY_TEXT = {"QD": "once a day", "BID": "twice a day", "TID": "3 times a day",
                  "QID": "4 times a day", "QOD": "every other day", "QW": "once a week",
                  "ONCE": "a single dose"}
ROUTE_TEXT = {"PO": "by mouth", "IV": "intravenous", "IM": "intramuscular",
              "SC": "subcutaneous"}
SOURCE_TEXT = {"clinic": "clinic chart", "diary": "patient diary"}

DOSE_FIELDS = ("drug", "dose_mg", "frequency", "route", "start_date", "end_date", "source",
               "comment")


def _coded(codes: tuple[str, ...], text: dict[str, str], name: str) -> QComboBox:
    """A combo showing 'QD – once a day' and holding 'QD' (typing Q, B... picks a code)."""
    box = combo([], name=name)
    for code in codes:
        box.addItem(f"{code} – {text.get(code, code)}", code)
    return box


def _describe(dose: DoseRecordView) -> str:
    end = "once" if dose.frequency == "ONCE" else (
        f"to {iso(dose.end_date)}" if dose.end_date else "ongoing")
    return (f"{dose.drug} {mg(dose.dose_mg)} mg {dose.frequency} {dose.route} "
            f"from {iso(dose.start_date)} {end}")


class DoseDialog(ServiceDialog):
    """A new dose (or a correction of a record) for one patient."""

    NEW = "new"
    CORRECTION = "correction"

    #: The nurse has a returned dosing calendar to type in: the window opens its form.
    returned_calendar = Signal()

    def __init__(self, ctx: StudyDoor, study: StudyInfo, record: PatientRecord, *,
                 initial: dict[str, object], mode: str = NEW,
                 correcting: DoseRecordView | None = None, context_line: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.study = study
        self.record = record
        self.mode = mode
        self.correcting = correcting
        self.preview: DosePreview | None = None
        self._ongoing_touched = False
        self._frequency_touched = False
        subject = record.subject_id
        if mode == self.CORRECTION and correcting is not None:
            self.setWindowTitle(f"Correct a dose record – {subject}")
        else:
            self.setWindowTitle(f"New dose – {subject}")

        heading = QLabel(f"<b>{subject}</b> &nbsp; site {record.site} &nbsp; Day 1 "
                         f"{iso(record.day1_date)} &nbsp; baseline {mg(record.baseline_mg)} "
                         "mg/day")
        self.context_label = QLabel(context_line)
        self.context_label.setWordWrap(True)
        self.context_label.setVisible(bool(context_line))

        self.drug = combo(study.equivalence.drugs, editable=True, name="drug")
        self.dose_mg = line_edit("mg per administration", "dose_mg")
        self.dose_mg.setMinimumWidth(em(self, 9))
        self.frequency = _coded(FREQUENCIES, FREQUENCY_TEXT, "frequency")
        self.route = _coded(ROUTES, ROUTE_TEXT, "route")
        self.start_date = DateField(ctx.today, name="start_date")
        self.end_date = DateField(ctx.today, "empty: ongoing", "end_date")
        self.source = _coded(SOURCES, SOURCE_TEXT, "source")
        self.comment = line_edit("optional", "comment")
        self.readout = QLabel()
        self.readout.setObjectName("readout")
        self.readout.setProperty("role", "readout")
        self.readout.setWordWrap(False)  # three short lines, each its own sentence
        # Three lines' room always: a read-out of two lines never pulls the rows below up.
        self.readout.setMinimumHeight(self.readout.fontMetrics().lineSpacing() * 3 + 12)
        self.close_ongoing = QCheckBox()
        self.close_ongoing.setObjectName("close_ongoing")
        self.close_ongoing.clicked.connect(self._ongoing_clicked)
        # Out of the typing path (Tab never stops on it, so a typed space cannot toggle
        # it); Alt+C or a click changes it.
        self.close_ongoing.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        policy = self.close_ongoing.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its coming and going moves nothing below
        self.close_ongoing.setSizePolicy(policy)
        # ... and its room is the two lines it says when shown, not the empty one it has now.
        self.close_ongoing.setText("\n")
        self.close_ongoing.setMinimumHeight(self.close_ongoing.sizeHint().height())
        self.close_ongoing.setText("")
        self.scheduled_hint = QLabel()
        self.scheduled_hint.setObjectName("scheduled_hint")
        self.deviation_reason = line_edit("why the dose differs from the schedule",
                                          "deviation_reason")
        self.correction_reason = line_edit("why the record was wrong", "reason")

        e = self.errors
        # Two fields a row (what, how much; how often, how given; from, to; where from,
        # remarks), so the form fits a 1280x720 screen at 125 % with every message line
        # reserved. Fields are added in typing order: Tab goes drug, dose, frequency...
        form = QGridLayout()
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        form.setHorizontalSpacing(em(self, 0.8))
        top_aligned = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop

        def pair(row: int, column: int, text: str, box: QWidget, buddy: QWidget,
                 span: int = 1) -> None:
            label = QLabel(text)
            label.setBuddy(buddy)
            # level with the field's text, above its reserved message line
            label.setContentsMargins(0, max(0, (buddy.sizeHint().height()
                                                - label.sizeHint().height()) // 2), 0, 0)
            form.addWidget(label, row, column, top_aligned)
            form.addWidget(box, row, column + 1, 1, span)

        pair(0, 0, "Dr&ug:", e.field("drug", self.drug, "one of the study's steroids"),
             self.drug)
        dose_row = e.field("dose_mg", self.dose_mg, "mg of the drug per administration "
                           "(7.5 or 7,5)", beside=self.scheduled_hint)
        pair(0, 2, "&Dose (mg):", dose_row, self.dose_mg)
        pair(1, 0, "&Frequency:", e.field("frequency", self.frequency), self.frequency)
        pair(1, 2, "&Route:", e.field("route", self.route), self.route)
        pair(2, 0, "S&tart date:", e.field("start_date", self.start_date), self.start_date)
        pair(2, 2, "&End date:", e.field("end_date", self.end_date,
                                         "leave empty while the dose is ongoing"),
             self.end_date)
        pair(3, 0, "S&ource:", e.field("source", self.source), self.source)
        pair(3, 2, "Co&mment:", e.field("comment", self.comment), self.comment)
        form.addWidget(hline(), 4, 0, 1, 4)
        form.addWidget(QLabel("Per day:"), 5, 0, top_aligned)
        form.addWidget(self.readout, 5, 1, 1, 3)
        form.addWidget(self.close_ongoing, 6, 1, 1, 3)
        self.deviation_row = e.field("deviation_reason", self.deviation_reason)
        pair(7, 0, "Reason for &differing:", self.deviation_row, self.deviation_reason, 3)
        if mode == self.CORRECTION:
            pair(8, 0, "Reason for &correction:", e.field("reason", self.correction_reason),
                 self.correction_reason, 3)
        else:
            self.correction_reason.hide()

        top = QHBoxLayout()
        top.addWidget(heading, 1)
        if mode == self.NEW:
            # A returned calendar is a week of days, not one record: its own form, a click
            # (or Alt+L) away. Out of the tab order: the form's fields, Save, Cancel stay.
            calendar = QPushButton("Returned ca&lendar…")
            calendar.setObjectName("returned_calendar_button")
            calendar.setAutoDefault(False)
            calendar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            calendar.setToolTip("Type in a returned dosing calendar, week by week, changing "
                                "only the days that differ")
            calendar.clicked.connect(self._to_returned_calendar)
            top.addWidget(calendar)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.context_label)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)  # a taller dialog (a message below) never spreads the fields
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 48))

        self._set_fields(initial)
        for edit in (self.dose_mg, self.start_date, self.end_date, self.comment,
                     self.deviation_reason, self.correction_reason):
            edit.textChanged.connect(self.update_preview)
        self.drug.currentTextChanged.connect(self.update_preview)
        for box in (self.frequency, self.route, self.source):
            box.currentIndexChanged.connect(self.update_preview)
        self.frequency.activated.connect(self._frequency_chosen)
        self.route.currentIndexChanged.connect(self._route_changed)
        self.save_on_return(self.drug)
        self.update_preview()
        self.drug.setFocus()
        drug_edit = self.drug.lineEdit()
        if drug_edit is not None:
            drug_edit.selectAll()

    def _to_returned_calendar(self) -> None:
        self.discard()
        self.returned_calendar.emit()

    def _frequency_chosen(self, _index: int) -> None:
        self._frequency_touched = True

    def _route_changed(self, _index: int) -> None:
        """An IV or IM dose is usually a one-off pulse: offer ONCE (unless chosen)."""
        suggested = suggested_frequency(str(self.route.currentData() or ""))
        if suggested is not None and not self._frequency_touched:
            self.frequency.setCurrentIndex(max(self.frequency.findData(suggested), 0))

    # ------------------------------------------------------------ factories

    @classmethod
    def new_dose(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                 parent: QWidget | None = None) -> DoseDialog:
        """From the day after the last record, the dose being taken (else the scheduled)."""
        d = dose_defaults(record, ctx.today())
        initial: dict[str, object] = {
            "drug": d.drug, "dose_mg": f"{d.dose_mg:f}", "frequency": d.frequency,
            "route": d.route, "start_date": iso(d.start_date), "end_date": "",
            "source": d.source, "comment": ""}
        return cls(ctx, study, record, initial=initial, parent=parent)

    @classmethod
    def for_gap(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                first: date, last: date, parent: QWidget | None = None) -> DoseDialog:
        """The dose for a run of missing days, from the patient's diary by default."""
        days = (last - first).days + 1
        ongoing = last >= ctx.today()  # a gap up to today is usually a dose still taken
        initial: dict[str, object] = {
            "drug": "prednisone", "dose_mg": f"{scheduled_dose_on(record, first):f}",
            "frequency": "QD", "route": "PO", "start_date": iso(first),
            "end_date": "" if ongoing else iso(last), "source": "diary", "comment": ""}
        line = (f"Missing days {iso(first)} to {iso(last)} ({days} day{'s' * (days != 1)}): "
                "enter what was taken.")
        return cls(ctx, study, record, initial=initial, context_line=line, parent=parent)

    @classmethod
    def correction(cls, ctx: StudyDoor, study: StudyInfo, record: PatientRecord,
                   dose: DoseRecordView, parent: QWidget | None = None) -> DoseDialog:
        """Void ``dose`` and enter the right one, in one save (``correct_dose``)."""
        line = (f"Correcting {_describe(dose)}. It will be voided with the reason below and "
                "kept in the record; this form's values replace it.")
        return cls(ctx, study, record, initial=dose_fields(dose), mode=cls.CORRECTION,
                   correcting=dose, context_line=line, parent=parent)

    # ------------------------------------------------------------ fields

    def _set_fields(self, values: dict[str, object]) -> None:
        self.drug.setEditText(str(values.get("drug") or ""))
        self.dose_mg.setText(str(values.get("dose_mg") or ""))
        for box, key in ((self.frequency, "frequency"), (self.route, "route"),
                         (self.source, "source")):
            i = box.findData(str(values.get(key) or ""))
            box.setCurrentIndex(max(i, 0))
        self.start_date.setText(str(values.get("start_date") or ""))
        self.end_date.setText(str(values.get("end_date") or ""))
        self.comment.setText(str(values.get("comment") or ""))
        self.deviation_reason.setText(str(values.get("deviation_reason") or ""))

    def fields(self) -> dict[str, object]:
        """What is typed, as the services take it."""
        return {
            "drug": self.drug.currentText(),
            "dose_mg": decimal_point(self.dose_mg.text()),  # 7,5 as much of Europe writes it
            "frequency": self.frequency.currentData(),
            "route": self.route.currentData(),
            "start_date": self.start_date.text(),
            "end_date": self.end_date.text(),
            "source": self.source.currentData(),
            "comment": self.comment.text(),
            "deviation_reason": self.deviation_reason.text(),
        }

    # ------------------------------------------------------------ live read-out

    def update_preview(self) -> None:
        fields = self.fields()
        preview = preview_dose(self.study, self.record, fields, self.gateway.today())
        self.preview = preview
        lo, hi = preview.scheduled_min_mg, preview.scheduled_max_mg
        if lo is not None and hi is not None:
            sched = mg(lo) if lo == hi else f"{mg(lo)}–{mg(hi)}"
            self.scheduled_hint.setText(f"scheduled {sched} mg/day")
        if preview.peq_mg_per_day is None:
            self.readout.setText("Prednisone-equivalent: –<br>(complete the fields above)<br>")
            warn = False
        elif preview.unchanged_from is not None:
            since = iso(preview.unchanged_from.start_date)
            self.readout.setText(
                f"<b>{mg(preview.peq_mg_per_day)} mg/day</b> prednisone-equivalent<br>"
                f"The same as the ongoing dose (since {since}):<br>saving records nothing new.")
            warn = False
        else:
            text = f"<b>{mg(preview.peq_mg_per_day)} mg/day</b> prednisone-equivalent"
            lo, hi = preview.scheduled_min_mg, preview.scheduled_max_mg
            if lo is not None and hi is not None:
                sched = mg(lo) if lo == hi else f"{mg(lo)}–{mg(hi)}"
                text += f"<br>Scheduled for these days: <b>{sched} mg/day</b>"
            text += ("<br>Differs from the schedule: give a reason below."
                     if preview.differs_from_schedule else "<br>As scheduled.")
            self.readout.setText(text)
            warn = preview.differs_from_schedule
        if bool(self.readout.property("warn")) != warn:
            self.readout.setProperty("warn", warn)
            repolish(self.readout)
        self.deviation_reason.setEnabled(preview.differs_from_schedule)
        self._update_ongoing_offer(fields)
        if self._tried:
            self.errors.show(self._problems(preview, fields))
            self.fit_height()

    def _ongoing(self) -> list[DoseRecordView]:
        if self.mode != self.NEW:
            return []
        ids = set(patient_service.ongoing_record(self.record))
        return [d for d in self.record.doses if d.id in ids]

    def _update_ongoing_offer(self, fields: dict[str, object]) -> None:
        start = parse_iso(str(fields["start_date"]))
        ongoing = self._ongoing()
        end_date = parse_iso(str(fields["end_date"]))
        closable = (start is not None and bool(ongoing)
                    and all(d.start_date < start for d in ongoing)
                    and closes_ongoing_record(str(fields["frequency"]), start, end_date)
                    and (self.preview is None or self.preview.unchanged_from is None))
        self.close_ongoing.setVisible(closable)
        if not closable or start is None:
            return
        end = start - timedelta(days=1)
        which = "; ".join(_describe(d) for d in ongoing)
        self.close_ongoing.setText(f"&Close the ongoing record on {iso(end)}\n({which})")
        if not self._ongoing_touched:
            self.close_ongoing.setChecked(True)

    def _ongoing_clicked(self) -> None:
        self._ongoing_touched = True

    def rebase(self, record: PatientRecord) -> None:
        self.record = record
        if self.correcting is not None:
            fresh = [d for d in record.doses if d.id == self.correcting.id]
            if fresh:
                self.correcting = fresh[0]
        self.update_preview()

    def closes_ongoing(self) -> bool:
        return self.close_ongoing.isVisibleTo(self) and self.close_ongoing.isChecked()

    def _problems(self, preview: DosePreview, fields: dict[str, object]) -> list[Problem]:
        problems = list(preview.problems)
        if preview.differs_from_schedule and not str(fields["deviation_reason"]).strip():
            lo, hi = preview.scheduled_min_mg, preview.scheduled_max_mg
            sched = mg(lo) if lo == hi else f"{mg(lo)}–{mg(hi)}"
            problems.append(Problem("deviation_reason", f"the dose differs from the schedule "
                                    f"({sched} mg/day): a reason is required"))
        if self.mode == self.CORRECTION and not self.correction_reason.text().strip():
            problems.append(Problem("reason", "a reason for the correction is required"))
        return problems

    # ------------------------------------------------------------ save

    def _first_changed_date(self, fields: dict[str, object]) -> date | None:
        """The earliest date a save changes: the new record's start, the day before it when
        the ongoing record is closed, a corrected record's start."""
        start = parse_iso(str(fields["start_date"]))
        dates = [] if start is None else [start]
        if start is not None and self.closes_ongoing():
            dates.append(start - timedelta(days=1))
        if self.mode == self.CORRECTION and self.correcting is not None:
            dates.append(self.correcting.start_date)
        return min(dates) if dates else None

    def save(self) -> None:
        if self.saving:  # Enter again while the save is on its way
            return
        fields = self.fields()
        preview = preview_dose(self.study, self.record, fields, self.gateway.today())
        problems = self._problems(preview, fields)
        if problems:
            self.refuse(problems)
            return
        if not preview.differs_from_schedule:
            fields["deviation_reason"] = ""
        # New doses and corrections alike: a correction can bring in a wrong unit too.
        if (preview.unchanged_from is None and preview.implausible
                and not messages.ask(
                    self, "An unusual dose",
                    f"{preview.implausible}.", "Check the dose and the unit (mg). Record it "
                    "as typed only if this is what the patient took.",
                    yes="&Record this dose", no="&Go back")):
            self.dose_mg.setFocus()
            return
        subject = self.record.subject_id
        # A change says first whose signature it breaks (nothing new: nothing to break).
        first_changed = self._first_changed_date(fields)
        confirmed = preview.unchanged_from is not None
        if self.mode == self.CORRECTION and self.correcting is not None:
            old = self.correcting

            def correct() -> None:
                self.call_service_then("Correction", lambda: self.gateway.correct_dose(
                    self.study, old.id, self.correction_reason.text(), fields,
                    expected_version=old.version, patient_version=self.record.version),
                    lambda _new_id: self._done(
                        subject, f"{subject}: the record {_describe(old)} was corrected"))

            if confirmed:
                correct()
            else:
                self.confirm_signed_period_then(subject, first_changed, "This correction",
                                                correct)
            return
        self._record(subject, fields, first_changed, confirmed)

    def _done(self, subject: str, summary: str) -> None:
        self.saved.emit(subject, summary)
        self.accept()

    def _record(self, subject: str, fields: dict[str, object], first_changed: date | None,
                confirmed: bool) -> None:
        """The new dose, off the GUI thread, checked for the signatures it would break and
        saved in one call (asked about, then saved confirmed, if it breaks any); the form
        closes once the save has committed."""
        done = functools.partial(self._done, subject)
        close, version = self.closes_ongoing(), self.record.version
        what = (f"{fields['drug']} {str(fields['dose_mg']).strip()} mg "
                f"{fields['frequency']} {fields['route']} from {fields['start_date']}")

        def answered(answer: tuple[list[SignatureView], SavedDose | None]) -> None:
            broken, result = answer
            if result is None:
                if ask_about_broken_signatures(self, subject, broken, "This dose"):
                    self._record(subject, fields, first_changed, True)
                return
            recorded(result)

        def recorded(result: SavedDose) -> None:
            if result.unchanged:
                done(f"{subject}: {what} is the dose already ongoing; nothing new was "
                     "recorded")
                return
            summary = f"{subject}: {what} saved"
            if result.closed_record_ids:
                n = len(result.closed_record_ids)
                summary += f"; the ongoing record{'s' * (n != 1)} ended the day before"
            done(summary)

        self.call_service_then("Dose", lambda: self.gateway.record_dose_unless_breaking(
            self.study, subject, fields, close_ongoing=close, patient_version=version,
            first_changed=first_changed, confirmed=confirmed), answered)


class VoidDialog(ServiceDialog):
    """Void a wrong record with a reason; it stays in the history, struck through."""

    def __init__(self, ctx: StudyDoor, record: PatientRecord, dose: DoseRecordView,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.record = record
        self.dose = dose
        self.setWindowTitle(f"Void a dose record – {record.subject_id}")
        self.save_button.setText("&Void record")
        intro = QLabel(f"Void {_describe(dose)}?<br>It stays in the record and the audit "
                       "trail, struck through, with your reason. To replace it with the "
                       "right values in one step, use <i>Correct</i> instead.")
        intro.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText("why the record is wrong")
        form = QFormLayout()
        form.addRow("&Reason:", self.errors.field("reason", self.reason))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 30))
        self.reason.setFocus()

    def rebase(self, record: PatientRecord) -> None:
        self.record = record
        fresh = [d for d in record.doses if d.id == self.dose.id]
        if fresh:
            self.dose = fresh[0]

    @classmethod
    def build(cls, ctx: StudyDoor, record: PatientRecord, dose: DoseRecordView,
               parent: QWidget | None = None) -> VoidDialog:
        return cls(ctx, record, dose, parent)

    def save(self) -> None:
        if self.saving:
            return
        dose, version, subject = self.dose, self.record.version, self.record.subject_id

        def void() -> None:
            self.call_service_then("Void", lambda: self.gateway.void_dose(
                dose.id, self.reason.text(), expected_version=dose.version,
                patient_version=version), lambda _none: voided())

        def voided() -> None:
            self.saved.emit(subject, f"{subject}: the record {_describe(dose)} was voided")
            self.accept()

        self.confirm_signed_period_then(subject, dose.start_date, "Voiding this record", void)
