"""The unit of work: one transaction per service call, and the one place that commits."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .engine import Database
from .errors import (
    COMMIT_UNCERTAIN,
    UNREACHABLE,
    DatabaseBusy,
    DatabaseConflict,
    DatabaseError,
    DatabaseUnreachable,
    DatabaseWriteFailed,
    connection_lost,
    raise_translated,
    translate_db_error,
)

__all__ = ["COMMIT_UNCERTAIN", "UNREACHABLE", "DatabaseBusy", "DatabaseConflict",
           "DatabaseError", "DatabaseUnreachable", "DatabaseWriteFailed", "UnitOfWork",
           "retry_on_conflict", "translate_db_error"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


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
            raise_translated(exc, writing=self.write)
        return self

    def commit(self) -> None:
        try:
            self.session.flush()  # every statement: a failure here has saved nothing
        except DBAPIError as exc:
            self.session.rollback()
            raise_translated(exc)
        try:
            self.session.commit()
        except DBAPIError as exc:
            self.session.rollback()
            lost = connection_lost(exc)
            if lost is not None:
                # Lost during COMMIT itself: the server may have committed before it went.
                log.warning("connection lost during COMMIT: %s", lost, exc_info=exc)
                raise DatabaseUnreachable(f"{COMMIT_UNCERTAIN} ({lost})") from exc
            raise_translated(exc)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, DBAPIError) and translate_db_error(exc, writing=self.write):
            raise_translated(exc, writing=self.write)  # else a bug: it goes on as it is


def retry_on_conflict(call: Callable[P, R]) -> Callable[P, R]:
    """Make ``call`` (a whole service call, its reads included) once more if the database
    ended it with a deadlock or a serialization failure; a second one is raised.

    The server rolled the first attempt back whole, so nothing of it was stored and making
    it again from its first read is safe; the second attempt sees the other change.
    """

    @functools.wraps(call)
    def again_once(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except DatabaseConflict as exc:
            log.warning("%s: %s; trying once more", call.__qualname__, exc)
        return call(*args, **kwargs)

    return again_once
