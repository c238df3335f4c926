"""CSV import (interfaces.md, "Import files"): every class of bad input, all or nothing.

Each refused import must name the problem as ``FILE:LINE: column: message`` (the header
is line 1) and leave the database exactly as it was: no patient, dose record, amendment,
schedule step or audit row written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from taper_app.domain.schedule import generate_schedule
from taper_app.services.errors import PermissionDenied, ValidationError
from taper_app.services.imports import import_files
from taper_app.services.records import load_patient
from taper_app.services.study import StudyInfo
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import NOW, TODAY, context

TOMORROW = (TODAY + timedelta(days=1)).isoformat()
PATIENTS_HEADER = "subject_id,site,day1_date,baseline_mg,template_id"
DOSES_HEADER = "subject_id,drug,dose_mg,frequency,route,start_date,end_date"
AMENDMENTS_HEADER = "subject_id,day,dose_mg,reason"
GOOD_PATIENT = "101-001,101,2026-01-05,20,stepdown-a"
GOOD_DOSE = "101-001,prednisone,20,QD,PO,2026-01-05,"
COUNTED: tuple[Table, ...] = tuple(m.__table__ for m in (  # type: ignore[misc]
    models.Patient, models.DoseRecordRow, models.Amendment, models.ScheduleStepRow,
    models.AuditEntry, models.Site))


#: Refused before anything is written, whatever the database: one backend is enough for these.
validation_only = pytest.mark.sqlite_only


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def table_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in COUNTED}


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order: a refused import must change none of them."""
    with db.engine.connect() as conn:
        return {table.name: [tuple(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in models.Base.metadata.sorted_tables}


def refused(db: Database, study: StudyInfo, role: str = "nurse", **files: Path) -> list[str]:
    """Import ``files``; assert it is refused and nothing changed; return the problems."""
    counts, rows = table_counts(db), snapshot(db)
    with pytest.raises(ValidationError) as excinfo:
        import_files(context(db, role), study, **files)
    assert table_counts(db) == counts, "a refused import wrote to the database"
    assert snapshot(db) == rows
    return [str(p) for p in excinfo.value.problems]


def only_problem(problems: Sequence[str], path: Path, line: int, column: str) -> str:
    """The single problem; assert its exact ``FILE:LINE: column: `` form; return the message."""
    assert len(problems) == 1, problems
    prefix = f"{path}:{line}: {column}: "
    assert problems[0].startswith(prefix), (problems[0], prefix)
    return problems[0][len(prefix):]


@pytest.fixture
def enrolled(db: Database, study: StudyInfo, tmp_path: Path) -> Database:
    """The study with patient 101-001 already enrolled (for doses and amendments files)."""
    import_files(context(db, "nurse"), study,
                 patients=write(tmp_path / "enrolled.csv", PATIENTS_HEADER, GOOD_PATIENT))
    return db


# ---------------------------------------------------------------- bad doses

@validation_only
@pytest.mark.parametrize(("cells", "column", "words"), [
    ("101-001,aspirin,20,QD,PO,2026-01-05,", "drug", "unknown drug 'aspirin'"),
    ("101-001,budesonide,9,QD,PO,2026-01-05,", "drug", "out of scope"),
    ("101-001,prednisone,20,Q8H,PO,2026-01-05,", "frequency", "'Q8H' is not one of"),
    ("101-001,prednisone,20,QD,XX,2026-01-05,", "route", "'XX' is not one of"),
    ("999-999,prednisone,20,QD,PO,2026-01-05,", "subject_id", "unknown subject '999-999'"),
    ("101-001,prednisone,-5,QD,PO,2026-01-05,", "dose_mg", "negative"),
    ("101-001,prednisone,ten,QD,PO,2026-01-05,", "dose_mg", "'ten' is not a number"),
    ("101-001,prednisone,,QD,PO,2026-01-05,", "dose_mg", "is required"),
    ("101-001,prednisone,2.0005,QD,PO,2026-01-05,", "dose_mg", "more than 3 decimals"),
    # 2,500 mg methylprednisolone x 1.25 = 3,125 mg PEQ in one day: over 2,000.
    ("101-001,methylprednisolone,2500,ONCE,IV,2026-01-05,", "dose_mg", "3,125.0 mg"),
    # 1,001 mg prednisone BID = 2,002 mg PEQ a day.
    ("101-001,prednisone,1001,BID,PO,2026-01-05,", "dose_mg", "2,002.0 mg"),
    ("101-001,prednisone,20,QD,PO,2026-02-01,2026-01-31", "end_date",
     "2026-01-31 is before the start date 2026-02-01"),
    ("101-001,prednisone,20,QD,PO,1899-12-31,", "start_date", "1899-12-31 is before 1900"),
    # The day after TODAY (the injected date) is in the future.
    (f"101-001,prednisone,20,QD,PO,{TOMORROW},", "start_date", f"{TOMORROW} is in the future"),
    (f"101-001,prednisone,20,QD,PO,2026-06-01,{TOMORROW}", "end_date", "in the future"),
    ("101-001,prednisone,20,QD,PO,05/01/2026,", "start_date", "is not a date (YYYY-MM-DD)"),
    ("101-001,prednisone,20,QD,PO,2026-02-30,", "start_date", "is not a real date"),
    ("101-001,methylprednisolone,500,ONCE,IV,2026-02-01,2026-02-03", "end_date",
     "a ONCE dose has no end date"),
])
def test_a_bad_dose_row_is_reported_with_file_line_and_column_and_nothing_is_written(
        enrolled: Database, study: StudyInfo, tmp_path: Path, cells: str, column: str,
        words: str) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE, cells)
    message = only_problem(refused(enrolled, study, doses=doses), doses, 3, column)
    assert words in message


@validation_only
def test_a_bad_source_is_reported(enrolled: Database, study: StudyInfo, tmp_path: Path) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER + ",source",
                  GOOD_DOSE + ",clinic", "101-001,prednisone,20,QD,PO,2026-02-01,,pharmacy")
    message = only_problem(refused(enrolled, study, doses=doses), doses, 3, "source")
    assert "'pharmacy'" in message


