"""What a failed database call means for the person at the keyboard, told apart by the
driver's error code (SQLite's result code, PostgreSQL's SQLSTATE), never by its wording.

The classes carry a message for users; the driver's original error stays chained to them
(``raise ... from``) and is logged with its traceback where it is raised
(:func:`raise_translated`). A bug is not a user message: an error with no known code is
left as it is, for the excepthook's crash dialog and the log.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError, StatementError

log = logging.getLogger(__name__)


class DatabaseError(Exception):
    """A database that cannot be opened or used: the message is for the user."""


class DatabaseNotFound(DatabaseError):
    """No database where one was named (a missing file, an unknown database on a server)."""


class DatabaseTooNew(DatabaseError):
    """Written by a newer version of the application: this version cannot know its shape."""


class DatabaseUnreachable(DatabaseError):
    """The database server cannot be reached (stopped, network down): nothing was written,
    and trying again later may work."""


class DatabaseBusy(DatabaseError):
    """Another program holds the lock for longer than we wait; trying again may work."""


class DatabaseWriteFailed(DatabaseError):
    """The disk or the server refused the work (full, read-only, an I/O error, a file that
    cannot be opened): a problem of the computer, not of the input."""


class DatabaseDamaged(DatabaseError):
    """The file (or the server's data) is damaged: nothing more is written to it."""


class DatabaseAccessDenied(DatabaseError):
    """The database refused the application itself (its login, or a permission)."""


class DatabaseConflict(DatabaseError):
    """A deadlock or a serialization failure with another user's change: the server rolled
    the whole transaction back, so nothing of it was stored. A service that saves tries
    once more before it reports this (:func:`taper_app.storage.uow.retry_on_conflict`)."""


class DatabaseFault(DatabaseError):
    """Not the user's input and not the computer: the program sent something the database
    refused (a bug) or the tables are not what this version expects (a set-up problem).
    Logged as an error with its traceback; the message says what it is."""


class DatabaseSchemaMismatch(DatabaseFault):
    """A table or column this version needs is not in the database (or the statement is
    one the database cannot run)."""


class DatabaseConstraintViolated(DatabaseFault):
    """The database refused a row that breaks one of its rules (a required value missing,
    a duplicate, a reference to nothing, a value it cannot hold, a trigger's refusal)."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        #: not_null, unique, foreign_key, check, trigger, value: which kind of rule.
        self.rule = rule


UNREACHABLE = "Cannot reach the database server"
_ADVICE = "Check the network connection (or ask whoever runs the server), then try again."
_REPORT = ("This is a fault in Taper Tracker or in how the database was set up, not in what "
           "you entered. The details are in the log file: please tell your data manager.")

COMMIT_UNCERTAIN = ("The connection to the database server was lost while the save was being "
                    "confirmed, so it cannot be told whether it was stored. Reload (F5) and "
                    "check the record before entering it again.")

# SQLite primary result codes (https://sqlite.org/rescode.html); the extended code's low
# byte is the primary one.
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL}
_SQLITE_DISK = {sqlite3.SQLITE_FULL: "the disk holding the study file is full",
                sqlite3.SQLITE_IOERR: "the disk reported an input/output error",
                sqlite3.SQLITE_READONLY: "the study file is read-only",
                sqlite3.SQLITE_CANTOPEN: "the study file cannot be opened (moved, or a folder "
                                         "that is not reachable)",
                sqlite3.SQLITE_NOLFS: "the file system cannot hold a file this large",
                sqlite3.SQLITE_NOMEM: "the computer ran out of memory"}
_SQLITE_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_SQLITE_DENIED = {sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}
_SQLITE_SCHEMA = {sqlite3.SQLITE_ERROR, sqlite3.SQLITE_SCHEMA}
_SQLITE_RULES = {sqlite3.SQLITE_CONSTRAINT_NOTNULL: "not_null",
                 sqlite3.SQLITE_CONSTRAINT_UNIQUE: "unique",
                 sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: "unique",
                 sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: "foreign_key",
                 sqlite3.SQLITE_CONSTRAINT_CHECK: "check",
                 sqlite3.SQLITE_CONSTRAINT_TRIGGER: "trigger"}
_SQLITE_VALUE = {sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE}

# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_UNREACHABLE = {"57P01", "57P02", "57P03"}  # shut down, crashed, starting up; class 08
_PG_CONFLICT = {"40001", "40P01"}               # serialization failure, deadlock
_PG_BUSY = {"55P03", "55006", "57014", "53300"}  # lock wait, object in use, timeout, slots
_PG_RULES = {"23502": "not_null", "23505": "unique", "23503": "foreign_key",
             "23514": "check", "23P01": "unique", "P0001": "trigger"}
_PG_SCHEMA = {"42703", "42P01", "42883", "42704", "42P10", "42601", "42804"}
_PG_DENIED = {"42501"}
_PG_DAMAGED = {"XX001", "XX002"}

_RULE_WORDS = {
    "not_null": "a required value was missing",
    "unique": "a value that must be unique was already stored",
    "foreign_key": "it refers to a record that does not exist",
    "check": "a value is outside what the database allows",
    "trigger": "the database's own protection refused the change (stored audit records "
               "and signatures are never changed or deleted)",
    "value": "a value is of a kind or size the database cannot hold",
}


def sqlite_code(orig: BaseException) -> int | None:
    """SQLite's extended result code of a driver error (Python 3.11+), or None."""
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code if isinstance(code, int) else None
    return None


def sqlstate(orig: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of a psycopg error (``diag.sqlstate``), or None."""
    diag = getattr(orig, "diag", None)
    state = getattr(diag, "sqlstate", None) if diag is not None else None
    if state is None:
        state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _is_psycopg_operational(orig: BaseException) -> bool:
    """A psycopg OperationalError without a SQLSTATE: raised by the client library itself
    (libpq could not connect, or the connection broke), so no server answered."""
    psycopg: Any = sys.modules.get("psycopg")
    return (psycopg is not None and isinstance(orig, psycopg.OperationalError)
            and sqlstate(orig) is None)


def _driver_text(orig: BaseException) -> str:
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def _original(exc: BaseException) -> BaseException:
    if isinstance(exc, StatementError) and exc.orig is not None:
        return exc.orig
    return exc


def connection_lost(exc: BaseException) -> str | None:
    """What the driver said, first line, if ``exc`` means the server is gone; else None."""
    orig = _original(exc)
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    state = sqlstate(orig)
    if (invalidated or _is_psycopg_operational(orig)
            or (state is not None and (state.startswith("08") or state in _PG_UNREACHABLE))):
        return _driver_text(orig)
    return None


def translate_db_error(exc: BaseException, *, writing: bool = True) -> DatabaseError | None:
    """A user-facing error for a known storage failure, or None for a bug (an error whose
    code says nothing known, or no driver error at all). ``writing``: whether the failed
    work was a change (the message then says nothing was saved)."""
    if isinstance(exc, DatabaseError):
        return exc
    orig = _original(exc)
    unsaved = " Nothing was saved." if writing else ""
    lost = connection_lost(exc)  # first: a lost connection leaves any code behind
    if lost is not None:
        lead = f"{UNREACHABLE}, so nothing was saved." if writing else f"{UNREACHABLE}."
        return DatabaseUnreachable(f"{lead} {_ADVICE} ({lost})")
    code = sqlite_code(orig)
    if code is not None:
        return _sqlite_error(code, orig, unsaved)
    state = sqlstate(orig)
    if state is not None:
        return _postgres_error(state, orig, unsaved)
    return None


def _busy(unsaved: str) -> DatabaseBusy:
    return DatabaseBusy("The database is busy (another window or program is saving)."
                        f"{unsaved} Try again in a moment.")


def _damaged(unsaved: str) -> DatabaseDamaged:
    return DatabaseDamaged(f"The database is damaged.{unsaved} Do not go on entering data: "
                           "restart Taper Tracker, which checks the file and offers its newest "
                           "good backup, and tell your data manager.")


def _schema(unsaved: str) -> DatabaseSchemaMismatch:
    return DatabaseSchemaMismatch("The database refused a statement as invalid: its tables "
                                  "do not match this version of Taper Tracker, or the program "
                                  f"sent a wrong statement.{unsaved} {_REPORT}")


def _rule(rule: str, unsaved: str) -> DatabaseConstraintViolated:
    return DatabaseConstraintViolated(f"The database refused the change because "
                                      f"{_RULE_WORDS[rule]}.{unsaved} {_REPORT}", rule)


def _sqlite_error(code: int, orig: BaseException, unsaved: str) -> DatabaseError | None:
    primary = code & 0xFF
    if primary in _SQLITE_BUSY:
        return _busy(unsaved)
    if primary in _SQLITE_DISK:
        return DatabaseWriteFailed(f"The database could not be used: {_SQLITE_DISK[primary]}."
                                   f"{unsaved}")
    if primary in _SQLITE_DAMAGED:
        return _damaged(unsaved)
    if primary in _SQLITE_DENIED:
        return DatabaseAccessDenied(f"The study file refused access to Taper Tracker."
                                    f"{unsaved} Ask whoever set up this computer to check the "
                                    "file's permissions.")
    if code in _SQLITE_RULES:
        return _rule(_SQLITE_RULES[code], unsaved)
    if primary == sqlite3.SQLITE_CONSTRAINT:
        return _rule("check", unsaved)
    if primary in _SQLITE_VALUE:
        return _rule("value", unsaved)
    if primary in _SQLITE_SCHEMA:
        return _schema(unsaved)
    return None  # interrupted, misuse, internal: a bug


def _postgres_error(state: str, orig: BaseException, unsaved: str) -> DatabaseError | None:
    if state in _PG_CONFLICT:
        what = "deadlock" if state == "40P01" else "serialization failure"
        return DatabaseConflict(f"Another user's change collided with this one (a database "
                                f"{what}).{unsaved} Reload (F5), check the record, then try "
                                "again.")
    if state in _PG_BUSY:
        return _busy(unsaved)
    if state in _PG_RULES:
        return _rule(_PG_RULES[state], unsaved)
    if state.startswith("22"):  # data exception: a value out of range, too long, malformed
        return _rule("value", unsaved)
    if state.startswith("23"):
        return _rule("check", unsaved)
    if state in _PG_DENIED or state.startswith("28"):
        return DatabaseAccessDenied("The database server refused Taper Tracker's database "
                                    f"login or permissions.{unsaved} Ask whoever runs the "
                                    "server to check the application's database account.")
    if state == "3D000":
        return DatabaseNotFound(f"The database server has no such database.{unsaved} Check "
                                "the address you were given.")
    if state in _PG_DAMAGED:
        return _damaged(unsaved)
    if state == "25006":
        return DatabaseWriteFailed(f"The database server is read-only now (a standby, or in "
                                   f"maintenance).{unsaved} Try again later.")
    if state.startswith(("53", "58")):
        return DatabaseWriteFailed(f"The database server could not do the work: it is out "
                                   f"of disk space, memory or another resource, or its disk "
                                   f"failed.{unsaved} Tell whoever runs the server.")
    if state in _PG_SCHEMA or state.startswith("42"):
        return _schema(unsaved)
    return None


def raise_translated(exc: BaseException, *, writing: bool = True) -> NoReturn:
    """Raise the user-facing error for ``exc`` (chained to it), or ``exc`` itself for a
    bug; either way the original is logged with its traceback first."""
    known = translate_db_error(exc, writing=writing)
    if known is None:
        raise exc
    if known is exc:
        raise known
    level = logging.ERROR if isinstance(known, DatabaseFault) else logging.WARNING
    log.log(level, "%s: %s (driver: %s)", type(known).__name__, known,
            _driver_text(_original(exc)), exc_info=exc)
    raise known from exc
