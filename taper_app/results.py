"""The plain values services hand to their callers and reports print: a patient's stored
record, a study's settings, a patient's analysis, target attainment, a signature as shown.

Every type here is made of plain values and domain types only, and this module imports
nothing but ``domain``: services build these, and the window, the command line and the
report builders read them without reaching into services (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from .domain.doses import DailySeries, DoseRecord, missing_gaps
from .domain.equivalence import EquivalenceTable
from .domain.figures import PatientFigures, TaperCurves
from .domain.protocol import Protocol
from .domain.schedule import ScheduleStep, Template
from .domain.units import ug_to_mg

# ------------------------------------------------------------------ a patient's record


class DoseRecordView(NamedTuple):
    """One stored dose record as plain, immutable values.

    A tuple rather than a frozen dataclass: a study holds a hundred thousand of these, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost five times
    as much to build as the tuple, more than reading the rows.
    """

    id: int
    drug: str
    dose_ug: int
    frequency: str
    route: str
    start_date: date
    end_date: date | None
    source: str | None
    comment: str | None
    deviation_reason: str | None
    created_by: str
    created_at: datetime
    voided: bool
    void_reason: str | None
    voided_by: str | None
    voided_at: datetime | None
    replaces_id: int | None
    version: int

    @property
    def dose_mg(self) -> Decimal:
        return ug_to_mg(self.dose_ug)

    def as_domain(self) -> DoseRecord:
        return DoseRecord(self.drug, self.dose_ug, self.frequency, self.route, self.start_date,
                          self.end_date, self.voided, self.id)


@dataclass(frozen=True)
class AmendmentView:
    seq: int
    day: int
    dose_ug: int
    reason: str
    created_by: str
    created_at: datetime
    #: A withdrawn amendment stays in the record (shown as withdrawn) but no longer shapes
    #: the schedule.
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdraw_reason: str | None = None

    @property
    def dose_mg(self) -> Decimal:
        return ug_to_mg(self.dose_ug)

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


@dataclass(frozen=True)
class PatientRecord:
    """Everything stored about one patient, as plain values."""

    id: int
    subject_id: str
    site: str
    day1_date: date
    baseline_ug: int
    template_id: str
    kit_number: str | None
    notes: str | None
    version: int
    steps: tuple[ScheduleStep, ...]
    amendments: tuple[AmendmentView, ...]
    doses: Sequence[DoseRecordView]  # in (start date, id) order
    #: End of participation (domain.md §7): None while the patient is active.
    end_date: date | None = None
    disposition: str | None = None
    end_reason: str | None = None

    @property
    def baseline_mg(self) -> Decimal:
        return ug_to_mg(self.baseline_ug)

    @property
    def participation(self) -> str:
        """``active`` or the disposition of the ended participation."""
        return "active" if self.end_date is None else (self.disposition or "other")

    def figures_as_of(self, as_of: date) -> date:
        """The date the figures are computed as of: ``min(as_of, end date)`` (§7)."""
        return as_of if self.end_date is None or self.end_date >= as_of else self.end_date

    @property
    def valid_doses(self) -> list[DoseRecordView]:
        return [d for d in self.doses if not d.voided]


# ------------------------------------------------------------------ the study


@dataclass(frozen=True)
class StudyInfo:
    """The study as services and views need it: settings, equivalence and templates."""

    name: str
    protocol_version: str
    protocol: Protocol
    templates: dict[str, Template]

    @property
    def equivalence(self) -> EquivalenceTable:
        return self.protocol.equivalence()


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class PatientAnalysis:
    """A patient's stored record with its series, curves and figures as of one date."""

    record: PatientRecord
    series: DailySeries
    curves: TaperCurves
    figures: PatientFigures

    @property
    def gaps(self) -> list[tuple[date, date]]:
        return missing_gaps(self.series)


#: Target statuses in the order every table lists them (domain.md §5.1).
STATUSES = ("met", "not_met", "not_evaluable", "pending", "discontinued")

#: The dispositions that end a patient's participation (domain.md §7, CDISC NCOMPLT terms).
DISPOSITIONS = ("completed", "withdrawal_by_subject", "adverse_event", "lack_of_efficacy",
                "physician_decision", "lost_to_follow_up", "death", "other")
ALL_SITES = "All sites"


@dataclass(frozen=True)
class Attainment:
    """Target status counts for a group of patients (a site, or all of them), as
    ``services.cohort.attainment`` counts them."""

    group: str
    patients: int
    counts: dict[str, int]
    #: Patients whose target day has come: met, not met or not evaluable.
    reached: int
    #: Met among those who reached the target day, % (None before anyone reached it).
    met_of_reached_pct: float | None

    def pct(self, status: str) -> float | None:
        """The share of the group's patients with ``status``, % (None for no patients)."""
        return None if not self.patients else 100.0 * self.counts[status] / self.patients


@dataclass(frozen=True)
class Completeness:
    """Observed and missing days (Day 1 to the as-of date) summed over a group's patients."""

    group: str
    patients: int
    observed_days: int
    missing_days: int
    patients_with_gaps: int

    @property
    def expected_days(self) -> int:
        return self.observed_days + self.missing_days

    @property
    def observed_pct(self) -> float | None:
        total = self.expected_days
        return None if not total else 100.0 * self.observed_days / total


# ------------------------------------------------------------------ signatures


