"""Comments, reasons, notes and query texts hold at most MAX_TEXT_LENGTH (5,000) characters:
one more is refused at its field with the length said, and nothing is written (every
service, the import; SQLite and PostgreSQL). Exactly 5,000 is kept whole."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from taper_app.services import accounts, participation, queries
from taper_app.services.errors import ValidationError
from taper_app.services.imports import import_files
from taper_app.services.patients import (
    amend_patient_schedule,
    correct_dose,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.records import load_patient
from taper_app.services.settings import set_setting
from taper_app.services.validation import MAX_TEXT_LENGTH
from taper_app.storage.engine import Database
from taper_app.storage.models import AuditEntry
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context
from tests.unit.services.test_imports import (
    DOSES_HEADER,
    PATIENTS_HEADER,
    only_problem,
    refused,
    write,
)

LONGEST = "x" * (MAX_TEXT_LENGTH - 4) + " end"
TOO_LONG = "y" * (MAX_TEXT_LENGTH + 1)
DOSE = {"drug": "prednisone", "dose_mg": "15", "frequency": "QD", "route": "PO",
        "start_date": "2026-02-01", "end_date": ""}


def audit_rows(db: Database) -> int:
    with UnitOfWork(db, write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
def one_dose(db, study, nurse) -> int:
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    return record_dose(nurse, study, "101-001", {**DOSE, "start_date": "2026-01-01",
                                                 "dose_mg": "20"}).record_id


def refusal(db: Database, call: Callable[[], object]) -> tuple[str, str]:
    """Run ``call``; assert it is refused and wrote nothing; return (field, message)."""
    before = audit_rows(db)
    with pytest.raises(ValidationError) as caught:
        call()
    assert audit_rows(db) == before
    [problem] = caught.value.problems
    return problem.field, problem.message


CASES: dict[str, Callable[..., object]] = {
    "comment": lambda db, study, record: record_dose(
        context(db, "nurse"), study, "101-001", {**DOSE, "comment": TOO_LONG}),
    "deviation_reason": lambda db, study, record: record_dose(
        context(db, "nurse"), study, "101-001", {**DOSE, "deviation_reason": TOO_LONG}),
    "void reason": lambda db, study, record: void_dose(context(db, "nurse"), record, TOO_LONG),
    "correct reason": lambda db, study, record: correct_dose(
        context(db, "nurse"), study, record, TOO_LONG, {**DOSE, "start_date": "2026-01-01"}),
    "amend reason": lambda db, study, record: amend_patient_schedule(
        context(db, "investigator"), study, "101-001",
        {"day": "60", "dose_mg": "10", "reason": TOO_LONG}),
    "end reason": lambda db, study, record: participation.end_participation(
        context(db, "investigator"), "101-001", date(2026, 2, 20), "adverse_event", TOO_LONG),
    "query text": lambda db, study, record: queries.open_query(
        context(db, "monitor"), "101-001", TOO_LONG),
    "deactivation reason": lambda db, study, record: accounts.deactivate_user(
        context(db, "admin"), "monitor", TOO_LONG),
    "setting reason": lambda db, study, record: set_setting(
        context(db, "admin"), "lockout_minutes", "20", TOO_LONG),
}


@pytest.mark.parametrize("case", CASES)
def test_one_character_over_the_limit_is_refused_saying_the_length(db, study, one_dose, case):
    field, message = refusal(db, lambda: CASES[case](db, study, one_dose))
    assert field in ("comment", "deviation_reason", "reason", "text")
    assert f"is {MAX_TEXT_LENGTH + 1:,} characters long; at most {MAX_TEXT_LENGTH:,}" in message


def test_exactly_the_limit_is_kept_whole(db, study, nurse, investigator, one_dose):
    record_dose(nurse, study, "101-001", {**DOSE, "comment": LONGEST})
    void_dose(nurse, one_dose, LONGEST)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "60", "dose_mg": "10", "reason": LONGEST})
    with UnitOfWork(db, write=False) as uow:
        record = load_patient(uow.session, "101-001")
    assert [d.comment for d in record.doses if d.comment] == [LONGEST]
    assert [d.void_reason for d in record.doses if d.void_reason] == [LONGEST]
    assert [a.reason for a in record.amendments] == [LONGEST]


def test_the_import_refuses_a_long_comment_or_note_at_its_line_and_column(db, study, one_dose,
                                                                          tmp_path: Path):
    doses = write(tmp_path / "doses.csv", DOSES_HEADER + ",comment",
                  f"101-001,prednisone,15,QD,PO,2026-02-01,,{TOO_LONG}")
    message = only_problem(refused(db, study, doses=doses), doses, 2, "comment")
    assert f"{MAX_TEXT_LENGTH + 1:,} characters" in message
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER + ",notes",
                     f"101-009,101,2026-01-05,20,stepdown-a,{TOO_LONG}")
    message = only_problem(refused(db, study, patients=patients), patients, 2, "notes")
    assert f"{MAX_TEXT_LENGTH + 1:,} characters" in message
    ok = write(tmp_path / "ok.csv", DOSES_HEADER + ",comment",
               f"101-001,prednisone,15,QD,PO,2026-02-01,,{LONGEST}")
    import_files(context(db, "nurse"), study, doses=ok)
