"""Reading a patient's record into plain objects (never live ORM rows) for every view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.doses import DoseRecord
from ..domain.schedule import ScheduleStep
from ..domain.units import ug_to_mg
from ..storage.models import Amendment, DoseRecordRow, Patient, ScheduleStepRow
from .errors import NotFound


@dataclass(frozen=True, slots=True)  # slots: a study holds a hundred thousand of these
class DoseRecordView:
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

    @property
    def dose_mg(self) -> Decimal:
        return ug_to_mg(self.dose_ug)


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
    doses: tuple[DoseRecordView, ...]

    @property
    def baseline_mg(self) -> Decimal:
        return ug_to_mg(self.baseline_ug)

    @property
    def valid_doses(self) -> list[DoseRecordView]:
        return [d for d in self.doses if not d.voided]


def dose_view(r: DoseRecordRow) -> DoseRecordView:
    return DoseRecordView(r.id, r.drug, r.dose_ug, r.frequency, r.route, r.start_date,
                          r.end_date, r.source, r.comment, r.deviation_reason, r.created_by,
                          r.created_at, r.voided, r.void_reason, r.voided_by, r.voided_at,
                          r.replaces_id, r.version)


# Reading plain columns rather than ORM entities: a patient with three years of daily diary
# records has a thousand rows, and building (then discarding) an ORM object per row cost
# several times more than the figures computed from them.
_DOSE_COLUMNS = tuple(getattr(DoseRecordRow, f.name) for f in fields(DoseRecordView))
_STEP_COLUMNS = (ScheduleStepRow.patient_id, ScheduleStepRow.id, ScheduleStepRow.day,
                 ScheduleStepRow.dose_ug, ScheduleStepRow.amendment_id)
_AMENDMENT_COLUMNS = (Amendment.patient_id, Amendment.id, Amendment.seq, Amendment.day,
                      Amendment.dose_ug, Amendment.reason, Amendment.created_by,
                      Amendment.created_at)
_PATIENT_COLUMNS = (Patient.id, Patient.subject_id, Patient.site_code, Patient.day1_date,
                    Patient.baseline_ug, Patient.template_id, Patient.kit_number, Patient.notes,
                    Patient.version)

_StepRow = tuple[int, int, int, int, "int | None"]
_AmendmentRow = tuple[int, int, int, int, int, str, str, datetime]


def _assemble(p: Sequence[Any], steps: Iterable[_StepRow], amendments: Iterable[_AmendmentRow],
              doses: Iterable[DoseRecordView]) -> PatientRecord:
    """One record from a patient's columns and its rows (doses already in (start, id) order)."""
    amendment_list = sorted(amendments, key=lambda a: a[2])
    seq_of = {a[1]: a[2] for a in amendment_list}
    current = sorted(steps, key=lambda s: (s[2], s[1]))
    pid, subject_id, site, day1, baseline_ug, template_id, kit_number, notes, version = p
    return PatientRecord(
        id=pid, subject_id=subject_id, site=site, day1_date=day1,
        baseline_ug=baseline_ug, template_id=template_id, kit_number=kit_number,
        notes=notes, version=version,
        steps=tuple(ScheduleStep(s[2], ug_to_mg(s[3]), seq_of.get(s[4]) if s[4] else None)
                    for s in current),
        amendments=tuple(AmendmentView(a[2], a[3], a[4], a[5], a[6], a[7])
                         for a in amendment_list),
        doses=tuple(doses),
    )


def find_patient_row(session: Session, subject_id: str) -> Patient:
    patient = session.scalars(select(Patient).where(Patient.subject_id == subject_id)).first()
    if patient is None:
        raise NotFound(f"no patient {subject_id!r}")
    return patient


def _doses_by_patient(session: Session, where: Any = None) -> dict[int, list[DoseRecordView]]:
    stmt = select(DoseRecordRow.patient_id, *_DOSE_COLUMNS).order_by(
        DoseRecordRow.patient_id, DoseRecordRow.start_date, DoseRecordRow.id)
    if where is not None:
        stmt = stmt.where(where)
    doses: dict[int, list[DoseRecordView]] = defaultdict(list)
    session.flush()  # the connection below does not autoflush: records added in this unit count
    for patient_id, *values in session.connection().execute(stmt).all():
        doses[patient_id].append(DoseRecordView(*values))
    return doses


def load_patient(session: Session, subject_id: str) -> PatientRecord:
    p = session.execute(select(*_PATIENT_COLUMNS).where(
        Patient.subject_id == subject_id)).first()
    if p is None:
        raise NotFound(f"no patient {subject_id!r}")
    pid = p[0]
    steps = session.execute(select(*_STEP_COLUMNS).where(
        ScheduleStepRow.patient_id == pid, ScheduleStepRow.superseded_by_id.is_(None)))
    amendments = session.execute(select(*_AMENDMENT_COLUMNS).where(
        Amendment.patient_id == pid))
    doses = _doses_by_patient(session, DoseRecordRow.patient_id == pid)[pid]
    return _assemble(p, steps, amendments, doses)


def load_all_patients(session: Session,
                      sites: frozenset[str] | None = None) -> list[PatientRecord]:
    """Every patient (of ``sites``, or all) in subject order, in four queries in all."""
    stmt = select(*_PATIENT_COLUMNS).order_by(Patient.subject_id)
    if sites is not None:
        stmt = stmt.where(Patient.site_code.in_(sorted(sites)))
    patients = session.execute(stmt).all()  # (autoflushes what this unit of work added)
    steps: dict[int, list[_StepRow]] = defaultdict(list)
    connection = session.connection()  # Core rows: no ORM loading machinery per row
    for s in connection.execute(select(*_STEP_COLUMNS).where(
            ScheduleStepRow.superseded_by_id.is_(None))).all():
        steps[s[0]].append(s)
    amendments: dict[int, list[_AmendmentRow]] = defaultdict(list)
    for a in connection.execute(select(*_AMENDMENT_COLUMNS)).all():
        amendments[a[0]].append(a)
    doses = _doses_by_patient(session)
    records = [_assemble(p, steps[p[0]], amendments[p[0]], doses[p[0]]) for p in patients]
    # Subject order by code point, as SQLite sorts: a server's collation may differ
    # ("101-A" vs "101-a", hyphens ignored), and summary --json must not depend on it.
    records.sort(key=lambda r: r.subject_id)
    return records