@dataclass(frozen=True)
class AuditHeadMark:
    """The audit trail's head at some moment: its number of rows and the last row's hash.

    Printed outside the database (PDF footers, export READMEs, the audit CSV, signatures)
    so that a later ``audit verify --head`` tells a rollback, truncation or rewrite.
    """

    rows: int
    hash: str

    @property
    def short(self) -> str:
        """``N:HASH16``, the form ``audit verify --head`` takes."""
        return f"{self.rows}:{self.hash[:16]}"

    @property
    def full(self) -> str:
        return f"{self.rows}:{self.hash}"


@dataclass(frozen=True)
class SignatureManifestation:
    """One electronic signature as 21 CFR 11.50 wants it shown: who, when (UTC), what it means.

    ``valid`` is False when the signed data changed after signing; ``note`` says why.
    """

    printed_name: str
    signed_at: datetime
    meaning: str
    valid: bool
    signed_through: date | None = None
    note: str | None = None
    #: The audit trail's head the signature was made at (None for one made before 0008).
    audit_head: AuditHeadMark | None = None


@dataclass(frozen=True)
class SignatureState:
    """Where a patient's record stands with signatures, for the patient list.

    ``unsigned``: never signed; ``changed``: the latest signature no longer holds (its
    period changed); ``new_data``: the latest signature holds but a dose record starts
    after its date; ``signed``: signed and nothing new since. ``why`` says it in words.
    """

    state: str
    signed_through: date | None = None
    signed_by: str | None = None
    why: str = ""

    @property
    def needs_signature(self) -> bool:
        return self.state != "signed"


#: What the patient list flags, most urgent first (the badge rule, docs/figures.md).
TRIAGE_FLAGS = ("above", "below", "missing", "pulse", "reason", "signature")


@dataclass(frozen=True)
class Triage:
    """What needs attention for one patient as of the figures' date (services/triage.py):
    each figure by its own function there; the window only formats them."""

    #: Today against the schedule: on_schedule, above, below or missing.
    today: str
    #: The flags that apply, in :data:`TRIAGE_FLAGS` order.
    flags: tuple[str, ...]
    missing_days: int
    pulse_today: bool
    #: Deviation days (domain.md §5) that no record's reason explains.
    days_needing_reason: int
    #: The date the last dose record was entered (UTC), None if none was.
    last_entry: date | None
    signature: SignatureState
    target_status: str

    @property
    def badge(self) -> str:
        """The most urgent flag, or ``on_schedule`` when nothing needs attention."""
        return self.flags[0] if self.flags else "on_schedule"


# ------------------------------------------------------------------ a dosing calendar


@dataclass(frozen=True)
class CalendarLine:
    """One day of a patient's calendar, as plain values."""

    date: date
    study_day: int
    #: S(d): the scheduled daily PEQ of the figures (half the dose on a QOD stretch).
    scheduled_peq_mg: Decimal
    #: mg of the drug to take that day in all; 0 on a day with none.
    dose_mg: Decimal
    #: Times that day (2: twice a day, each ``dose_mg / 2``); 0 on a day with none.
    times: int
    #: ``2 x 5 mg + 1 x 2.5 mg`` for one of those times; empty for none or no exact tablets.
    tablets: str
    #: The same tablets in plain words, a line per strength (``2 tablets of 5 mg``).
    tablet_words: tuple[str, ...]
    new_dose: bool
    none: bool
    #: No tablets make the dose exactly: the sheet says to ask the study nurse.
    ask_nurse: bool
    note: str
    #: 1: the dose is taken every day; 2: every other day; 7: once a week.
    every: int = 1
    #: False when the drug's dose has no exact decimal form (a protocol factor of 1/3):
    #: ``dose_mg`` is then to the microgram, only to say it cannot be given.
    exact: bool = True


@dataclass(frozen=True)
class DosingCalendar:
    """A patient's calendar for some weeks, with what the sheet prints around it."""

    subject_id: str
    site: str
    study: str
    drug: str
    #: Why this drug: "chosen", "current oral record" or "default".
    drug_from: str
    strengths: tuple[Decimal, ...]
    first_date: date
    last_date: date
    weeks: int
    #: The schedule's version in plain words: the last amendment, or as enrolled.
    schedule_version: str
    #: The patient's record version this calendar was made from (print refuses a newer one).
    patient_version: int
    lines: tuple[CalendarLine, ...]

    @property
    def days_to_ask(self) -> tuple[date, ...]:
        """Days whose dose no tablets make: the window warns before printing them."""
        return tuple(line.date for line in self.lines if line.ask_nurse)


# ------------------------------------------------------------------ verification, queries


@dataclass(frozen=True)
class SdvStatus:
    """A dose record's latest source-data verification mark, as shown. ``changed``: the
    record was changed after the mark, so it is no longer verified."""

    record_id: int
    verified_by: str
    verified_at_utc: str
    verified_through: date | None
    changed: bool

    @property
    def verified(self) -> bool:
        return not self.changed


@dataclass(frozen=True)
class QueryMessage:
    kind: str  # answer, reask, close
    by: str
    at_utc: str
    text: str | None


@dataclass(frozen=True)
class QueryView:
    """A query to the site (discrepancy note) and what followed it."""

    id: int
    subject_id: str
    site: str
    record_id: int | None
    state: str  # open, answered, closed
    opened_by: str
    opened_at_utc: str
    text: str
    messages: tuple[QueryMessage, ...]
    #: The dose record in words ("prednisone 20 mg QD from 2026-01-05 to 2026-01-31"), or None for
    #: a query about the patient.
    record_text: str | None = None

    @property
    def answers(self) -> list[QueryMessage]:
        return [m for m in self.messages if m.kind == "answer"]
