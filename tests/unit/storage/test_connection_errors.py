"""Which storage failures become which user messages, told apart by the driver's error code
(SQLite's result code, PostgreSQL's SQLSTATE), never by its words. The errors are real:
made by a real SQLite file or a real PostgreSQL server, not written by hand."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from taper_app.services.figures import analyse_all
from taper_app.storage.engine import Database, open_database
from taper_app.storage.errors import (
    DatabaseBusy,
    DatabaseConflict,
    DatabaseConstraintViolated,
    DatabaseDamaged,
    DatabaseFault,
    DatabaseSchemaMismatch,
    DatabaseUnreachable,
    DatabaseWriteFailed,
    translate_db_error,
)
from taper_app.storage.models import Site
from taper_app.storage.uow import UnitOfWork
from tests.conftest import TODAY
from tests.pgserver import _free_port

WRONG_WORDS = ("could not be written", "cannot be reached", "Cannot reach")


def sqlite_failure(path: Path, *statements: str, uri: bool = False,
                   timeout: float = 5.0) -> sqlite3.Error:
    """The error SQLite raises for the last of ``statements`` (the others must succeed)."""
    conn = sqlite3.connect(str(path), uri=uri, timeout=timeout, isolation_level=None)
    try:
        for sql in statements[:-1]:
            conn.execute(sql)
        with pytest.raises(sqlite3.Error) as excinfo:
            conn.execute(statements[-1])
        return excinfo.value
    finally:
        conn.close()


def made_table(path: Path) -> Path:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.close()
    return path


# ------------------------------------------------------------------ a SQLite file


def test_a_file_another_program_is_writing_is_busy(tmp_path: Path) -> None:
    path = made_table(tmp_path / "study.sqlite")
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        error = sqlite_failure(path, "BEGIN IMMEDIATE", timeout=0)
    finally:
        holder.close()
    assert error.sqlite_errorname == "SQLITE_BUSY"
    busy = translate_db_error(error)
    assert isinstance(busy, DatabaseBusy) and "Nothing was saved" in str(busy)
    reading = translate_db_error(error, writing=False)
    assert isinstance(reading, DatabaseBusy) and "saved" not in str(reading)


def test_a_full_disk_is_said_as_a_full_disk(tmp_path: Path) -> None:
    path = made_table(tmp_path / "study.sqlite")
    conn = sqlite3.connect(str(path))
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    error = sqlite_failure(path, f"PRAGMA max_page_count = {pages}",
                           "INSERT INTO t VALUES (zeroblob(100000))")
    assert error.sqlite_errorname == "SQLITE_FULL"
    full = translate_db_error(error)
    assert isinstance(full, DatabaseWriteFailed) and not isinstance(full, DatabaseUnreachable)
    assert "full" in str(full) and "Nothing was saved" in str(full)


def test_a_read_only_file_is_said_as_read_only(tmp_path: Path) -> None:
    path = made_table(tmp_path / "study.sqlite")
    error = sqlite_failure(Path(f"file:{path}?mode=ro"), "INSERT INTO t VALUES (1)", uri=True)
    assert error.sqlite_errorname.startswith("SQLITE_READONLY")
    refused = translate_db_error(error)
    assert isinstance(refused, DatabaseWriteFailed) and "read-only" in str(refused)


def test_a_file_that_is_no_database_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    path.write_bytes(b"these are not the pages of a database " * 200)
    error = sqlite_failure(path, "SELECT * FROM sqlite_master")
    assert error.sqlite_errorname == "SQLITE_NOTADB"
    assert isinstance(translate_db_error(error), DatabaseDamaged)


def test_a_bug_is_no_user_message(tmp_path: Path) -> None:
    conn = sqlite3.connect(str(tmp_path / "x.sqlite"))
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError) as excinfo:
        conn.execute("SELECT 1")  # a closed connection: the program's mistake
    assert translate_db_error(excinfo.value) is None
    assert translate_db_error(ValueError("a bug")) is None


def test_a_bug_in_a_unit_of_work_goes_on_as_it_is(db: Database) -> None:
    """No code known: not dressed up as a database message, for the excepthook and log."""
    with pytest.raises(ZeroDivisionError), UnitOfWork(db):
        print(1 / 0)


# ------------------------------------------------------------------ both backends


def test_a_missing_required_value_is_a_fault_not_a_write_failure(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """A NOT NULL failure is a bug in the program: said as what it is, never as a disk or
    a server that cannot be written, and logged with the driver's error and traceback."""
    caplog.set_level(logging.WARNING)
    with pytest.raises(DatabaseConstraintViolated) as excinfo, UnitOfWork(db) as uow:
        uow.session.add(Site(code="Z9"))  # created_at left out
        uow.commit()
    error = excinfo.value
    assert error.rule == "not_null"
    assert "a required value was missing" in str(error) and "Nothing was saved" in str(error)
    assert not any(words in str(error) for words in WRONG_WORDS)
    assert isinstance(error.__cause__, IntegrityError)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert logged and logged[0].exc_info[1] is error.__cause__


