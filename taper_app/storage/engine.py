"""Opening a database: URL resolution, SQLite pragmas, migrations with a copy taken first.

This is the only module that knows SQLite from PostgreSQL.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .errors import (  # the error types callers catch are named here too, as before
    DatabaseError,
    DatabaseNotFound,
    DatabaseTooNew,
    DatabaseUnreachable,
    raise_translated,
    sqlite_code,
)
from .file_lock import ConnectionLock

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only when a database is not already at this version's schema: it
# takes longer to import than the rest of the storage layer, and start-up and every
# command would otherwise pay for it just to learn that nothing needs migrating.

log = logging.getLogger(__name__)

__all__ = ["Database", "DatabaseError", "DatabaseNotFound", "DatabaseTooNew",
           "DatabaseUnreachable", "copy_sqlite_file", "open_database", "reserve_ids",
           "resolve_url", "shown_location", "sqlite_path"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


def resolve_url(db: str | Path) -> str:
    """An SQLAlchemy URL from ``--db``: a URL as given, or a SQLite file path."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def shown_location(db: str | Path) -> str:
    """A database as people may see it (window, messages, logs): a file's path, or the
    server's URL with any password masked."""
    url = resolve_url(db)
    path = sqlite_path(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _set_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN itself,
    # so a writing unit of work can take the write lock up front (no lost update, no
    # deadlock on lock upgrade).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get("taper_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


_IN_USE = "taper_in_use"


def _hold_file_while_connected(engine: Engine, path: Path) -> None:
    """Every connection to the file holds its in-use lock (storage/file_lock.py) from
    before SQLite opens the file until the connection closes, so a restore can see it."""
    detached: dict[int, ConnectionLock] = {}

    def connect_holding(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        held = ConnectionLock.take(path)
        try:
            connection = dialect.connect(*cargs, **cparams)
        except BaseException:
            if held is not None:
                held.release()
            raise
        if held is not None:
            record.info[_IN_USE] = held
        return connection

    def closed(_dbapi_conn: Any, record: Any) -> None:
        held = record.info.pop(_IN_USE, None)
        if held is not None:
            held.release()

    def detach(dbapi_conn: Any, record: Any) -> None:
        held = record.info.pop(_IN_USE, None)
        if held is not None:
            detached[id(dbapi_conn)] = held

    def closed_detached(dbapi_conn: Any) -> None:
        held = detached.pop(id(dbapi_conn), None)
        if held is not None:
            held.release()

    event.listen(engine, "do_connect", connect_holding)
    event.listen(engine, "close", closed)
    event.listen(engine, "detach", detach)
    event.listen(engine, "close_detached", closed_detached)


def make_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        path = sqlite_path(url)
        if path is not None:
            _hold_file_while_connected(engine, path)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config_stub())
    head = script.get_current_head()
    assert head is not None
    return head


def _alembic_config_stub() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def copy_sqlite_file(src: Path, dest: Path) -> None:
    """A consistent copy through SQLite's online backup (safe while others use the file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = sqlite3.connect(str(src))
        try:
            target = sqlite3.connect(str(dest))
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:  # busy, disk full, unreadable: said as a DatabaseError
        raise_translated(exc)


@dataclass
class Database:
    """An open, migrated database: its engine and the session factories of the units of work."""

    url: str
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def path(self) -> Path | None:
        return sqlite_path(self.url)

    @property
    def shown_location(self) -> str:
        """Where this database is, with no password in it (see :func:`shown_location`)."""
        return shown_location(self.url)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(db: str | Path, *, create: bool = False, migrate: bool = True) -> Database:
    """Open (or with ``create``, make) a database, migrating it to this version first.

    An existing SQLite file is copied aside before any migration. A database written by
    a newer version of the application is refused: this version cannot know its shape.
    """
    url = resolve_url(db)
    path = sqlite_path(url)
    if path is not None:
        if create and path.exists():
            raise DatabaseError(f"{path} already exists; choose another file or open it")
        if not create and not path.exists():
            raise DatabaseNotFound(f"no database at {path}; create one with 'taper-app init' "
                                   "or 'taper-app --demo'")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            _refuse_foreign_sqlite(path)
    engine = make_engine(url)
    try:
        _check_and_migrate(engine, path, create=create, migrate=migrate)
    except DBAPIError as exc:
        engine.dispose()
        raise_translated(exc, writing=False)
    except Exception:
        engine.dispose()
        raise
    return Database(
        url=url,
        engine=engine,
        read_sessions=sessionmaker(engine, expire_on_commit=False),
        write_sessions=sessionmaker(engine.execution_options(taper_write=True),
                                    expire_on_commit=False),
    )


def _refuse_foreign_sqlite(path: Path) -> None:
    """Look at a file read-only first: a file that is not ours is never touched (not even
    switched to WAL, which the connection set-up would do)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if (sqlite_code(exc) or 0) & 0xFF in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            raise DatabaseError(f"{path} is not a SQLite database ({exc})") from None
        raise_translated(exc, writing=False)  # busy, unreadable: not a verdict on the file
    if tables and "alembic_version" not in tables:
        raise DatabaseError(f"{path} is not a Taper Tracker database; it was not changed")


_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*=\s*(?:'([^']*)'|"([^"]*)"|None)\s*$""", re.MULTILINE)


