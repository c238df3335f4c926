"""Bulk inserts as plain tuples through the driver's executemany (the mirror of reading.py).

A bulk import writes a hundred thousand dose rows and seven times as many audit rows.
Through ``Connection.execute(insert(table), rows)`` SQLAlchemy prepares every row's
parameters in Python (a dict per row, then its values in order), which cost about as much
as SQLite's own insert. :func:`insert_rows` compiles the ``INSERT`` once with SQLAlchemy
for the connection's dialect, converts only the columns that need it with the very
functions SQLAlchemy would apply (its per-dialect bind processors: on SQLite dates and
times to ISO text; on PostgreSQL none), and hands the rows to the DBAPI cursor of the same
connection, so in the same transaction. Errors are wrapped as SQLAlchemy's ``DBAPIError``
so the unit of work translates them exactly as for any other statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError


def insert_rows(connection: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (each the values of ``columns``, in that order) with one executemany.

    Every column of the row is given: no column default is applied on this path.
    """
    if not rows:
        return
    dialect = connection.dialect
    names = list(columns)
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(names):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            converters.append((index, processor))
    if compiled.positional:
        order = [names.index(name) for name in compiled.positiontup or ()]
        if sorted(order) != list(range(len(names))):
            raise ValueError(f"INSERT into {table.name} does not take exactly {names}")
    elif set(compiled.binds) != set(names):
        raise ValueError(f"INSERT into {table.name} does not take exactly {names}")

    def converted(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for index, processor in converters:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return values

    args: list[Any]
    if compiled.positional:
        identity = order == list(range(len(names)))
        if not converters and identity:
            args = list(rows)
        elif identity:
            args = [converted(row) for row in rows]
        else:
            args = [[values[i] for i in order] for values in map(converted, rows)]
    else:
        args = [dict(zip(names, converted(row), strict=True)) for row in rows]
    proxied = connection.connection  # the DBAPI connection, in this connection's transaction
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = proxied.cursor()
    try:
        cursor.executemany(compiled.string, args)
    except dbapi_error as exc:
        lost = dialect.is_disconnect(exc, proxied.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(compiled.string, args[:1], exc, dbapi_error,
                                  connection_invalidated=lost, dialect=dialect) from exc
    finally:
        with suppress(dbapi_error):  # a cursor of a lost connection: the error says it all
            cursor.close()