def test_a_missing_column_is_a_schema_problem_not_an_unreachable_server(
        db: Database, study, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE patient DROP COLUMN notes")
    with pytest.raises(DatabaseSchemaMismatch) as excinfo:
        analyse_all(db, study, TODAY)
    message = str(excinfo.value)
    assert "tables do not match this version" in message and "saved" not in message
    assert not any(words in message for words in WRONG_WORDS)
    assert isinstance(excinfo.value, DatabaseFault)
    assert any(r.exc_info and isinstance(r.exc_info[1], DBAPIError) for r in caplog.records)


def test_the_audit_trails_own_protection_is_said_as_such(db: Database) -> None:
    with pytest.raises(DatabaseConstraintViolated) as excinfo, UnitOfWork(db) as uow:
        uow.session.execute(text("UPDATE audit_log SET reason = 'rewritten'"))
    assert excinfo.value.rule == "trigger"
    assert "never changed or deleted" in str(excinfo.value)


# ------------------------------------------------------------------ a server that is gone


def operational(message: str, invalidated: bool = False) -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception(message),
                            connection_invalidated=invalidated)


@pytest.mark.postgres
def test_a_server_that_refuses_the_connection_is_unreachable() -> None:
    """Nothing listens on the port: libpq's own error, which has no SQLSTATE."""
    with pytest.raises(DatabaseUnreachable) as excinfo:
        open_database(f"postgresql+psycopg://taper@127.0.0.1:{_free_port()}/study")
    message = str(excinfo.value)
    assert message.startswith("Cannot reach the database server. Check the network")
    assert "saved" not in message and "\n" not in message


@pytest.mark.postgres_only
def test_a_connection_the_server_ends_is_unreachable(db: Database, backend: str) -> None:
    with db.engine.connect() as victim:
        pid = victim.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        victim.commit()
        with db.engine.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            admin.commit()
        with pytest.raises(DBAPIError) as excinfo:
            victim.exec_driver_sql("SELECT 1")
    lost = translate_db_error(excinfo.value)
    assert isinstance(lost, DatabaseUnreachable)
    assert str(lost).startswith("Cannot reach the database server, so nothing was saved")


def test_a_reading_unit_of_work_that_cannot_begin_does_not_speak_of_saving(db, monkeypatch
                                                                           ) -> None:
    def lost(*_args: object, **_kwargs: object) -> None:
        raise operational("server closed the connection unexpectedly", invalidated=True)

    monkeypatch.setattr(Session, "connection", lost)
    with pytest.raises(DatabaseUnreachable) as excinfo, UnitOfWork(db, write=False):
        pass
    assert "saved" not in str(excinfo.value)
    with pytest.raises(DatabaseUnreachable, match="so nothing was saved"), UnitOfWork(db):
        pass


def test_an_invalidated_connection_is_unreachable_whatever_the_driver_said() -> None:
    """SQLAlchemy's own verdict that the connection is gone (``connection_invalidated``)."""
    assert isinstance(translate_db_error(operational("SSL SYSCALL error: EOF detected",
                                                     invalidated=True)), DatabaseUnreachable)
    assert translate_db_error(operational("SSL SYSCALL error: EOF detected")) is None


def commit_losing_the_server_in(db, monkeypatch, method: str) -> str:
    """Commit a unit of work whose ``Session.<method>`` finds the server gone; the message."""

    def lost(*_args: object) -> None:
        raise operational("server closed the connection unexpectedly", invalidated=True)

    with UnitOfWork(db) as uow:
        monkeypatch.setattr(Session, method, lost)
        with pytest.raises(DatabaseUnreachable) as excinfo:
            uow.commit()
        monkeypatch.undo()
    return str(excinfo.value)


def test_a_connection_lost_during_commit_says_the_save_is_uncertain(db, monkeypatch) -> None:
    """Statements sent, then the link drops at COMMIT: the server may have stored it, so
    the message must not say "nothing was saved" (the nurse would enter it twice)."""
    message = commit_losing_the_server_in(db, monkeypatch, "commit")
    assert "cannot be told whether it was stored" in message and "Reload" in message
    assert "nothing was saved" not in message
    assert "server closed the connection unexpectedly" in message


def test_a_connection_lost_before_commit_says_nothing_was_saved(db, monkeypatch) -> None:
    message = commit_losing_the_server_in(db, monkeypatch, "flush")
    assert message.startswith("Cannot reach the database server, so nothing was saved")


