"""Signing a patient's taper record (Part 11 §11.50, §11.200), and the patient's signatures.

The dialog shows exactly what is signed (subject, through date, printed name, meaning),
asks for the password again and calls ``services.signatures.sign_record`` through the
window's door; the service, not this form, decides who may sign. :class:`SignatureBox`
lists the signatures with whether each still holds and, if not, the change that broke it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..services.errors import AuthenticationFailed, Problem, ValidationError
from ..services.records import PatientRecord
from ..services.signatures import MEANINGS, SignatureView
from .formatting import iso
from .forms import ServiceDialog, StudyDoor
from .inputs import DateField
from .qt import (
    QAction,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .widgets import em, line_edit

MEANING_TEXT = {"reviewed": "Reviewed – I have reviewed this record",
                "approved": "Approved – I approve this record as complete and correct"}

INVALID_STYLE = "color: #b00020;"


class _SigningDialog(ServiceDialog):
    """What single and batch signing share: the through date, the meaning, the password
    again, a summary of what is signed and the legal notice."""

    def _signing_form(self, through_field: QLineEdit, through: date, covers: str,
                      notice_text: str) -> tuple[QFormLayout, QLabel]:
        """Make the fields (``through_field`` holding ``through``); the form and the
        notice, for the dialog to lay out; ``_describe`` follows the fields' changes."""
        self.through = through_field
        self.through.setText(iso(through))
        self.meaning = QComboBox()
        self.meaning.setObjectName("meaning")
        for code in MEANINGS:
            self.meaning.addItem(MEANING_TEXT.get(code, code), code)
        self.password = line_edit("your password, again", "password")
        self.password.setEchoMode(self.password.EchoMode.Password)
        self.summary = QLabel()
        self.summary.setObjectName("sign_summary")
        self.summary.setWordWrap(True)
        self.summary.setProperty("role", "readout")
        notice = QLabel("Signing with your password is the legally binding equivalent of your "
                        f"handwritten signature{notice_text}")
        notice.setWordWrap(True)
        e = self.errors
        form = QFormLayout()
        form.addRow("Record &through:", e.field("through", self.through, covers))
        form.addRow("&Meaning:", e.field("meaning", self.meaning))
        form.addRow("&Password:", e.field("password", self.password))
        self.through.textChanged.connect(self._describe)
        self.meaning.currentIndexChanged.connect(self._describe)
        return form, notice

    def _signer(self) -> str:
        actor = self.gateway.actor
        return (f"Signed by <b>{actor.full_name}</b> ({actor.username}), meaning "
                f"<b>{self.meaning.currentData()}</b>.")

    def _describe(self) -> None:
        raise NotImplementedError

    def _through_date(self) -> date | None:
        try:
            return date.fromisoformat(self.through.text().strip())
        except ValueError:
            return None


