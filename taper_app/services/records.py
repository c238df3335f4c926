"""Reading a patient's record into plain objects (never live ORM rows) for every view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.doses import DoseRecord
from ..domain.schedule import ScheduleStep
from ..domain.units import ug_to_mg
from ..storage.models import Amendment, DoseRecordRow, Patient, ScheduleStepRow
from .errors import NotFound


@dataclass(frozen=True)
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


def _assemble(p: Patient, steps: Iterable[ScheduleStepRow], amendments: Iterable[Amendment],
              doses: Iterable[DoseRecordRow]) -> PatientRecord:
    amendment_list = sorted(amendments, key=lambda a: a.seq)
    seq_of = {a.id: a.seq for a in amendment_list}
    current = sorted((s for s in steps if s.superseded_by_id is None), key=lambda s: (s.day, s.id))
    return PatientRecord(
        id=p.id, subject_id=p.subject_id, site=p.site_code, day1_date=p.day1_date,
        baseline_ug=p.baseline_ug, template_id=p.template_id, kit_number=p.kit_number,
        notes=p.notes, version=p.version,
        steps=tuple(ScheduleStep(s.day, ug_to_mg(s.dose_ug),
                                 seq_of.get(s.amendment_id) if s.amendment_id else None)
                    for s in current),
        amendments=tuple(AmendmentView(a.seq, a.day, a.dose_ug, a.reason, a.created_by,
                                       a.created_at) for a in amendment_list),
        doses=tuple(dose_view(d) for d in sorted(doses, key=lambda d: (d.start_date, d.id))),
    )


def find_patient_row(session: Session, subject_id: str) -> Patient:
    patient = session.scalars(select(Patient).where(Patient.subject_id == subject_id)).first()
    if patient is None:
        raise NotFound(f"no patient {subject_id!r}")
    return patient


def load_patient(session: Session, subject_id: str) -> PatientRecord:
    p = find_patient_row(session, subject_id)
    steps = session.scalars(select(ScheduleStepRow).where(ScheduleStepRow.patient_id == p.id))
    amendments = session.scalars(select(Amendment).where(Amendment.patient_id == p.id))
    doses = session.scalars(select(DoseRecordRow).where(DoseRecordRow.patient_id == p.id))
    return _assemble(p, steps, amendments, doses)


def load_all_patients(session: Session,
                      sites: frozenset[str] | None = None) -> list[PatientRecord]:
    """Every patient (of ``sites``, or all) in subject order, in four queries in all."""
    stmt = select(Patient).order_by(Patient.subject_id)
    if sites is not None:
        stmt = stmt.where(Patient.site_code.in_(sorted(sites)))
    patients = session.scalars(stmt).all()
    steps: dict[int, list[ScheduleStepRow]] = defaultdict(list)
    for s in session.scalars(select(ScheduleStepRow).where(
            ScheduleStepRow.superseded_by_id.is_(None))):
        steps[s.patient_id].append(s)
    amendments: dict[int, list[Amendment]] = defaultdict(list)
    for a in session.scalars(select(Amendment)):
        amendments[a.patient_id].append(a)
    doses: dict[int, list[DoseRecordRow]] = defaultdict(list)
    for d in session.scalars(select(DoseRecordRow)):
        doses[d.patient_id].append(d)
    return [_assemble(p, steps[p.id], amendments[p.id], doses[p.id]) for p in patients]