# ------------------------------------------------------------------ two users at once


@contextmanager
def transaction(db: Database) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def waiting_on_a_lock(db: Database, pid: int) -> bool:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(
            f"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = {pid}"
        ).scalar_one_or_none() is True


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll (no timed assertion: the test fails by its own timeout if this never holds)."""
    while not condition():
        threading.Event().wait(0.02)


def real_deadlock(db: Database) -> DBAPIError:
    """Two transactions each wait for the other's row until the server ends the second:
    its 40P01 error (the first then goes on and ends cleanly)."""
    errors: list[BaseException] = []
    with transaction(db) as first, transaction(db) as second:
        first.exec_driver_sql("SET deadlock_timeout = '1h'")  # the second one detects it
        first.exec_driver_sql("SELECT * FROM study FOR UPDATE")
        second.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
        pid = first.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

        def first_wants_the_head() -> None:
            try:
                first.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
            except DBAPIError as exc:
                errors.append(exc)

        thread = threading.Thread(target=first_wants_the_head)
        thread.start()
        wait_until(lambda: waiting_on_a_lock(db, pid))
        with pytest.raises(DBAPIError) as excinfo:
            second.exec_driver_sql("SELECT * FROM study FOR UPDATE")
        second.rollback()  # lets the first one go on
        thread.join()
    assert errors == []
    return excinfo.value


@pytest.mark.postgres_only
def test_a_row_lock_held_past_the_lock_timeout_is_busy(db: Database, backend: str) -> None:
    with transaction(db) as holder, transaction(db) as waiter:
        holder.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
        waiter.exec_driver_sql("SET lock_timeout = '50ms'")
        with pytest.raises(DBAPIError) as excinfo:
            waiter.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
    busy = translate_db_error(excinfo.value)
    assert isinstance(busy, DatabaseBusy) and "Try again" in str(busy)


@pytest.mark.postgres_only
def test_a_deadlock_is_said_as_a_conflict(db: Database, backend: str) -> None:
    """Two transactions each wait for the other's row: the server ends one of them."""
    conflict = translate_db_error(real_deadlock(db))
    assert isinstance(conflict, DatabaseConflict)
    assert "deadlock" in str(conflict) and "Nothing was saved" in str(conflict)


@pytest.mark.postgres_only
def test_a_serialization_failure_is_said_as_a_conflict(db: Database, backend: str) -> None:
    """A snapshot transaction changes a row another committed after its snapshot: 40001."""
    with transaction(db) as first, transaction(db) as second:
        for conn in (first, second):
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.exec_driver_sql("SELECT full_name FROM app_user WHERE username = 'nurse'")
        first.exec_driver_sql("UPDATE app_user SET full_name = 'N. Example' "
                              "WHERE username = 'nurse'")
        first.commit()
        with pytest.raises(DBAPIError) as excinfo:
            second.exec_driver_sql("UPDATE app_user SET full_name = 'Nurse E.' "
                                   "WHERE username = 'nurse'")
    conflict = translate_db_error(excinfo.value)
    assert isinstance(conflict, DatabaseConflict)
    assert "serialization failure" in str(conflict) and "Nothing was saved" in str(conflict)
    assert not any(words in str(conflict) for words in WRONG_WORDS)


@pytest.mark.postgres_only
def test_a_conflict_in_a_service_is_tried_once_more_then_said_as_such(
        db: Database, backend: str, study, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The server ends the save with a real deadlock both times: one retry, then the
    user is told it was a collision with another user's change, not a lost server."""
    from taper_app.services import patients as patient_service
    from tests.conftest import context

    caplog.set_level(logging.INFO)
    patient_service.enroll_patient(context(db, "nurse"), study, {
        "subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "20", "template_id": "stepdown-a"})
    deadlock = real_deadlock(db)
    calls: list[int] = []
    real_lock = patient_service.lock_patient

    def deadlocking_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        real_lock(*args, **kwargs)
        raise deadlock  # the server's own 40P01, as the patient's lock would raise it

    monkeypatch.setattr(patient_service, "lock_patient", deadlocking_lock)
    with pytest.raises(DatabaseConflict) as excinfo_conflict:
        patient_service.record_dose(context(db, "nurse"), study, "101-001", {
            "drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
            "start_date": "2026-01-05", "end_date": ""})
    assert len(calls) == 2, "tried once more, and only once"
    message = str(excinfo_conflict.value)
    assert "deadlock" in message and "Nothing was saved" in message
    assert not any(words in message for words in WRONG_WORDS)
    assert any("trying once more" in r.getMessage() for r in caplog.records)
