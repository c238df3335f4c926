"""The audit trail is append-only in the database, and its hash chain shows any tampering
by someone who got round that (dropped the triggers with sqlite3, as an attacker would)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from taper_app.services import auth
from taper_app.services.audit import ChainCheck, row_hash, verify_chain
from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.study import StudyInfo, load_study
from taper_app.storage.engine import Database, open_database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context, make_study

COLUMNS = ("at_utc", "username", "action", "entity", "entity_id", "subject_id", "field",
           "old_value", "new_value", "reason", "prev_hash", "row_hash")


def add_history(db: Database, study: StudyInfo) -> None:
    """A patient, two doses and a void: a few dozen audit rows."""
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    first = record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": "2026-02-01"}).record_id
    record_dose(nurse, study, "101-001", {
        "drug": "prednisone", "dose_mg": "16", "frequency": "QD", "route": "PO",
        "start_date": "2026-02-02", "end_date": ""})
    void_dose(nurse, first, "wrong patient")


@pytest.fixture
def busy(db: Database, study: StudyInfo) -> Database:
    add_history(db, study)
    return db


@pytest.fixture(scope="module")
def busy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("busy") / "study.sqlite"
    saved, auth.SCRYPT_N = auth.SCRYPT_N, 2**10
    try:
        database = make_study(path)
        add_history(database, load_study(database))
        database.dispose()
    finally:
        auth.SCRYPT_N = saved
    return path


@pytest.fixture
def attacked(busy_file: Path, tmp_path: Path) -> Iterator[Database]:
    """A copy of the busy study file, for the attacks that go round the database."""
    path = tmp_path / "study.sqlite"
    shutil.copyfile(busy_file, path)
    database = open_database(path)
    yield database
    database.dispose()


def check(db: Database) -> ChainCheck:
    with UnitOfWork(db, write=False) as uow:
        return verify_chain(uow.session)


def audit_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one())


def tamper(db: Database, *statements: str, params: tuple[object, ...] = ()) -> None:
    assert db.path is not None
    con = sqlite3.connect(db.path)
    try:
        con.execute("DROP TRIGGER audit_log_no_update")
        con.execute("DROP TRIGGER audit_log_no_delete")
        for sql in statements:
            con.execute(sql, params if "?" in sql else ())
        con.commit()
    finally:
        con.close()


def row(db: Database, row_id: int) -> dict[str, object]:
    assert db.path is not None
    con = sqlite3.connect(db.path)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM audit_log WHERE id = ?", (row_id,)).fetchone())
    finally:
        con.close()


# ---------------------------------------------------------------- append-only

@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET new_value = 'forged' WHERE id = 2",
    "DELETE FROM audit_log WHERE id = 2",
    "DELETE FROM audit_log",
])
def test_the_database_refuses_to_change_or_delete_audit_rows(busy: Database, sql: str) -> None:
    rows = audit_count(busy)
    with pytest.raises(DBAPIError, match="append-only"), busy.engine.begin() as conn:
        conn.execute(text(sql))
    assert audit_count(busy) == rows
    assert check(busy).ok


def test_sqlite3_itself_cannot_change_audit_rows(attacked: Database) -> None:
    assert attacked.path is not None
    con = sqlite3.connect(attacked.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE audit_log SET username = 'someone' WHERE id = 3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM audit_log WHERE id = 3")
    finally:
        con.close()


# ---------------------------------------------------------------- the hash chain

def test_an_untouched_chain_verifies(busy: Database) -> None:
    result = check(busy)
    assert result.ok and result.first_bad_id is None
    assert result.rows == audit_count(busy) > 20


@pytest.mark.parametrize("column", ["at_utc", "username", "action", "entity", "entity_id",
                                    "subject_id", "field", "old_value", "new_value", "reason"])
def test_an_edited_row_is_detected(attacked: Database, column: str) -> None:
    tamper(attacked, f"UPDATE audit_log SET {column} = 'x' || coalesce({column}, '') WHERE id = 12")
    result = check(attacked)
    assert not result.ok
    assert result.first_bad_id == 12
    assert "edited" in result.problem


def test_a_deleted_row_is_detected(attacked: Database) -> None:
    tamper(attacked, "DELETE FROM audit_log WHERE id = 12")
    result = check(attacked)
    assert (result.ok, result.first_bad_id) == (False, 13)


def test_deleting_the_last_rows_is_detected(attacked: Database) -> None:
    last = audit_count(attacked)
    tamper(attacked, f"DELETE FROM audit_log WHERE id >= {last - 1}")
    result = check(attacked)
    assert not result.ok
    assert "rows removed from the end" in result.problem


def test_a_row_inserted_in_the_middle_is_detected(attacked: Database) -> None:
    last = audit_count(attacked)
    forged = row(attacked, 12)
    forged["new_value"] = "forged"
    # make room at id 12 (ids shifted from the end down, to keep them unique)
    statements = [f"UPDATE audit_log SET id = id + 1 WHERE id = {i}" for i in range(last, 11, -1)]
    statements.append(f"INSERT INTO audit_log (id, {', '.join(COLUMNS)}) VALUES (12, "
                      + ", ".join("?" for _ in COLUMNS) + ")")
    tamper(attacked, *statements, params=tuple(forged[c] for c in COLUMNS))
    result = check(attacked)
    assert (result.ok, result.first_bad_id) == (False, 12)


def test_a_row_appended_with_a_correctly_chained_hash_is_detected(attacked: Database) -> None:
    """A forger who knows the hash recipe can chain a new row, but not the chain's head."""
    last = audit_count(attacked)
    previous = row(attacked, last)
    values: dict[str, object] = {**previous, "id": last + 1, "new_value": "forged"}
    values["row_hash"] = row_hash(str(previous["row_hash"]), values)
    values["prev_hash"] = previous["row_hash"]
    tamper(attacked, f"INSERT INTO audit_log (id, {', '.join(COLUMNS)}) VALUES ({last + 1}, "
           + ", ".join("?" for _ in COLUMNS) + ")", params=tuple(values[c] for c in COLUMNS))
    result = check(attacked)
    assert not result.ok
    assert result.rows == last + 1


def test_reordered_rows_are_detected(attacked: Database) -> None:
    """Swap the whole contents (hashes included) of rows 12 and 13."""
    cols = ", ".join(COLUMNS)
    tamper(attacked,
           "CREATE TEMP TABLE saved AS SELECT * FROM audit_log WHERE id IN (12, 13)",
           f"UPDATE audit_log SET ({cols}) = (SELECT {cols} FROM saved WHERE saved.id = 13) "
           "WHERE id = 12",
           f"UPDATE audit_log SET ({cols}) = (SELECT {cols} FROM saved WHERE saved.id = 12) "
           "WHERE id = 13")
    assert row(attacked, 12)["field"] != row(attacked, 13)["field"] or \
        row(attacked, 12)["entity_id"] != row(attacked, 13)["entity_id"]
    result = check(attacked)
    assert (result.ok, result.first_bad_id) == (False, 12)
