"""Doses and baselines in import files are plain numbers: digits, an optional point and at
most 3 decimals after trimming. Python's own parsers take ``1e3``, ``1_0``, ``-0`` and other
scripts' digits, and ``1e1000000`` crashed the import; each is refused as
``FILE:LINE: column: …`` and nothing is written (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taper_app.services.imports import import_files
from taper_app.services.records import load_patient
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context
from tests.unit.services.test_imports import (
    AMENDMENTS_HEADER,
    DOSES_HEADER,
    GOOD_DOSE,
    GOOD_PATIENT,
    PATIENTS_HEADER,
    only_problem,
    refused,
    write,
)

NOT_AMOUNTS = [("1e3", "exponent"), ("1e1000000", "exponent"), ("1_0", "underscore"),
               ("-0", "minus sign"), ("١٠", "digits other than 0-9"),
               ("２０", "digits other than 0-9"), ("+20", "plus sign"), ("20.", "not a number"),
               ('"7,5"', "has a comma"), ("9" * 5000, "far too large")]
IDS = [t[:12] for t, _ in NOT_AMOUNTS]


@pytest.fixture
def enrolled(db, study, tmp_path):
    import_files(context(db, "nurse"), study,
                 patients=write(tmp_path / "enrolled.csv", PATIENTS_HEADER, GOOD_PATIENT))
    return db


@pytest.mark.parametrize(("cell", "words"), NOT_AMOUNTS, ids=IDS)
def test_a_dose_that_is_not_a_plain_number_is_refused_at_its_line_and_column(
        enrolled, study, tmp_path: Path, cell, words):
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE,
                  f"101-001,prednisone,{cell},QD,PO,2026-02-01,")
    message = only_problem(refused(enrolled, study, doses=doses), doses, 3, "dose_mg")
    assert words in message and len(message) < 200


@pytest.mark.parametrize(("cell", "words"), NOT_AMOUNTS, ids=IDS)
def test_a_baseline_that_is_not_a_plain_number_is_refused(db, study, tmp_path: Path, cell,
                                                          words):
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER,
                     f"101-009,101,2026-01-05,{cell},stepdown-a")
    message = only_problem(refused(db, study, patients=patients), patients, 2, "baseline_mg")
    assert words in message


@pytest.mark.parametrize(("cell", "words"), NOT_AMOUNTS[:6], ids=IDS[:6])
def test_an_amendment_dose_that_is_not_a_plain_number_is_refused(enrolled, study,
                                                                 tmp_path: Path, cell, words):
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER,
                       f"101-001,57,{cell},Flare")
    message = only_problem(refused(enrolled, study, "investigator", amendments=amendments),
                           amendments, 2, "dose_mg")
    assert words in message


@pytest.mark.parametrize("day", ["1_0", "٥٧", "5e1", "9" * 5000])
def test_an_amendment_day_that_is_not_plain_digits_is_refused(enrolled, study, tmp_path: Path,
                                                              day):
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER, f"101-001,{day},10,Flare")
    message = only_problem(refused(enrolled, study, "investigator", amendments=amendments),
                           amendments, 2, "day")
    assert "is not a whole study day" in message and len(message) < 100


def test_plain_amounts_with_spaces_and_trailing_zeros_are_imported_exactly(enrolled, study,
                                                                           tmp_path: Path):
    doses = write(tmp_path / "doses.csv", DOSES_HEADER,
                  "101-001,prednisone, 12.500 ,QD,PO,2026-02-01,2026-02-03",
                  "101-001,prednisone,007.125,QD,PO,2026-02-04,")
    import_files(context(enrolled, "nurse"), study, doses=doses)
    with UnitOfWork(enrolled, write=False) as uow:
        record = load_patient(uow.session, "101-001")
    assert [d.dose_ug for d in sorted(record.doses, key=lambda d: d.start_date)] == [12_500,
                                                                                    7_125]


@pytest.mark.parametrize("value", ["1_0", "٥", "+5", "5e0", "9" * 5000])
def test_a_setting_is_plain_digits_too(db, value):
    from taper_app.services.errors import ValidationError
    from taper_app.services.settings import set_setting

    with pytest.raises(ValidationError, match="is not a whole number"):
        set_setting(context(db, "admin"), "lockout_minutes", value, "policy")
