"""Plain row objects for the tables, built from service results (no Qt: safe in a worker).

The patient list row (``services.gateway.PatientRow``) carries the service's own
``summary_dict``, so every number the window shows is the number ``taper-app summary
--json`` prints for the same date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..domain.doses import peq_mg_per_day
from ..results import SdvStatus
from ..services.gateway import PatientRow, load_patient_row, load_patient_rows
from ..services.records import DoseRecordView, PatientRecord
from ..services.study import StudyInfo
from .formatting import iso


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


__all__ = ["HistoryRow", "PatientRow", "dose_fields", "history_rows", "load_patient_row",
           "load_patient_rows"]