@validation_only
def test_every_problem_of_every_row_is_reported_not_just_the_first(
        enrolled: Database, study: StudyInfo, tmp_path: Path) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER,
                  "101-001,aspirin,-1,Q8H,XX,2026-01-05,",
                  GOOD_DOSE,
                  "999-999,prednisone,20,QD,PO,2026-02-01,2026-01-31")
    problems = refused(enrolled, study, doses=doses)
    where = sorted(p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems)
    assert where == sorted([
        f"{doses}:2: drug", f"{doses}:2: dose_mg", f"{doses}:2: frequency",
        f"{doses}:2: route", f"{doses}:4: subject_id", f"{doses}:4: end_date"])


@validation_only
@pytest.mark.parametrize("cells", [
    # 1,000 mg methylprednisolone IV once = 1,250 mg PEQ: a real pulse, not absurd.
    "101-001,methylprednisolone,1000,ONCE,IV,2026-02-01,",
    # exactly 2,000 mg PEQ is the limit, not over it
    "101-001,prednisone,1000,BID,PO,2026-02-01,2026-02-01",
    "101-001,dexamethasone,300,QD,IV,2026-02-01,2026-02-01",
    "101-001,prednisone,0,QD,PO,2026-02-02,2026-02-03",
    "101-001,PREDNISONE,5,qod,po,1900-01-01,1900-01-02",
])
def test_plausible_doses_are_accepted(enrolled: Database, study: StudyInfo, tmp_path: Path,
                                      cells: str) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, cells)
    result = import_files(context(enrolled, "nurse"), study, doses=doses)
    assert result.doses == 1


# ---------------------------------------------------------------- bad patients

