"""Opening a database: pragmas on every connection, migrations with a copy taken first,
and a database from a newer version refused without touching the file."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from taper_app.storage.engine import (
    MIGRATIONS_DIR,
    Database,
    DatabaseError,
    DatabaseNotFound,
    DatabaseTooNew,
    head_revision,
    make_engine,
    open_database,
    resolve_url,
)
from taper_app.storage.uow import UnitOfWork

pytestmark = pytest.mark.sqlite_only


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def alembic_version(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        con.close()


def set_alembic_version(path: Path, version: str) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute("UPDATE alembic_version SET version_num = ?", (version,))
        con.commit()
    finally:
        con.close()


def user_rows(path: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT * FROM app_user ORDER BY id").fetchall()
    finally:
        con.close()


def tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


# ---------------------------------------------------------------- pragmas

def test_every_connection_gets_foreign_keys_wal_and_full_synchronous(db: Database) -> None:
    connections = [db.engine.raw_connection() for _ in range(3)]
    try:
        for dbapi in connections:
            cur = dbapi.cursor()
            assert cur.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            cur.close()
    finally:
        for dbapi in connections:
            dbapi.close()
    for write in (False, True):
        with UnitOfWork(db, write=write) as uow:
            assert uow.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert uow.session.execute(text("PRAGMA synchronous")).scalar_one() == 2


def test_a_fresh_engine_on_the_file_sets_the_pragmas_too(db: Database) -> None:
    assert db.path is not None
    engine = make_engine(resolve_url(db.path))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with UnitOfWork(db) as uow, pytest.raises(IntegrityError):
        uow.session.execute(text(
            "INSERT INTO dose_record (patient_id, drug, dose_ug, frequency, route, start_date, "
            "created_at, created_by, voided, version) VALUES (999, 'prednisone', 1000, 'QD', "
            "'PO', '2026-01-01', '2026-01-01 00:00:00', 'nurse', 0, 1)"))
        uow.session.flush()


# ---------------------------------------------------------------- opening and migrating

def test_a_new_database_is_at_the_head_revision(db: Database) -> None:
    assert db.path is not None
    assert alembic_version(db.path) == head_revision()


def test_opening_a_database_at_the_head_takes_no_copy(db: Database) -> None:
    assert db.path is not None
    db.dispose()
    open_database(db.path).dispose()
    assert sorted(p.name for p in db.path.parent.glob("*.before-*")) == []


def test_an_old_database_is_copied_then_migrated_when_opened(db: Database) -> None:
    """Take the study back to the previous schema revision, as an older version left it."""
    assert db.path is not None
    path = db.path
    head = head_revision()
    previous = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(head).down_revision
    if previous is None:
        pytest.skip("only one schema revision exists; see the DatabaseTooNew test")
    assert isinstance(previous, str)
    db.dispose()
    engine = make_engine(resolve_url(path))
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["engine"] = engine
        command.downgrade(config, previous)
    finally:
        engine.dispose()
    assert alembic_version(path) == previous
    old_tables, users = tables(path), user_rows(path)

    reopened = open_database(path)
    reopened.dispose()

    assert alembic_version(path) == head
    (copy,) = path.parent.glob(f"{path.stem}.before-{head}-*{path.suffix}")
    # the copy is the database as it was before the migration
    assert alembic_version(copy) == previous
    assert tables(copy) == old_tables
    assert user_rows(copy) == users
    assert user_rows(path) == users


def test_a_database_from_a_newer_version_is_refused_and_left_byte_for_byte(
        db: Database) -> None:
    assert db.path is not None
    path = db.path
    db.dispose()
    set_alembic_version(path, "9999")
    before = sha256(path)
    with pytest.raises(DatabaseTooNew, match="newer version"):
        open_database(path)
    assert sha256(path) == before
    assert alembic_version(path) == "9999"
    # No -wal or -shm (never switched to WAL); only the in-use lock of the connection
    # that read its version, which is not the file (storage/file_lock.py).
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, f"{path.name}.in-use"]


def test_a_database_that_is_not_ours_is_refused_and_left_byte_for_byte(
        tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE recipes (name TEXT)")
    con.commit()
    con.close()
    before = sha256(path)
    with pytest.raises(DatabaseError, match="not a Taper Tracker database"):
        open_database(path)
    assert sha256(path) == before  # not even switched to WAL mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]


def test_a_missing_file_is_not_created_by_opening_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.sqlite"
    with pytest.raises(DatabaseNotFound):
        open_database(path)
    assert not path.exists()


def test_create_refuses_an_existing_file(db: Database) -> None:
    assert db.path is not None
    with pytest.raises(DatabaseError, match="already exists"):
        open_database(db.path, create=True)
