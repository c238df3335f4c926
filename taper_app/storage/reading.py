"""Bulk reads as plain driver tuples, without SQLAlchemy's per-row result processing.

A study of a thousand three-year daily diaries is over a hundred thousand dose rows. Read
through ``Connection.execute`` every row becomes a ``Row`` and every date column goes
through a result processor one value at a time, which cost about as much again as reading
the rows. :func:`plain_rows` runs a Core ``SELECT`` on the same connection (so in the same
transaction) through the DBAPI cursor and returns its tuples as the driver gives them; the
caller converts the columns that need it with :func:`result_converters`, which are the very
functions SQLAlchemy would have applied for this dialect (on SQLite ``date.fromisoformat``
for ISO date text and ``bool`` for 0/1; on PostgreSQL none: the driver returns ``date``,
``datetime`` and ``bool`` already). Errors are wrapped as SQLAlchemy's ``DBAPIError`` so
the unit of work translates them exactly as for any other statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

Converter = Callable[[Any], Any]

#: Bound values the driver takes as they are (anything else would need SQLAlchemy's bind
#: processing, which this path skips).
_PLAIN_BINDS = (int, str, type(None))


def plain_rows(connection: Connection,
               stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` as the driver returns it (no type processing, no ``Row``)."""
    dialect = connection.dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    for name, value in params.items():
        if not isinstance(value, _PLAIN_BINDS):
            raise TypeError(f"plain_rows takes int or text parameters only ({name}={value!r})")
    args: Sequence[Any] | Mapping[str, Any] = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional else params)
    proxied = connection.connection  # the DBAPI connection, in this connection's transaction
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = proxied.cursor()
    try:
        cursor.execute(compiled.string, args)
        return list(cursor.fetchall())
    except dbapi_error as exc:
        lost = dialect.is_disconnect(exc, proxied.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(compiled.string, args, exc, dbapi_error,
                                  connection_invalidated=lost, dialect=dialect) from exc
    finally:
        with suppress(dbapi_error):  # a cursor of a lost connection: the error says it all
            cursor.close()


def result_converters(connection: Connection,
                      columns: Sequence[ColumnElement[Any]]) -> list[Converter | None]:
    """For each column, the function SQLAlchemy applies to its driver value, or None."""
    dialect = connection.dialect
    return [column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in columns]
