"""Plain row objects for the tables, built from service results (no Qt: safe in a worker).

The patient list row carries the service's own ``summary_dict``, so every number the
window shows is the number ``taper-app summary --json`` prints for the same date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..domain.doses import peq_mg_per_day
from ..results import SdvStatus, Triage
from ..services.figures import PatientAnalysis, analyse_all, analyse_patient, summary_dict
from ..services.queries import unresolved_counts
from ..services.records import DoseRecordView, PatientRecord
from ..services.study import StudyInfo
from ..services.triage import triage_all
from ..services.verification import changed_since, marks_by_patient, sdv_marks, verified_through
from ..storage.engine import Database
from .formatting import iso


@dataclass(frozen=True)
class PatientRow:
    """One patient as of one date: the stored record, its analysis, its summary figures
    and its triage (what needs attention)."""

    analysis: PatientAnalysis
    summary: dict[str, Any]
    triage: Triage
    #: The patient's source-data verification marks, by dose record id (services.verification).
    sdv: dict[int, SdvStatus] = field(default_factory=dict)
    #: The patient's queries not closed yet: (open, answered) (services.queries).
    queries: tuple[int, int] = (0, 0)

    @classmethod
    def from_analysis(cls, analysis: PatientAnalysis, triage: Triage,
                      sdv: dict[int, SdvStatus] | None = None,
                      queries: tuple[int, int] = (0, 0)) -> PatientRow:
        return cls(analysis, summary_dict(analysis.record, analysis.figures), triage,
                   sdv or {}, queries)

    @property
    def unresolved_queries(self) -> int:
        """Queries opened and not closed yet (open, or answered and waiting to be closed)."""
        return sum(self.queries)

    @property
    def verified_through(self) -> date | None:
        """The latest date the records were verified through (marks still holding)."""
        return verified_through(self.sdv)

    @property
    def changed_since_verification(self) -> int:
        return changed_since(self.sdv)

    @property
    def record(self) -> PatientRecord:
        return self.analysis.record

    @property
    def subject_id(self) -> str:
        return self.analysis.record.subject_id

    @property
    def status(self) -> str:
        """The badge: the most urgent triage flag, or on_schedule (docs/figures.md)."""
        return self.triage.badge


def load_patient_rows(db: Database, study: StudyInfo, as_of: date,
                      sites: frozenset[str] | None = None) -> list[PatientRow]:
    """Every patient's row (of the user's sites), in subject order: the list's load."""
    analyses = analyse_all(db, study, as_of, sites)
    marks = marks_by_patient(db)
    queries = unresolved_counts(db)
    return [PatientRow.from_analysis(a, t, marks.get(a.record.id),
                                     queries.get(a.record.subject_id, (0, 0)))
            for a, t in zip(analyses, triage_all(db, analyses), strict=True)]


def load_patient_row(db: Database, study: StudyInfo, subject_id: str, as_of: date,
                     sites: frozenset[str] | None = None) -> PatientRow:
    analysis = analyse_patient(db, study, subject_id, as_of, sites)
    [triage] = triage_all(db, [analysis])
    return PatientRow.from_analysis(analysis, triage, sdv_marks(db, subject_id),
                                    unresolved_counts(db, subject_id).get(subject_id, (0, 0)))


def dose_fields(dose: DoseRecordView) -> dict[str, object]:
    """A stored record as the text fields a form (or a service) takes."""
    return {"drug": dose.drug, "dose_mg": f"{dose.dose_mg:f}", "frequency": dose.frequency,
            "route": dose.route, "start_date": iso(dose.start_date),
            "end_date": iso(dose.end_date), "source": dose.source or "",
            "comment": dose.comment or "", "deviation_reason": dose.deviation_reason or ""}


@dataclass(frozen=True)
class HistoryRow:
    """A dose record with its prednisone-equivalent mg per day (from the services)."""

    dose: DoseRecordView
    peq_mg_per_day: float | None
    #: The record's latest source-data verification mark, if any.
    sdv: SdvStatus | None = None


def history_rows(study: StudyInfo, record: PatientRecord, today: date,
                 sdv: dict[int, SdvStatus] | None = None) -> list[HistoryRow]:
    """The patient's records, newest first, each with its PEQ per day.

    A diary repeats the same dose day after day: the PEQ of each drug, amount, frequency
    and route is computed once per call (it depends on nothing else of the record).
    """
    peq: dict[tuple[str, int, str, str], float] = {}
    rows = []
    for dose in sorted(record.doses, key=lambda d: (d.start_date, d.id), reverse=True):
        key = (dose.drug, dose.dose_ug, dose.frequency, dose.route)
        per_day = peq.get(key)
        if per_day is None:
            per_day = peq[key] = peq_mg_per_day(dose, study.equivalence)
        rows.append(HistoryRow(dose, per_day, None if sdv is None else sdv.get(dose.id)))
    return rows
