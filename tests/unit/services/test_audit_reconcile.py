"""The audit trail proves itself: the data agree with it, and its head, kept outside the
database, tells a rollback, a truncation or a rewrite.

Every attack here is made as someone holding the file (or the database login) would: the
guarding triggers are dropped first, then plain SQL changes the tables.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from taper_app.services.accounts import change_role
from taper_app.services.audit import (
    GENESIS_HASH,
    HASHED_FIELDS,
    holds_head,
    parse_head,
    row_hash,
    trail_head,
    verify_chain,
)
from taper_app.services.audit_reconcile import Discrepancy, reconcile
from taper_app.services.patients import (
    amend_patient_schedule,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.signatures import sign_record
from taper_app.services.study import StudyInfo, add_user
from taper_app.storage.engine import Database, open_database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context

GUARDS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_log_no_update",
               "DROP TRIGGER IF EXISTS audit_log_no_delete",
               "DROP TRIGGER IF EXISTS dose_record_no_delete",
               "DROP TRIGGER IF EXISTS signature_no_update",
               "DROP TRIGGER IF EXISTS signature_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
                   "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                   "DROP TRIGGER IF EXISTS dose_record_no_delete ON dose_record",
                   "DROP TRIGGER IF EXISTS signature_no_change ON signature"],
}


def history(db: Database, study: StudyInfo) -> dict[str, int]:
    """A patient with doses, a void, an amendment and a signature; a user with a site."""
    nurse, investigator, admin = (context(db, r) for r in ("nurse", "investigator", "admin"))
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    first = record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": ""}).record_id
    second = record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "17.5", "frequency": "QD", "route": "PO",
        "start_date": "2026-02-02", "end_date": "", "comment": "from the diary"}).record_id
    wrong = record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "5", "frequency": "ONCE", "route": "PO",
        "start_date": "2026-02-03", "end_date": ""}).record_id
    void_dose(nurse, wrong, "entered for the wrong patient")
    amend_patient_schedule(investigator, study, "101-001", {
        "day": "40", "dose_mg": "15", "reason": "flare at the visit"})
    sign_record(investigator, "101-001", date(2026, 2, 10), "reviewed", PASSWORD)
    add_user(admin, "nurse2", "nurse", "Second Nurse", "first-password", sites=["101"])
    return {"first": first, "second": second, "wrong": wrong}


@pytest.fixture
def busy(db: Database, study: StudyInfo) -> tuple[Database, dict[str, int]]:
    return db, history(db, study)


def attack(db: Database, *statements: str) -> None:
    """Drop the guarding triggers, then run the statements, as the file's owner could."""
    with db.engine.begin() as conn:
        for sql in GUARDS[db.engine.dialect.name] + list(statements):
            conn.execute(text(sql))


def found(db: Database) -> list[Discrepancy]:
    with UnitOfWork(db, write=False) as uow:
        return reconcile(uow.session)


def where(db: Database) -> set[tuple[str, str, str]]:
    return {(d.table, d.row_id, d.field) for d in found(db)}


def head(db: Database) -> tuple[int, str]:
    with UnitOfWork(db, write=False) as uow:
        mark = trail_head(uow.session)
    return mark.rows, mark.hash


def still_holds(db: Database, rows: int, digest: str) -> bool:
    with UnitOfWork(db, write=False) as uow:
        return holds_head(uow.session, rows, digest[:16])


def chain_ok(db: Database) -> bool:
    with UnitOfWork(db, write=False) as uow:
        return verify_chain(uow.session).ok


def rechain(db: Database) -> None:
    """What a careful attacker does after deleting rows: renumber and rehash the whole trail
    and move the head row to match, so the chain verifies again."""
    with db.engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(
            "SELECT * FROM audit_log ORDER BY id"))]
        conn.execute(text("DELETE FROM audit_log"))
        prev = GENESIS_HASH
        for number, r in enumerate(rows, start=1):
            r["id"] = number
            r["prev_hash"] = prev
            r["row_hash"] = prev = row_hash(prev, {k: r[k] for k in HASHED_FIELDS})
            conn.execute(text(
                f"INSERT INTO audit_log ({', '.join(r)}) VALUES "
                f"({', '.join(':' + k for k in r)})"), r)
        conn.execute(text("UPDATE audit_head SET last_id = :n, last_hash = :h"),
                     {"n": len(rows), "h": prev})


# ---------------------------------------------------------------- the data agree

def test_an_untouched_study_agrees_with_its_trail(busy):
    db, _ = busy
    assert found(db) == []
    assert chain_ok(db)


