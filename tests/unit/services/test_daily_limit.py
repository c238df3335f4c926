"""Over 2,000 mg prednisone-equivalent in one day is refused (interfaces.md), counting every
valid record of the patient on that day, not only the record being entered."""

from __future__ import annotations

from pathlib import Path

import pytest

from taper_app.services.errors import ValidationError
from taper_app.services.imports import import_files
from taper_app.services.patients import correct_dose, enroll_patient, record_dose, void_dose
from taper_app.services.records import load_patient
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context
from tests.unit.services.test_imports import DOSES_HEADER, refused, write


def dose(drug: str, mg: str, freq: str, start: str, end: str = "", route: str = "PO"):
    return {"drug": drug, "dose_mg": mg, "frequency": freq, "route": route,
            "start_date": start, "end_date": end}


@pytest.fixture
def patient(nurse, study) -> str:
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    return "101-001"


def valid_records(db, subject):
    with UnitOfWork(db, write=False) as uow:
        return [(d.drug, str(d.dose_mg)) for d in load_patient(uow.session, subject).valid_doses]


def test_a_pulse_on_top_of_the_daily_dose_is_plausible(nurse, study, db, patient):
    record_dose(nurse, study, patient, dose("prednisone", "20", "QD", "2026-01-01"))
    record_dose(nurse, study, patient, dose("methylprednisolone", "1000", "ONCE", "2026-01-10",
                                            route="IV"))  # 1,250 + 20 mg PEQ
    assert len(valid_records(db, patient)) == 2


def test_a_dose_that_takes_a_day_over_the_limit_is_refused_and_nothing_is_written(
        nurse, study, db, patient):
    record_dose(nurse, study, patient, dose("prednisone", "1500", "QD", "2026-01-01",
                                            "2026-01-31"))
    with pytest.raises(ValidationError) as excinfo:
        record_dose(nurse, study, patient, dose("methylprednisolone", "500", "ONCE",
                                                "2026-01-20", route="IV"))
    message = excinfo.value.for_field("dose_mg")[0]
    assert "2026-01-20 would total 2,125.0 mg" in message
    assert valid_records(db, patient) == [("prednisone", "1500")]


def test_the_record_being_corrected_no_longer_counts(nurse, study, db, patient):
    wrong = record_dose(nurse, study, patient, dose("prednisone", "1500", "QD", "2026-01-01",
                                                    "2026-01-31")).record_id
    record_dose(nurse, study, patient, dose("prednisone", "400", "QD", "2026-01-10",
                                            "2026-01-10"))
    # 1,500 + 400 is 1,900 mg on Jan 10; corrected to 1,000 the day is 1,400 mg, and
    # 700 more would be 2,100 mg: refused, with the corrected record counted, not the void.
    correct_dose(nurse, study, wrong, "diary says 1000 mg",
                 dose("prednisone", "1000", "QD", "2026-01-01", "2026-01-31"))
    with pytest.raises(ValidationError):
        record_dose(nurse, study, patient, dose("prednisone", "700", "QD", "2026-01-10",
                                                "2026-01-10"))
    assert sorted(valid_records(db, patient)) == [("prednisone", "1000"), ("prednisone", "400")]


def test_a_voided_record_does_not_count(nurse, study, db, patient):
    wrong = record_dose(nurse, study, patient, dose("prednisone", "1500", "QD", "2026-01-01",
                                                    "2026-01-31")).record_id
    void_dose(nurse, wrong, "entered for the wrong patient")
    record_dose(nurse, study, patient, dose("prednisone", "1500", "QD", "2026-01-10",
                                            "2026-01-12"))
    assert valid_records(db, patient) == [("prednisone", "1500")]


def test_an_import_counts_its_own_rows_and_the_stored_ones(db, study, patient,
                                                          tmp_path: Path):
    record_dose(context(db, "nurse"), study, patient,
                dose("prednisone", "1000", "QD", "2026-01-01", "2026-01-31"))
    doses = write(tmp_path / "doses.csv", DOSES_HEADER,
                  "101-001,prednisone,20,QD,PO,2026-02-01,2026-02-28",
                  "101-001,prednisolone,600,QD,PO,2026-01-05,2026-01-06",
                  "101-001,prednisolone,500,QD,PO,2026-01-06,2026-01-06")
    problems = refused(db, study, doses=doses)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{doses}:3: dose_mg: with the patient's other records, "
                                  "2026-01-06 would total 2,100.0 mg")
    assert problems[1].startswith(f"{doses}:4: dose_mg: ")
    assert valid_records(db, patient) == [("prednisone", "1000")]
    # Without the third row it is all plausible, and all of it is written.
    write(doses, DOSES_HEADER, "101-001,prednisone,20,QD,PO,2026-02-01,2026-02-28",
          "101-001,prednisolone,600,QD,PO,2026-01-05,2026-01-06")
    assert import_files(context(db, "nurse"), study, doses=doses).doses == 2