class SignDialog(_SigningDialog):
    """An investigator signs the record up to a date with their password and a meaning."""

    def __init__(self, ctx: StudyDoor, record: PatientRecord, through: date,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.record = record
        self.setWindowTitle(f"Sign the taper record – {record.subject_id}")
        self.save_button.setText("&Sign")
        form, notice = self._signing_form(
            DateField(self.gateway.today, name="through"), through,
            "the last day this signature covers", ". A later change to the signed period "
            "shows this signature as no longer valid.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(notice)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 34))
        self._describe()
        self.password.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, record: PatientRecord, through: date,
               parent: QWidget | None = None) -> SignDialog:
        return cls(ctx, record, through, parent)

    def _describe(self) -> None:
        """What will be signed, in words, as the field values change."""
        through = self._through_date()
        r = self.record
        span = (f"from Day 1 ({iso(r.day1_date)}) through {iso(through)}" if through
                else "(enter the last day to sign, YYYY-MM-DD)")
        self.summary.setText(
            f"<b>{r.subject_id}</b>, site {r.site}: the taper record {span} – schedule, "
            f"amendments and every dose record in that period.<br>{self._signer()}")

    def save(self) -> None:
        if self.saving:
            return
        through = self._through_date()
        if through is None:
            self.refuse([Problem("through", "enter a date as YYYY-MM-DD")])
            return
        meaning = str(self.meaning.currentData())
        password = self.password.text()
        subject, version = self.record.subject_id, self.record.version

        def sign() -> SignatureView:
            try:
                return self.gateway.sign_record(subject, through, meaning, password,
                                                patient_version=version)
            except AuthenticationFailed as exc:  # shown at the field, like a refused value
                raise ValidationError([Problem("password", str(exc))]) from None

        def signed(view: SignatureView) -> None:
            self.saved.emit(subject, f"{subject}: signed ({view.manifestation})")
            self.accept()

        self.password.clear()  # never left in the form, signed or not
        self.call_service_then("Signature", sign, signed)


class SignatureBox(QGroupBox):
    """The patient's signatures, one line each; an invalid one says what broke it."""

    def __init__(self, sign: QAction | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Signatures", parent)
        self.setObjectName("signatures")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 2, 6, 2)
        self.lines = QVBoxLayout()
        outer.addLayout(self.lines, 1)
        if sign is not None:
            button = QToolButton()
            button.setObjectName("sign_button")
            button.setDefaultAction(sign)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            outer.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.labels: list[QLabel] = []
        self.show_signatures([])

    def show_signatures(self, views: list[SignatureView], missing: list[str] | None = None
                        ) -> None:
        """``missing``: signings the audit trail records whose signature row is gone."""
        for label in self.labels:
            self.lines.removeWidget(label)
            label.deleteLater()
        self.labels = []
        if not views and not missing:
            self._add("Not signed.", valid=True)
        for text in missing or []:
            self._add(f"✘ MISSING: {text}", valid=False)
        for v in views:
            if v.valid:
                self._add(f"✔ {v.manifestation}", valid=True)
            else:
                self._add(f"✘ NO LONGER VALID: {v.manifestation}.\nWhy: {v.broken_by}. "
                          "The record needs a new signature.", valid=False)
        self.setTitle(f"Signatures ({len(views)})" if views else "Signatures")

    def show_checking(self) -> None:
        """While the signatures are read and checked (off the GUI thread)."""
        self.show_note("Checking signatures…")

    def show_note(self, text: str) -> None:
        """One line instead of the signatures (being checked, or cannot be checked now)."""
        self.show_signatures([])
        self.labels[0].setText(text)

    def _add(self, text: str, *, valid: bool) -> None:
        label = QLabel(text)
        label.setObjectName("signature_line" if valid else "signature_invalid")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if not valid:
            label.setStyleSheet(INVALID_STYLE)
        self.lines.addWidget(label)
        self.labels.append(label)

    def texts(self) -> list[str]:
        return [label.text() for label in self.labels]


@dataclass(frozen=True)
class BatchCandidate:
    """A patient offered for signing in a batch: why they need it, and the record
    version the signer sees (a change meanwhile refuses the batch)."""

    subject_id: str
    site: str
    version: int
    #: In a few words: never signed, changed since signing, new data after a date.
    state: str
    why: str


class BatchSignDialog(_SigningDialog):
    """Sign several patients' records through one date, with one password and one meaning;
    each patient gets a signature (and audit row) of their own."""

    signed_all = Signal(list, str)

    def __init__(self, ctx: StudyDoor, candidates: list[BatchCandidate], through: date,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.candidates = candidates
        self.setWindowTitle("Sign taper records")
        self.save_button.setText("&Sign")
        intro = QLabel(f"Patients whose record needs a signature ({len(candidates)}). "
                       "Untick any you do not sign now (Space ticks and unticks).")
        intro.setWordWrap(True)
        self.patients = QListWidget()
        self.patients.setObjectName("patients")
        for c in candidates:
            item = QListWidgetItem(f"{c.subject_id} (site {c.site}): {c.state}")
            item.setData(Qt.ItemDataRole.UserRole, c.subject_id)
            item.setToolTip(c.why)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.patients.addItem(item)
        if candidates:
            self.patients.setCurrentRow(0)
        self.patients.itemChanged.connect(lambda _item: self._describe())
        form, notice = self._signing_form(
            line_edit("YYYY-MM-DD", "through"), through, "the last day the signatures cover",
            ", for each patient ticked. A later change to a signed period shows that "
            "patient's signature as no longer valid.")
        e = self.errors
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(e.field("patients", self.patients), 1)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(notice)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 44))
        self.patients.setMinimumHeight(em(self, 14))
        self._describe()
        self.password.setFocus()

    @classmethod
    def build(cls, ctx: StudyDoor, candidates: list[BatchCandidate], through: date,
               parent: QWidget | None = None) -> BatchSignDialog:
        return cls(ctx, candidates, through, parent)

    def chosen(self) -> list[BatchCandidate]:
        ticked = {self.patients.item(i).data(Qt.ItemDataRole.UserRole)
                  for i in range(self.patients.count())
                  if self.patients.item(i).checkState() == Qt.CheckState.Checked}
        return [c for c in self.candidates if c.subject_id in ticked]

    def _describe(self) -> None:
        through = self._through_date()
        n = len(self.chosen())
        span = f"through {iso(through)}" if through else "(enter the last day to sign)"
        self.summary.setText(
            f"<b>{n} patient{'s' * (n != 1)}</b>: each taper record from Day 1 {span} – "
            "schedule, amendments and every dose record in that period, one signature each."
            f"<br>{self._signer()}")

    def save(self) -> None:
        if self.saving:
            return
        through = self._through_date()
        if through is None:
            self.refuse([Problem("through", "enter a date as YYYY-MM-DD")])
            return
        chosen = self.chosen()
        if not chosen:
            self.refuse([Problem("patients", "tick at least one patient to sign")])
            return
        meaning, password = str(self.meaning.currentData()), self.password.text()

        def sign() -> list[SignatureView]:
            try:
                return self.gateway.sign_records([(c.subject_id, c.version) for c in chosen],
                                                 through, meaning, password)
            except AuthenticationFailed as exc:
                raise ValidationError([Problem("password", str(exc))]) from None

        def signed(views: list[SignatureView]) -> None:
            subjects = [c.subject_id for c in chosen]
            self.signed_all.emit(subjects, f"{len(views)} record{'s' * (len(views) != 1)} "
                                 f"signed through {iso(through)} ({meaning}): "
                                 f"{', '.join(subjects)}")
            self.accept()

        self.password.clear()
        self.call_service_then("Signatures", sign, signed)
