"""The unit of work: one transaction per service call, and the one place that commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from .engine import Database, DatabaseError, DatabaseUnreachable

__all__ = ["DatabaseBusy", "DatabaseUnreachable", "DatabaseWriteFailed", "UnitOfWork",
           "translate_db_error"]


class DatabaseBusy(DatabaseError):
    """Another program holds the write lock for longer than we wait."""


class DatabaseWriteFailed(DatabaseError):
    """The disk refused the write (full, read-only, I/O error, server gone)."""


#: What the drivers say when the server is gone (psycopg/libpq wording), lower case.
_CONNECTION_LOST = ("connection refused", "could not connect", "connection failed",
                    "server closed the connection", "terminating connection",
                    "connection timed out", "no route to host", "connection is closed",
                    "connection is lost", "consuming input failed", "network is unreachable",
                    "the database system is shutting down",
                    "the database system is starting up")

UNREACHABLE = "Cannot reach the database server"
_ADVICE = "Check the network connection (or ask whoever runs the server), then try again."


COMMIT_UNCERTAIN = ("The connection to the database server was lost while the save was being "
                    "confirmed, so it cannot be told whether it was stored. Reload (F5) and "
                    "check the record before entering it again.")


def _lost_connection(exc: BaseException) -> str | None:
    """What the driver said, first line, if ``exc`` means the server is gone; else None."""
    text = str(getattr(exc, "orig", exc)).lower()
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if invalidated or any(words in text for words in _CONNECTION_LOST):
        return text.strip().splitlines()[0] if text.strip() else "connection lost"
    return None


def translate_db_error(exc: BaseException, *, writing: bool = True) -> DatabaseError | None:
    """A user-facing error for a known storage failure, or None for a bug. ``writing``:
    whether the failed work was a change (the message then says nothing was saved)."""
    text = str(getattr(exc, "orig", exc)).lower()
    unsaved = " Nothing was saved." if writing else ""
    lost = _lost_connection(exc)  # first: a lost connection's text can mention anything
    if lost is not None:
        lead = f"{UNREACHABLE}, so nothing was saved." if writing else f"{UNREACHABLE}."
        return DatabaseUnreachable(f"{lead} {_ADVICE} ({lost})")
    if "locked" in text or "busy" in text or "could not obtain lock" in text:
        return DatabaseBusy("The database is busy (another window or program is saving)."
                            f"{unsaved} Try again in a moment.")
    if "full" in text or "disk i/o" in text or "readonly" in text or "read-only" in text:
        return DatabaseWriteFailed(f"The database could not be written ({text.strip()})."
                                   f"{unsaved}")
    if isinstance(exc, OperationalError):
        return DatabaseWriteFailed(f"The database cannot be reached ({text.strip()})."
                                   f"{unsaved}")
    return None


class UnitOfWork:
    """``with UnitOfWork(db) as uow: ...; uow.commit()``: anything not committed is rolled back.

    A writing unit of work takes the write lock when it begins, so two programs on one
    file never interleave a read-modify-write.
    """

    def __init__(self, db: Database, *, write: bool = True) -> None:
        self.db = db
        self.write = write
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        factory = self.db.write_sessions if self.write else self.db.read_sessions
        self.session = factory()
        try:
            self.session.connection()  # begin now: BEGIN IMMEDIATE for writers on SQLite
        except DBAPIError as exc:
            self.session.close()
            raise (translate_db_error(exc, writing=self.write) or exc) from exc
        return self

    def commit(self) -> None:
        try:
            self.session.flush()  # every statement: a failure here has saved nothing
        except DBAPIError as exc:
            self.session.rollback()
            raise (translate_db_error(exc) or exc) from exc
        try:
            self.session.commit()
        except DBAPIError as exc:
            self.session.rollback()
            lost = _lost_connection(exc)
            if lost is not None:
                # Lost during COMMIT itself: the server may have committed before it went.
                raise DatabaseUnreachable(f"{COMMIT_UNCERTAIN} ({lost})") from exc
            raise (translate_db_error(exc) or exc) from exc

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, DBAPIError):
            known = translate_db_error(exc, writing=self.write)
            if known is not None:
                raise known from exc
