"""A doses file longer than one write batch: the same rows, audit rows and chain as a save
would write, all or nothing across batches, and the bulk writer's pieces held to the
definitions they speed up (the audit trail's canonical form, the stored column values)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from taper_app.services import imports
from taper_app.services.audit import HASHED_FIELDS, canonical_form, verify_chain
from taper_app.services.imports import import_files
from taper_app.services.patients import record_dose
from taper_app.services.records import load_patient
from taper_app.storage.engine import Database
from taper_app.storage.models import AuditEntry, DoseRecordRow, Patient
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context
from tests.unit.services.test_imports import (
    DOSES_HEADER,
    GOOD_PATIENT,
    PATIENTS_HEADER,
    refused,
    write,
)

DAY1 = date(2024, 1, 1)


def diary(path: Path, subjects: list[str], days: int, *, extra: list[str] = ()) -> Path:
    """A daily diary of ``days`` rows per subject, every fifth with a comment."""
    lines = [DOSES_HEADER + ",source,comment"]
    for subject in subjects:
        for k in range(days):
            when = (DAY1 + timedelta(days=k)).isoformat()
            comment = f'"took it late, day {k}"' if k % 5 == 0 else ""
            lines.append(f"{subject},prednisone,{20 - k % 4 * 2.5:g},QD,PO,{when},{when},"
                         f"diary,{comment}")
    return write(path, *lines, *extra)


@pytest.fixture
def three_patients(db: Database, study, tmp_path: Path) -> list[str]:
    subjects = ["101-001", "101-002", "102-001"]
    rows = [GOOD_PATIENT.replace("101-001", s).replace(",101,", f",{s[:3]},")
            .replace("2026-01-05", DAY1.isoformat()) for s in subjects]
    import_files(context(db, "nurse"), study,
                 patients=write(tmp_path / "patients.csv", PATIENTS_HEADER, *rows))
    return subjects


def stored_doses(db: Database) -> list[tuple[object, ...]]:
    with UnitOfWork(db, write=False) as uow:
        return [tuple(r) for r in uow.session.execute(select(
            Patient.subject_id, DoseRecordRow.drug, DoseRecordRow.dose_ug,
            DoseRecordRow.frequency, DoseRecordRow.route, DoseRecordRow.start_date,
            DoseRecordRow.end_date, DoseRecordRow.source, DoseRecordRow.comment,
            DoseRecordRow.created_by, DoseRecordRow.voided, DoseRecordRow.version)
            .join(Patient).order_by(DoseRecordRow.id))]


def test_a_file_of_many_batches_is_written_whole_with_its_audit_rows_and_chain(
        db: Database, study, tmp_path: Path, three_patients: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "DOSE_BATCH", 97)  # many batches, the last one short
    monkeypatch.setattr(imports, "LIMIT_CHECK_PATIENTS", 2)
    doses = diary(tmp_path / "doses.csv", three_patients, 150)
    result = import_files(context(db, "nurse"), study, doses=doses)
    assert result.doses == 450
    rows = stored_doses(db)
    assert len(rows) == 450
    # File order kept; each row as the file says, in micrograms, stored as a save stores it.
    assert rows[0] == ("101-001", "prednisone", 20_000, "QD", "PO", DAY1, DAY1, "diary",
                       "took it late, day 0", "nurse", False, 1)
    assert rows[151][0] == "101-002" and rows[151][2] == 17_500 and rows[151][8] is None
    with UnitOfWork(db, write=False) as uow:
        check = verify_chain(uow.session)  # json.dumps' canonical form checks add_fields_many's
        assert check.ok, check.problem
        ids = list(uow.session.scalars(select(DoseRecordRow.id).order_by(DoseRecordRow.id)))
        audited = uow.session.execute(
            select(AuditEntry.entity_id, func.count()).where(
                AuditEntry.action == "record_dose").group_by(AuditEntry.entity_id)).all()
        # drug, dose_mg, frequency, route, start_date, end_date, source (+ comment)
        assert {int(e): n for e, n in audited} == {
            i: 8 if k % 150 % 5 == 0 else 7 for k, i in enumerate(ids)}
        record = load_patient(uow.session, "102-001")
    assert len(record.doses) == 150 and record.doses[-1].start_date == DAY1 + timedelta(149)


def test_the_import_writes_the_audit_rows_a_save_writes(db: Database, study, tmp_path: Path,
                                                        three_patients: list[str]) -> None:
    record_dose(context(db, "nurse"), study, "101-001", {
        "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2024-01-01", "end_date": "2024-01-01", "source": "diary",
        "comment": "took it late, day 0"})
    import_files(context(db, "nurse"), study, doses=diary(tmp_path / "d.csv", ["101-002"], 1))
    with UnitOfWork(db, write=False) as uow:
        rows = uow.session.execute(select(
            AuditEntry.entity_id, AuditEntry.field, AuditEntry.old_value, AuditEntry.new_value,
            AuditEntry.reason, AuditEntry.subject_id, AuditEntry.username)
            .where(AuditEntry.action == "record_dose").order_by(AuditEntry.id)).all()
    saved = [r[1:4] for r in rows if r[5] == "101-001"]
    imported = [r[1:4] for r in rows if r[5] == "101-002"]
    assert saved == imported and len(saved) == 8
    assert {r[4] for r in rows if r[5] == "101-002"} == {"import"}


def test_a_day_over_the_limit_in_the_last_batch_leaves_nothing_of_the_earlier_ones(
        db: Database, study, tmp_path: Path, three_patients: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "DOSE_BATCH", 50)
    last = (DAY1 + timedelta(days=99)).isoformat()
    doses = diary(tmp_path / "doses.csv", three_patients, 100, extra=[
        f"102-001,methylprednisolone,1600,ONCE,IV,{last},,clinic,pulse"])  # 2,000 + 12.5 mg
    problems = refused(db, study, doses=doses)
    # Both new records of that day are named, the diary's and the pulse, as a save would.
    why = (f"with the patient's other records, {last} would total 2,012.5 mg "
           "prednisone-equivalent; over 2,000 mg in one day is not plausible")
    assert problems == [f"{doses}:301: dose_mg: {why}", f"{doses}:302: dose_mg: {why}"]
    assert stored_doses(db) == []


def test_a_bad_row_far_down_the_file_is_found_and_nothing_is_written(
        db: Database, study, tmp_path: Path, three_patients: list[str]) -> None:
    doses = diary(tmp_path / "doses.csv", three_patients, 400,
                  extra=["101-001,prednisone,20,QD,PO,2024-13-01,,diary,"])
    problems = refused(db, study, doses=doses)
    assert problems == [f"{doses}:1202: start_date: '2024-13-01' is not a real date"]


@pytest.mark.sqlite_only
def test_a_file_that_stops_being_utf8_far_down_is_refused_at_the_right_line(
        db: Database, study, tmp_path: Path, three_patients: list[str]) -> None:
    doses = diary(tmp_path / "doses.csv", three_patients, 400)
    good = doses.read_bytes()
    doses.write_bytes(good + "101-001,prednisone,20,QD,PO,2024-01-01,,diary,Müller\n"
                      .encode("latin-1"))
    problems = refused(db, study, doses=doses)
    byte = len(good) + len("101-001,prednisone,20,QD,PO,2024-01-01,,diary,M") + 1
    assert problems == [f"{doses}:1202: file: is not UTF-8 text (byte {byte}); save it as "
                        "CSV UTF-8"]


# ---------------------------------------------------------------- the canonical form

texts = st.one_of(st.none(), st.text(), st.sampled_from(["", "é", '"', "\\", "\u2028", "\x00"]))


@settings(max_examples=300, deadline=None)
@given(values=st.fixed_dictionaries({
    "id": st.integers(0, 2**63), "at_utc": st.text(), "username": st.text(),
    "action": st.text(), "entity": st.text(), "entity_id": st.text(), "subject_id": texts,
    "field": st.text(), "old_value": texts, "new_value": texts, "reason": texts}))
def test_the_canonical_form_is_json_dumps_character_for_character(values) -> None:
    expected = json.dumps({k: values[k] for k in HASHED_FIELDS}, sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))
    assert canonical_form(values) == expected