def test_an_edited_dose_row_is_reported_by_table_id_and_field(busy):
    db, ids = busy
    attack(db, f"UPDATE dose_record SET dose_ug = 5000 WHERE id = {ids['second']}")
    assert chain_ok(db)  # the chain alone cannot see it
    assert where(db) == {("dose_record", str(ids["second"]), "dose_mg")}
    [problem] = found(db)
    assert "is '5' but the audit trail last recorded '17.5'" in str(problem)


def test_an_unvoided_record_and_an_edited_comment_are_reported(busy):
    db, ids = busy
    attack(db, f"UPDATE dose_record SET voided = false WHERE id = {ids['wrong']}",
           f"UPDATE dose_record SET comment = 'changed' WHERE id = {ids['second']}")
    assert where(db) == {("dose_record", str(ids["wrong"]), "voided"),
                         ("dose_record", str(ids["second"]), "comment")}


def test_a_dose_added_outside_the_application_has_no_history(busy):
    db, _ = busy
    attack(db, "INSERT INTO dose_record (patient_id, drug, dose_ug, frequency, route, "
               "start_date, created_at, created_by, voided, version) SELECT id, 'prednisone', "
               "5000, 'QD', 'PO', '2026-03-01', '2026-03-01', 'nurse', false, 1 FROM patient")
    [problem] = found(db)
    assert problem.table == "dose_record" and "no audit history" in problem.problem


def test_a_deleted_dose_is_reported_as_removed(busy):
    db, ids = busy
    attack(db, f"DELETE FROM dose_record WHERE id = {ids['wrong']}")
    [problem] = found(db)
    assert (problem.table, problem.row_id) == ("dose_record", str(ids["wrong"]))
    assert "no longer in the data" in problem.problem


def test_a_role_given_with_sql_is_reported(busy):
    db, _ = busy
    attack(db, "UPDATE app_user SET role = 'admin' WHERE username = 'nurse'")
    assert where(db) == {("app_user", "nurse", "role")}


def test_a_site_given_with_sql_is_reported(busy):
    db, _ = busy
    attack(db, "INSERT INTO user_site (user_id, site_code) SELECT id, '102' FROM app_user "
               "WHERE username = 'nurse2'")
    assert where(db) == {("app_user", "nurse2", "sites")}


def test_a_role_changed_through_the_application_agrees(busy):
    db, _ = busy
    change_role(context(db, "admin"), "nurse2", "investigator", "now sub-investigator")
    assert found(db) == []


def test_a_baseline_and_a_schedule_step_edited_with_sql_are_reported(busy):
    db, _ = busy
    attack(db, "UPDATE patient SET baseline_ug = 25000",
           "UPDATE schedule_step SET dose_ug = dose_ug + 1000 WHERE day = "
           "(SELECT max(day) FROM schedule_step)")
    problems = where(db)
    assert ("patient", "101-001", "baseline_mg") in problems
    assert any(table == "schedule_step" for table, _id, _field in problems)


def test_an_amendment_edited_with_sql_is_reported(busy):
    db, _ = busy
    attack(db, "UPDATE amendment SET dose_ug = 2000")
    assert ("amendment", "101-001#1", "dose_mg") in where(db)


def test_an_amendments_reason_edited_with_sql_is_reported(busy):
    db, _ = busy
    attack(db, "UPDATE amendment SET reason = 'routine'")
    assert where(db) == {("amendment", "101-001#1", "reason")}


def test_a_dose_moved_to_another_patient_with_sql_is_reported(busy, study):
    db, ids = busy
    enroll_patient(context(db, "nurse"), study, {"subject_id": "101-002", "site": "101",
                                                 "day1_date": "2026-01-05",
                                                 "baseline_mg": "20",
                                                 "template_id": "stepdown-a"})
    assert found(db) == []
    attack(db, "UPDATE dose_record SET patient_id = (SELECT id FROM patient WHERE "
               f"subject_id = '101-002') WHERE id = {ids['second']}")
    [problem] = found(db)
    assert (problem.table, problem.row_id, problem.field) == (
        "dose_record", str(ids["second"]), "patient_id")
    assert "belongs to 101-002 but the audit trail recorded it for 101-001" in str(problem)


def test_a_signature_inserted_by_hand_is_reported(busy):
    db, _ = busy
    attack(db, "INSERT INTO signature (patient_id, signed_through, meaning, username, "
               "printed_name, signed_at_utc, data_sha256, audit_id_at_signing) SELECT "
               "patient_id, signed_through, meaning, 'admin', 'Admin Example', signed_at_utc, "
               "data_sha256, audit_id_at_signing + 1 FROM signature")
    problems = found(db)
    assert [p.table for p in problems] == ["signature"]
    assert "no audit history" in problems[0].problem