def shipped_head() -> str | None:
    """The head revision read from the shipped scripts' ``revision =`` lines, without Alembic.

    None when the scripts do not form one simple chain (then Alembic decides); a test
    checks that it agrees with :func:`head_revision`.
    """
    revisions: dict[str, str | None] = {}
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                 for m in _REVISION_LINE.finditer(script.read_text(encoding="utf-8"))}
        if not found.get("revision"):
            return None
        revisions[str(found["revision"])] = found.get("down_revision")
    parents = set(revisions.values())
    heads = [r for r in revisions if r not in parents]
    return heads[0] if len(heads) == 1 else None


def _already_at(engine: Engine, head: str | None) -> bool:
    """True when the database's one recorded revision is ``head``: nothing to check or do."""
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no version table yet (a new file): Alembic's path decides
        return False
    return len(rows) == 1 and rows[0][0] == head


def _check_and_migrate(engine: Engine, path: Path | None, *, create: bool, migrate: bool) -> None:
    if not create and _already_at(engine, shipped_head()):
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    head = head_revision()
    script = ScriptDirectory.from_config(_alembic_config_stub())
    current = current_revision(engine)
    if current is not None and current != head:
        try:
            script.get_revision(current)
        except Exception:
            raise DatabaseTooNew(
                f"this database was written by a newer version of Taper Tracker (schema "
                f"{current}); this version knows schemas up to {head}. Install the newer "
                "version; the file was not changed.") from None
    if current is None and not create:
        with engine.connect() as conn:
            has_tables = bool(engine.dialect.get_table_names(conn))
        if has_tables:
            raise DatabaseError("this database is not a Taper Tracker database")
        if not migrate:
            raise DatabaseError("this database is empty; create it with 'taper-app init'")
    if current == head or not migrate:
        return
    if path is not None and current is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        copy = path.with_name(f"{path.stem}.before-{head}-{stamp}{path.suffix}")
        copy_sqlite_file(path, copy)
        log.info("copied %s to %s before migrating %s -> %s", path, copy, current, head)
    command.upgrade(_alembic_config(engine), "head")
    if engine.dialect.name == "postgresql" and current is not None:
        from .grants import refresh_grants

        # A migration's new tables reach the application's role too, and nothing more.
        with engine.begin() as conn:
            roles = refresh_grants(conn)
        if roles:
            log.info("privileges of %s set again after the migration", ", ".join(roles))


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` new values of ``table``'s integer ``id`` for rows inserted together by one
    executemany, which returns no ids (a bulk import needs them first, for the audit rows).

    Only inside a writing unit of work. On SQLite that holds the file's write lock (BEGIN
    IMMEDIATE), so nobody else can insert: the ids after the largest are free. PostgreSQL
    hands them out from the column's own sequence, so other writers' rows never clash.
    """
    if count <= 0:
        return []
    column = table.c.id
    if connection.dialect.name == "sqlite":
        if not connection.get_execution_options().get("taper_write"):
            raise RuntimeError("ids can be reserved only in a writing unit of work")
        largest = connection.execute(select(func.max(column))).scalar_one_or_none() or 0
        return list(range(largest + 1, largest + 1 + count))
    sequence = func.pg_get_serial_sequence(table.name, column.name)
    return list(connection.execute(
        select(func.nextval(sequence)).select_from(func.generate_series(1, count))).scalars())
