"""Which storage failures become which user messages (the lost-server case in particular)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from taper_app.storage.engine import DatabaseUnreachable
from taper_app.storage.uow import (
    DatabaseBusy,
    DatabaseWriteFailed,
    UnitOfWork,
    translate_db_error,
)


def operational(message: str, invalidated: bool = False) -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception(message),
                            connection_invalidated=invalidated)


def test_a_refused_or_dropped_server_connection_is_unreachable() -> None:
    for said in ('connection failed: connection to server at "10.0.0.5", port 5432 failed: '
                 "Connection refused\n\tIs the server running on that host?",
                 "consuming input failed: server closed the connection unexpectedly",
                 "terminating connection due to administrator command"):
        error = translate_db_error(operational(said))
        assert isinstance(error, DatabaseUnreachable), said
        assert str(error).startswith("Cannot reach the database server, so nothing was saved")
        assert "\n" not in str(error)


def test_reading_when_the_server_is_gone_does_not_speak_of_saving() -> None:
    """A summary or a report that cannot reach the server saved nothing because it was
    never going to save anything: the message says what happened and what to do."""
    error = translate_db_error(operational("connection failed: Connection refused"),
                               writing=False)
    assert isinstance(error, DatabaseUnreachable)
    assert str(error).startswith("Cannot reach the database server. Check the network")
    assert "saved" not in str(error)
    busy = translate_db_error(operational("database is locked"), writing=False)
    assert isinstance(busy, DatabaseBusy) and "saved" not in str(busy)


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
    assert isinstance(translate_db_error(operational("SSL SYSCALL error: EOF detected",
                                                     invalidated=True)), DatabaseUnreachable)


def test_sqlite_failures_keep_their_own_messages() -> None:
    assert isinstance(translate_db_error(operational("database is locked")), DatabaseBusy)
    full = translate_db_error(operational("database or disk is full"))
    assert isinstance(full, DatabaseWriteFailed) and not isinstance(full, DatabaseUnreachable)
    assert translate_db_error(ValueError("a bug")) is None
    assert translate_db_error(sqlite3.ProgrammingError("a bug")) is None


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