def test_a_signature_deleted_with_its_audit_row_and_rechained_is_reported(busy):
    db, _ = busy
    rows, digest = head(db)
    attack(db, "DELETE FROM audit_log WHERE action = 'sign'", "DELETE FROM signature")
    rechain(db)
    assert chain_ok(db)
    assert found(db) == []  # the data and the rewritten trail agree with each other ...
    assert not still_holds(db, rows, digest)  # ... but not with the head printed earlier


def test_a_signature_deleted_alone_is_reported(busy):
    db, _ = busy
    attack(db, "DELETE FROM signature")
    [problem] = found(db)
    assert problem.table == "signature" and "no longer in the data" in problem.problem


# ---------------------------------------------------------------- the head, kept outside

def test_the_head_is_the_row_count_and_the_last_hash(busy):
    db, _ = busy
    rows, digest = head(db)
    with UnitOfWork(db, write=False) as uow:
        check = verify_chain(uow.session)
    assert (check.rows, check.last_hash) == (rows, digest)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert still_holds(db, rows, digest)
    assert not still_holds(db, rows, "0" * 16)
    assert not still_holds(db, rows + 1, digest)


def test_a_deleted_dose_with_its_audit_rows_and_a_rewritten_chain_is_caught_by_the_head(
        busy):
    db, ids = busy
    rows, digest = head(db)
    attack(db, f"DELETE FROM audit_log WHERE entity = 'dose_record' "
               f"AND entity_id = '{ids['wrong']}'",
           f"DELETE FROM dose_record WHERE id = {ids['wrong']}")
    assert not chain_ok(db)  # a gap in the chain ...
    rechain(db)
    assert chain_ok(db)  # ... hidden by a rewrite; the signature made after it points at
    # an audit row that is now another one, so the data disagree ...
    assert {d.table for d in found(db)} == {"signature"}
    assert not still_holds(db, rows, digest)  # ... and the earlier head catches it anyway


def test_a_truncated_trail_with_its_head_row_moved_is_caught(busy):
    db, _ = busy
    rows, digest = head(db)
    keep = rows - 6  # the new user's rows and more go
    attack(db, f"DELETE FROM audit_log WHERE id > {keep}",
           f"UPDATE audit_head SET last_id = {keep}, last_hash = "
           f"(SELECT row_hash FROM audit_log WHERE id = {keep})")
    assert chain_ok(db)
    assert found(db) != []  # rows made by the removed events have no history now
    assert not still_holds(db, rows, digest)


def test_the_head_of_an_earlier_moment_is_still_held_later(busy, study):
    db, _ = busy
    rows, digest = head(db)
    record_dose(context(db, "nurse"), study, "101-001", {
        "drug": "prednisone", "dose_mg": "15", "frequency": "QD", "route": "PO",
        "start_date": "2026-03-01", "end_date": ""})
    assert head(db)[0] > rows
    assert still_holds(db, rows, digest)


@pytest.mark.sqlite_only
def test_a_rollback_to_an_older_copy_is_caught(busy, study, tmp_path: Path):
    db, _ = busy
    assert db.path is not None
    older = tmp_path / "older.sqlite"
    db.dispose()
    shutil.copyfile(db.path, older)  # yesterday's copy (a backup, a copied file)
    record_dose(context(db, "nurse"), study, "101-001", {
        "drug": "prednisone", "dose_mg": "15", "frequency": "QD", "route": "PO",
        "start_date": "2026-03-01", "end_date": ""})
    rows, digest = head(db)  # printed on a PDF today
    db.dispose()
    shutil.copyfile(older, db.path)  # the file replaced by its older copy
    rolled_back = open_database(db.path)
    try:
        assert chain_ok(rolled_back) and found(rolled_back) == []
        assert not still_holds(rolled_back, rows, digest)
    finally:
        rolled_back.dispose()


@pytest.mark.parametrize("text_, problem", [
    ("12", "expected N:HASH"), ("12:abc", "expected N:HASH"), ("x:" + "a" * 16, "N:HASH"),
    ("12:" + "g" * 16, "N:HASH"), ("١٢:" + "a" * 16, "N:HASH"),
])
def test_a_malformed_head_is_refused_with_what_is_expected(text_, problem):
    with pytest.raises(ValueError, match=problem):
        parse_head(text_)


def test_a_head_parses_with_a_prefix_or_the_whole_hash():
    assert parse_head("7:" + "AB" * 8) == (7, "ab" * 8)
    assert parse_head(" 7:" + "a" * 64 + " ") == (7, "a" * 64)
