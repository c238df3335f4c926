"""Reading the audit trail: filter by patient, user, date and entity; export to CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from ..storage.engine import Database
from ..storage.models import AuditEntry
from ..storage.uow import UnitOfWork


@dataclass(frozen=True)
class AuditRow:
    id: int
    at_utc: str
    username: str
    action: str
    entity: str
    entity_id: str
    subject_id: str | None
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None
    row_hash: str


@dataclass(frozen=True)
class AuditFilter:
    subject_id: str | None = None
    username: str | None = None
    entity: str | None = None
    since: date | None = None   # inclusive, UTC date
    until: date | None = None   # inclusive, UTC date


def query_audit(db: Database, f: AuditFilter = AuditFilter(), limit: int | None = None) -> list[
        AuditRow]:
    """Audit rows newest first, filtered."""
    stmt = select(AuditEntry)
    if f.subject_id:
        stmt = stmt.where(AuditEntry.subject_id == f.subject_id)
    if f.username:
        stmt = stmt.where(AuditEntry.username == f.username)
    if f.entity:
        stmt = stmt.where(AuditEntry.entity == f.entity)
    if f.since:
        stmt = stmt.where(AuditEntry.at_utc >= f.since.isoformat())
    if f.until:
        stmt = stmt.where(AuditEntry.at_utc < (f.until + timedelta(days=1)).isoformat())
    stmt = stmt.order_by(AuditEntry.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with UnitOfWork(db, write=False) as uow:
        return [AuditRow(e.id, e.at_utc, e.username, e.action, e.entity, e.entity_id,
                         e.subject_id, e.field, e.old_value, e.new_value, e.reason, e.row_hash)
                for e in uow.session.scalars(stmt)]


AUDIT_COLUMNS = tuple(f.name for f in fields(AuditRow))


def export_audit_csv(rows: list[AuditRow], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(AUDIT_COLUMNS)
        for r in sorted(rows, key=lambda r: r.id):
            w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in AUDIT_COLUMNS])
    return path