@validation_only
@pytest.mark.parametrize(("cells", "column", "words"), [
    ("101-002,101,2026-01-05,20,no-such-template", "template_id",
     "unknown template 'no-such-template'"),
    ("101-002,101,2026-01-05,0,stepdown-a", "baseline_mg", "must be more than 0"),
    ("101-002,101,2026-01-05,-20,stepdown-a", "baseline_mg", "negative"),
    ("101-002,101,2026-01-05,twenty,stepdown-a", "baseline_mg", "not a number"),
    ("101-002,101,2026-01-05,2001,stepdown-a", "baseline_mg", "not plausible"),
    ("101-002,101,1899-12-31,20,stepdown-a", "day1_date", "before 1900"),
    ("101-002,101,2026-07-03,20,stepdown-a", "day1_date", "in the future"),
    ("101-002,101,,20,stepdown-a", "day1_date", "is required"),
    ("101 002,101,2026-01-05,20,stepdown-a", "subject_id", "is not a subject id"),
    ("101-002,,2026-01-05,20,stepdown-a", "site", "is not a site code"),
])
def test_a_bad_patient_row_is_reported_and_nothing_is_written(
        db: Database, study: StudyInfo, tmp_path: Path, cells: str, column: str,
        words: str) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT, cells)
    message = only_problem(refused(db, study, patients=patients), patients, 3, column)
    assert words in message


def test_a_subject_id_twice_in_the_file_is_refused(db: Database, study: StudyInfo,
                                                   tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT,
                     "101-002,101,2026-01-05,20,stepdown-a", "101-001,102,2026-02-05,10,table-12wk")
    message = only_problem(refused(db, study, patients=patients), patients, 4, "subject_id")
    assert message == "duplicate subject id '101-001' (first on line 2)"


def test_a_subject_id_already_in_the_database_is_refused(enrolled: Database, study: StudyInfo,
                                                         tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER,
                     "101-002,101,2026-01-05,20,stepdown-a", GOOD_PATIENT)
    message = only_problem(refused(enrolled, study, patients=patients), patients, 3,
                           "subject_id")
    assert message == "'101-001' is already enrolled"


# ---------------------------------------------------------------- bad amendments

@validation_only
@pytest.mark.parametrize(("cells", "column", "words"), [
    ("999-999,57,15,Flare", "subject_id", "unknown subject '999-999'"),
    ("101-001,fifty,15,Flare", "day", "is not a whole study day"),
    ("101-001,0,15,Flare", "day", "is not a study day"),
    ("101-001,57,-15,Flare", "dose_mg", "negative"),
    ("101-001,57,lots,Flare", "dose_mg", "not a number"),
    ("101-001,57,2500,Flare", "dose_mg", "not plausible"),
    ("101-001,57,15,", "reason", "a reason is required"),
])
def test_a_bad_amendment_row_is_reported_and_nothing_is_written(
        enrolled: Database, study: StudyInfo, tmp_path: Path, cells: str, column: str,
        words: str) -> None:
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER,
                       "101-001,43,20,Flare: CK up", cells)
    problems = refused(enrolled, study, role="investigator", amendments=amendments)
    assert words in only_problem(problems, amendments, 3, column)


# ---------------------------------------------------------------- the file itself

