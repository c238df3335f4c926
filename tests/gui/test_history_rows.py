"""The Doses tab's rows (no Qt): every record's PEQ per day is the service's own figure,
also when a diary repeats the same dose and the PEQ is worked out once per call."""

from __future__ import annotations

from datetime import timedelta

from taper_app.domain.doses import peq_mg_per_day
from taper_app.services.figures import analyse_patient
from taper_app.ui.rows import history_rows
from tests.conftest import TODAY

from .conftest import DAY1, dose


def test_history_rows_give_each_records_own_peq_newest_first(nurse, study, patient):
    day = DAY1 + timedelta(days=30)
    for n, (mg, drug, frequency) in enumerate((
            ("16", "prednisone", "QD"), ("16", "prednisone", "QD"), ("4", "prednisone", "QD"),
            ("16", "prednisone", "BID"), ("16", "methylprednisolone", "QD"),
            ("500", "methylprednisolone", "ONCE"), ("16", "prednisone", "QD"))):
        start = day + timedelta(days=n)
        dose(nurse, study, patient, mg, start, None if frequency == "ONCE" else start,
             drug=drug, frequency=frequency)
    record = analyse_patient(nurse.db, study, patient, TODAY).record
    rows = history_rows(study, record, TODAY)
    assert sorted(r.dose.id for r in rows) == sorted(d.id for d in record.doses)
    assert [(r.dose.start_date, r.dose.id) for r in rows] == sorted(
        ((d.start_date, d.id) for d in record.doses), reverse=True)
    assert [r.peq_mg_per_day for r in rows] == [peq_mg_per_day(r.dose, study.equivalence)
                                                 for r in rows]
    assert {r.peq_mg_per_day for r in rows} == {20.0, 16.0, 4.0, 32.0, 625.0}  # MP 16 mg: 20
