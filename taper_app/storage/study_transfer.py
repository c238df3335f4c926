"""Copy a whole study between databases (a site's SQLite file <-> the central PostgreSQL).

Every row of every table is copied with its primary key, so the audit trail's hash chain,
the signatures and every cross-reference hold in the copy. The target must be new/empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, text, update

from .engine import Database, open_database, resolve_url, sqlite_path
from .models import AuditHead, Base

BATCH = 2000


class CopyError(Exception):
    pass


@dataclass(frozen=True)
class CopyResult:
    rows: dict[str, int]


def copy_database(source_url: str, target_url: str) -> CopyResult:
    """Copy ``source`` into a new ``target`` (created and migrated to this version)."""
    source = open_database(source_url)
    try:
        target = _new_target(target_url)
        try:
            return _copy(source, target)
        finally:
            target.dispose()
    finally:
        source.dispose()


def _new_target(url: str) -> Database:
    path = sqlite_path(resolve_url(url))
    if path is not None and path.exists():
        raise CopyError(f"{path} already exists; copy into a new file")
    try:
        target = open_database(url, create=True)
    except Exception as exc:
        if "://" not in url or url.startswith("sqlite"):
            raise
        # A server database that exists already: accept it only if it holds no study.
        try:
            target = open_database(url, create=False)
        except Exception:
            raise CopyError(f"cannot prepare the target database: {exc}") from None
    from .models import Study

    with target.engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(Study.__table__)):
            target.dispose()
            raise CopyError("the target already holds a study; copy into a new, empty database")
    return target


def _copy(source: Database, target: Database) -> CopyResult:
    counts: dict[str, int] = {}
    with source.engine.connect() as src, target.engine.begin() as dst:
        for table in Base.metadata.sorted_tables:
            if table is AuditHead.__table__:
                continue  # the migration wrote the genesis head: moved on after the rows
            counts[table.name] = 0
            result = src.execution_options(yield_per=BATCH).execute(
                select(table).order_by(*table.primary_key.columns))
            for chunk in result.mappings().partitions(BATCH):
                rows = [dict(r) for r in chunk]
                dst.execute(insert(table), rows)
                counts[table.name] += len(rows)
        # The head row is never deleted or added (migration 0010_head): it moves to the
        # source's head, which the copied trail's last row now matches.
        heads = src.execute(select(AuditHead.last_id, AuditHead.last_hash)).all()
        for last_id, last_hash in heads:
            dst.execute(update(AuditHead).where(AuditHead.id == 1).values(
                last_id=last_id, last_hash=last_hash))
        counts[AuditHead.__tablename__] = len(heads)
        if target.engine.dialect.name == "postgresql":
            _reset_sequences(dst)
    return CopyResult(counts)


def _reset_sequences(conn: object) -> None:
    """Explicit ids leave PostgreSQL's id sequences behind: move each past its table's max."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or str(pk[0].type) != "INTEGER":
            continue
        conn.execute(text(  # type: ignore[attr-defined]
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
            f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"))