@validation_only
def test_latin_1_bytes_are_refused_as_not_utf8(db: Database, study: StudyInfo,
                                               tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_bytes((PATIENTS_HEADER + ",notes\n" + GOOD_PATIENT + ",ok\n"
                          + "101-002,101,2026-01-05,20,stepdown-a,Patient aus München\n"
                          ).encode("latin-1"))
    message = only_problem(refused(db, study, patients=patients), patients, 3, "file")
    assert "is not UTF-8" in message


@validation_only
def test_a_binary_file_is_refused(db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    message = only_problem(refused(db, study, patients=patients), patients, 1, "file")
    assert "UTF-8" in message or "NUL" in message


@validation_only
def test_nul_bytes_in_ascii_are_refused(db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_bytes((PATIENTS_HEADER + "\n" + GOOD_PATIENT + "\x00\n").encode())
    message = only_problem(refused(db, study, patients=patients), patients, 1, "file")
    assert "NUL" in message


@validation_only
def test_an_empty_file_is_refused(db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_bytes(b"")
    message = only_problem(refused(db, study, patients=patients), patients, 1, "file")
    assert "empty" in message


@validation_only
def test_a_missing_file_is_refused(db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = tmp_path / "nowhere.csv"
    message = only_problem(refused(db, study, patients=patients), patients, 1, "file")
    assert "cannot be read" in message


@validation_only
def test_an_unknown_column_is_refused_on_the_header_line(db: Database, study: StudyInfo,
                                                         tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER + ",arm",
                     GOOD_PATIENT + ",active")
    message = only_problem(refused(db, study, patients=patients), patients, 1, "arm")
    assert message.startswith("unknown column")


@validation_only
def test_a_missing_required_column_is_refused_on_the_header_line(
        enrolled: Database, study: StudyInfo, tmp_path: Path) -> None:
    doses = write(tmp_path / "doses.csv", "subject_id,drug,dose_mg,frequency,start_date,end_date",
                  "101-001,prednisone,20,QD,2026-01-05,")
    problems = refused(enrolled, study, doses=doses)
    assert f"{doses}:1: route: required column is missing" in problems


@validation_only
def test_a_column_named_twice_is_refused(db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER + ",site", GOOD_PATIENT + ",102")
    message = only_problem(refused(db, study, patients=patients), patients, 1, "file")
    assert "appears twice" in message


@validation_only
def test_a_row_with_too_many_fields_is_refused(db: Database, study: StudyInfo,
                                               tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT + ",extra")
    message = only_problem(refused(db, study, patients=patients), patients, 2, "row")
    assert "6 fields" in message


@validation_only
def test_line_numbers_count_blank_lines_and_the_header(enrolled: Database, study: StudyInfo,
                                                       tmp_path: Path) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE, "", "",
                  "101-001,aspirin,20,QD,PO,2026-02-01,")
    only_problem(refused(enrolled, study, doses=doses), doses, 5, "drug")


@validation_only
def test_a_quoted_field_over_two_lines_keeps_the_physical_line_numbers(
        enrolled: Database, study: StudyInfo, tmp_path: Path) -> None:
    doses = write(tmp_path / "doses.csv", DOSES_HEADER + ",comment",
                  GOOD_DOSE + ',"diary says:', 'took it with food"',
                  "101-001,prednisone,20,QD,PO,2026-02-01,2026-01-01,")
    only_problem(refused(enrolled, study, doses=doses), doses, 4, "end_date")


# ---------------------------------------------------------------- all or nothing

def test_a_bad_amendment_means_good_patients_and_doses_are_not_imported_either(
        db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT)
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE)
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER, "101-001,57,15,")
    problems = refused(db, study, role="investigator", patients=patients, doses=doses,
                       amendments=amendments)
    only_problem(problems, amendments, 2, "reason")


def test_a_bad_dose_means_the_good_patients_file_is_not_imported(
        db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT,
                     "101-002,101,2026-01-05,10,table-12wk")
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE,
                  "101-002,prednisone,abc,QD,PO,2026-01-05,")
    only_problem(refused(db, study, patients=patients, doses=doses), doses, 3, "dose_mg")


def test_a_role_that_may_not_import_is_refused_and_nothing_is_written(
        db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT)
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER, "101-001,57,15,Flare")
    before = table_counts(db)
    with pytest.raises(PermissionDenied):
        import_files(context(db, "monitor"), study, patients=patients)
    with pytest.raises(PermissionDenied):
        import_files(context(db, "admin"), study, patients=patients)
    with pytest.raises(PermissionDenied):  # a nurse may import data but not amend a schedule
        import_files(context(db, "nurse"), study, patients=patients, amendments=amendments)
    assert table_counts(db) == before


# ---------------------------------------------------------------- good imports

