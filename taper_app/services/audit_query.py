"""Reading the audit trail: filter by patient, user, date and entity; export to CSV.

Every role may read the trail (monitors review it); a user bound to sites reads only the
rows of those sites' patients and their own account's rows (:func:`read_audit`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.sql import Select

from ..reports.csv_cells import safe_writer
from ..results import AuditHeadMark
from ..storage.engine import Database
from ..storage.models import AuditEntry, Patient
from ..storage.uow import UnitOfWork
from .auth import Actor
from .context import ServiceContext
from .errors import NotFound


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


def _filtered(f: AuditFilter) -> Select[Any]:
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
    return stmt


def _rows(db: Database, stmt: Select[Any], limit: int | None) -> list[AuditRow]:
    stmt = stmt.order_by(AuditEntry.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with UnitOfWork(db, write=False) as uow:
        return [AuditRow(e.id, e.at_utc, e.username, e.action, e.entity, e.entity_id,
                         e.subject_id, e.field, e.old_value, e.new_value, e.reason, e.row_hash)
                for e in uow.session.scalars(stmt)]


def query_audit(db: Database, f: AuditFilter = AuditFilter(), limit: int | None = None) -> list[
        AuditRow]:
    """Audit rows newest first, filtered (no user's site limits: the command line's door)."""
    return _rows(db, _filtered(f), limit)


def _scoped(stmt: Select[Any], actor: Actor) -> Select[Any]:
    if actor.sites is None:
        return stmt
    their_patients = select(Patient.subject_id).where(Patient.site_code.in_(actor.sites))
    return stmt.where(or_(AuditEntry.subject_id.in_(their_patients),
                          and_(AuditEntry.subject_id.is_(None),
                               AuditEntry.username == actor.username)))


def read_audit(ctx: ServiceContext, f: AuditFilter = AuditFilter(),
               limit: int | None = None) -> list[AuditRow]:
    """The signed-in user's view of the trail, newest first.

    Open to every role; a patient of a site the user does not work for is refused, and
    study-wide rows are limited to the user's sites (and their own account).
    """
    if f.subject_id:
        with UnitOfWork(ctx.db, write=False) as uow:
            site = uow.session.scalar(select(Patient.site_code).where(
                Patient.subject_id == f.subject_id))
        if site is None:
            raise NotFound(f"no patient {f.subject_id!r}")
        ctx.actor.require_site(site)
    return _rows(ctx.db, _scoped(_filtered(f), ctx.actor), limit)


@dataclass(frozen=True)
class AuditChoices:
    """What the filters can offer: the user names and entities found in the trail."""

    usernames: list[str]
    entities: list[str]


def audit_choices(ctx: ServiceContext) -> AuditChoices:
    base = _scoped(select(AuditEntry), ctx.actor).subquery()
    with UnitOfWork(ctx.db, write=False) as uow:
        users = uow.session.scalars(select(base.c.username).distinct().order_by(
            base.c.username)).all()
        entities = uow.session.scalars(select(base.c.entity).distinct().order_by(
            base.c.entity)).all()
    return AuditChoices(list(users), list(entities))


AUDIT_COLUMNS = tuple(f.name for f in fields(AuditRow))


def audit_csv_preamble(head: AuditHeadMark) -> list[str]:
    """The audit CSV's first lines (``#`` comments, before the header row): the trail's
    head, as ``audit verify --head`` takes it, and how formula-like cells were disarmed.

    No commas in them, so a spreadsheet shows each line whole in its first cell.
    """
    return [f"# audit trail head: {head.short} ({head.rows} rows; last row's hash "
            f"{head.hash}); check it later with: taper-app audit verify --head {head.short}",
            "# a cell beginning with = + - (unless a plain number) @ tab or carriage return "
            "and a cell beginning with ' has one ' put before it: remove that one ' to get "
            "the stored text"]


def export_audit_csv(rows: list[AuditRow], path: Path, *, head: AuditHeadMark) -> Path:
    """Write ``rows`` in id order under the preamble; ``head`` is the trail's head read
    before the rows (services.audit.head_of), so the trail holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        for line in audit_csv_preamble(head):
            fh.write(line + "\r\n")
        w = safe_writer(fh)
        w.writerow(AUDIT_COLUMNS)
        for r in sorted(rows, key=lambda r: r.id):
            w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in AUDIT_COLUMNS])
    return path
