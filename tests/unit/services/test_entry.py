"""The dose form's live preview: when does a dose differ from the schedule (and need a reason)?"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from taper_app.services.entry import preview_dose
from taper_app.services.patients import enroll_patient
from taper_app.services.records import load_patient
from taper_app.storage.uow import UnitOfWork

TODAY = date(2026, 1, 20)


def record_of(nurse, study):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    with UnitOfWork(nurse.db, write=False) as uow:
        return load_patient(uow.session, "101-001")


def with_tolerance(study, mg: str):
    settings = dataclasses.replace(study.protocol.settings, tolerance_mg=Decimal(mg))
    return dataclasses.replace(study, protocol=dataclasses.replace(study.protocol,
                                                                   settings=settings))


def preview(study, record, mg: str, frequency: str = "QD"):
    return preview_dose(study, record, {"drug": "prednisone", "dose_mg": mg,
                                        "frequency": frequency, "route": "PO",
                                        "start_date": "2026-01-05",
                                        "end_date": "" if frequency == "ONCE" else "2026-01-10"},
                        TODAY)


def test_off_schedule_is_judged_with_the_protocols_tolerance(nurse, study):
    record = record_of(nurse, study)  # S = 20 mg/day on Days 1-28
    assert not preview(study, record, "20").differs_from_schedule
    assert preview(study, record, "21").differs_from_schedule
    tolerant = with_tolerance(study, "1")
    assert not preview(tolerant, record, "21").differs_from_schedule
    assert not preview(tolerant, record, "19").differs_from_schedule
    assert preview(tolerant, record, "21.5").differs_from_schedule
    assert preview(tolerant, record, "18.5").differs_from_schedule


def test_a_one_off_pulse_is_not_compared_with_the_daily_schedule(nurse, study):
    record = record_of(nurse, study)
    pulse = preview(study, record, "500", "ONCE")
    assert pulse.problems == [] and pulse.peq_mg_per_day == 500
    assert not pulse.differs_from_schedule


def test_the_history_shows_each_stored_records_peq_per_day(nurse, study):
    from taper_app.domain.doses import peq_mg_per_day
    from taper_app.services.patients import record_dose

    record_of(nurse, study)
    for drug, mg, freq in (("dexamethasone", "0.75", "QD"), ("prednisone", "5", "QOD"),
                           ("methylprednisolone", "500", "ONCE")):
        record_dose(nurse, study, "101-001", {"drug": drug, "dose_mg": mg, "frequency": freq,
                                              "route": "PO", "start_date": "2026-01-02",
                                              "end_date": "" if freq == "ONCE" else
                                              "2026-01-03"})
    with UnitOfWork(nurse.db, write=False) as uow:
        doses = load_patient(uow.session, "101-001").doses
    assert [peq_mg_per_day(d, study.equivalence) for d in doses] == [5.0, 2.5, 625.0]