def test_column_order_is_free_and_optional_columns_are_read(db: Database, study: StudyInfo,
                                                            tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv",
                     "template_id,notes,baseline_mg,kit_number,day1_date,site,subject_id",
                     "stepdown-a,first patient,20,K-0001,2026-01-05,101,101-001")
    doses = write(tmp_path / "doses.csv",
                  "comment,end_date,start_date,route,frequency,dose_mg,drug,source,subject_id",
                  "run-in,2026-01-04,2025-12-20,PO,QD,20,Prednisone,diary,101-001",
                  ",,2026-01-05,po,bid,2.5,methylprednisolone,clinic,101-001")
    result = import_files(context(db, "nurse"), study, patients=patients, doses=doses)
    assert (result.patients, result.doses, result.amendments) == (1, 2, 0)
    with UnitOfWork(db, write=False) as uow:
        record = load_patient(uow.session, "101-001")
    assert (record.site, record.day1_date.isoformat(), record.baseline_ug, record.template_id,
            record.kit_number, record.notes) == ("101", "2026-01-05", 20_000, "stepdown-a",
                                                 "K-0001", "first patient")
    run_in, ongoing = record.doses
    assert (run_in.drug, run_in.dose_ug, run_in.source, run_in.comment,
            run_in.end_date.isoformat() if run_in.end_date else None) == (
        "prednisone", 20_000, "diary", "run-in", "2026-01-04")
    assert (ongoing.drug, ongoing.dose_ug, ongoing.frequency, ongoing.route) == (
        "methylprednisolone", 2_500, "BID", "PO")
    # an empty end_date means the record is ongoing
    assert ongoing.end_date is None
    assert ongoing.source == "clinic" and ongoing.comment is None


@validation_only
def test_a_utf8_file_with_a_byte_order_mark_and_crlf_lines_is_read(
        db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_bytes(("\ufeff" + PATIENTS_HEADER + ",notes\r\n" + GOOD_PATIENT
                          + ",Patient aus München\r\n").encode("utf-8"))
    assert import_files(context(db, "nurse"), study, patients=patients).patients == 1
    with UnitOfWork(db, write=False) as uow:
        assert load_patient(uow.session, "101-001").notes == "Patient aus München"


def test_doses_may_name_patients_from_the_same_import(db: Database, study: StudyInfo,
                                                      tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT)
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE)
    amendments = write(tmp_path / "amendments.csv", AMENDMENTS_HEADER,
                       "101-001,43,20,Flare: CK rising")
    result = import_files(context(db, "investigator"), study, patients=patients, doses=doses,
                          amendments=amendments)
    assert (result.patients, result.doses, result.amendments) == (1, 1, 1)
    with UnitOfWork(db, write=False) as uow:
        record = load_patient(uow.session, "101-001")
    # the stored schedule is the template's, amended from Day 43 to 20 mg
    generated = generate_schedule(study.templates["stepdown-a"], Decimal(20))
    assert [(s.day, s.dose_mg) for s in record.steps if s.day < 43] == [
        (s.day, s.dose_mg) for s in generated if s.day < 43]
    assert (record.steps[1].day, record.steps[1].dose_mg) == (43, Decimal(20))
    assert record.amendments[0].reason == "Flare: CK rising"
    assert record.amendments[0].created_by == "investigator"


def test_a_good_import_writes_audit_rows_as_the_importing_user(
        db: Database, study: StudyInfo, tmp_path: Path) -> None:
    patients = write(tmp_path / "patients.csv", PATIENTS_HEADER, GOOD_PATIENT)
    doses = write(tmp_path / "doses.csv", DOSES_HEADER, GOOD_DOSE)
    audit = models.AuditEntry.__table__
    with db.engine.connect() as conn:
        last = conn.execute(select(func.max(audit.c.id))).scalar_one()
    import_files(context(db, "nurse"), study, patients=patients, doses=doses)
    with db.engine.connect() as conn:
        rows = conn.execute(select(
            audit.c.username, audit.c.at_utc, audit.c.action, audit.c.entity,
            audit.c.entity_id, audit.c.subject_id, audit.c.field, audit.c.old_value,
            audit.c.new_value).where(audit.c.id > last).order_by(audit.c.id)).all()
    assert rows, "a good import wrote no audit rows"
    assert {r[0] for r in rows} == {"nurse"}
    assert {r[1] for r in rows} == {NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    by_field = {(r[2], r[6]): tuple(r) for r in rows}
    assert by_field[("enroll", "baseline_mg")][3:] == ("patient", "101-001", "101-001",
                                                      "baseline_mg", None, "20")
    assert by_field[("enroll", "template_id")][8] == "stepdown-a"
    assert by_field[("record_dose", "drug")][5] == "101-001"
    assert by_field[("record_dose", "dose_mg")][7:] == (None, "20")
    assert by_field[("record_dose", "start_date")][8] == "2026-01-05"
