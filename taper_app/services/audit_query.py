"""Reading the audit trail: filter by patient, user, date and entity; export to CSV.

Every role may read the trail (monitors review it); a user bound to sites reads only the
rows of those sites' patients and their own account's rows (:func:`read_audit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, tzinfo
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
    #: Only these actions (the audit view's "kind" filter); None: every action.
    actions: tuple[str, ...] | None = None
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
    if f.actions:
        stmt = stmt.where(AuditEntry.action.in_(f.actions))
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
    actions: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)


def audit_choices(ctx: ServiceContext) -> AuditChoices:
    base = _scoped(select(AuditEntry), ctx.actor).subquery()
    with UnitOfWork(ctx.db, write=False) as uow:
        users = uow.session.scalars(select(base.c.username).distinct().order_by(
            base.c.username)).all()
        entities = uow.session.scalars(select(base.c.entity).distinct().order_by(
            base.c.entity)).all()
        actions = uow.session.scalars(select(base.c.action).distinct().order_by(
            base.c.action)).all()
        subjects = uow.session.scalars(select(base.c.subject_id).distinct().where(
            base.c.subject_id.is_not(None)).order_by(base.c.subject_id)).all()
    return AuditChoices(list(users), list(entities), list(actions), list(subjects))


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


# ---------------------------------------------------------------- the trail for people

#: What each audited action is, in words (an action not listed reads from its code).
ACTION_LABELS = {
    "create_study": "Study created", "add_template": "Schedule template added",
    "add_site": "Site added", "add_user": "User added", "change_role": "Role changed",
    "set_sites": "Sites changed", "deactivate_user": "User deactivated",
    "reset_password": "Password reset", "change_password": "Password changed",
    "change_setting": "Setting changed", "lock_account": "Account locked",
    "sign_in": "Signed in", "sign_in_failed": "Sign-in refused",
    "sign_in_refused": "Sign-in refused (first password)", "sign_out": "Signed out",
    "unlock": "Window unlocked", "unlock_failed": "Unlock refused",
    "reauthenticate_failed": "Password refused (re-authentication)",
    "enroll": "Patient enrolled", "correct_enrollment": "Enrollment corrected",
    "record_dose": "Dose recorded", "close_dose": "Dose record closed",
    "void_dose": "Dose record voided", "amend_schedule": "Schedule amended",
    "withdraw_amendment": "Amendment withdrawn", "sign": "Record signed",
    "sign_failed": "Signature refused (password)",
    "end_participation": "Participation ended",
    "reopen_participation": "Participation reopened",
    "verify_source": "Source-data verified", "open_query": "Query opened",
    "answer_query": "Query answered", "reask_query": "Query asked again",
    "close_query": "Query closed", "print_calendar": "Dosing calendar printed",
    "restore_backup": "Backup restored", "demo_setup": "Demo study set up",
}

#: Each audited field, in words.
FIELD_LABELS = {
    "drug": "Drug", "dose_mg": "Dose (mg)", "frequency": "Frequency", "route": "Route",
    "start_date": "Start", "end_date": "End", "source": "Source", "comment": "Comment",
    "deviation_reason": "Reason off schedule", "replaces_id": "Replaces record",
    "voided": "Voided", "site": "Site", "day1_date": "Day 1",
    "baseline_mg": "Baseline (mg/day)", "template_id": "Template",
    "kit_number": "Kit number", "notes": "Notes", "schedule": "Schedule",
    "from_day": "From study day", "steps": "Steps", "status": "Status",
    "disposition": "Disposition", "meaning": "Signature", "role": "Role",
    "full_name": "Printed name", "active": "Active", "sites": "Sites",
    "must_change_password": "Must choose a new password", "failed_logins": "Failed sign-ins",
    "locked_until": "Locked until", "password": "Password", "value": "Value",
    "sign_in": "Sign-in", "sign_out": "Sign-out", "unlock": "Unlock",
    "reauthenticate": "Re-authentication", "code": "Code",
}

ENTITY_LABELS = {"dose_record": "dose record", "patient": "patient", "schedule": "amendment",
                 "signature": "signature", "user": "user", "setting": "setting",
                 "site": "site", "schedule_template": "template", "study": "study",
                 "query": "query", "sdv": "verification"}

_VALUE_LABELS = {"True": "yes", "False": "no"}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace("_", " ").capitalize())


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def value_label(value: str | None) -> str:
    """A stored value as a person reads it: empty is "(none)", booleans yes/no."""
    if value is None or value == "":
        return "(none)"
    return _VALUE_LABELS.get(value, value)


@dataclass(frozen=True)
class FieldChange:
    """One field an action changed: its label and values in words, and the stored ones."""

    field: str
    old_value: str | None
    new_value: str | None
    row_id: int
    row_hash: str

    @property
    def label(self) -> str:
        return field_label(self.field)

    @property
    def text(self) -> str:
        """"Label: new" for a value set for the first time, else "Label: old → new"."""
        if self.old_value is None:
            return f"{self.label}: {value_label(self.new_value)}"
        return f"{self.label}: {value_label(self.old_value)} → {value_label(self.new_value)}"


@dataclass(frozen=True)
class AuditAction:
    """One action of one user (what one service call wrote about one thing): the audit
    rows that share its time, user, action and entity, with their changed fields."""

    at_utc: str
    username: str
    action: str
    entity: str
    entity_id: str
    subject_id: str | None
    reason: str | None
    changes: tuple[FieldChange, ...]

    @property
    def label(self) -> str:
        return action_label(self.action)

    @property
    def what(self) -> str:
        """The action and what it was done to, in words ("Dose recorded: dose record 12")."""
        thing = ENTITY_LABELS.get(self.entity, self.entity.replace("_", " "))
        if self.entity == "schedule" and "#" in self.entity_id:
            return f"{self.label}: amendment {self.entity_id.rpartition('#')[2]}"
        if self.entity == "study" or self.entity_id == self.subject_id:
            return self.label  # the patient (or the study) is the thing itself
        return f"{self.label}: {thing} {self.entity_id}"

    @property
    def summary(self) -> str:
        """Every changed field in one line (the row's "Changes" column)."""
        return "; ".join(c.text for c in self.changes)

    @property
    def first_id(self) -> int:
        return min(c.row_id for c in self.changes)

    @property
    def moment(self) -> datetime:
        return datetime.strptime(self.at_utc, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def local_time(self, zone: tzinfo | None = None) -> datetime:
        """The action's time in ``zone`` (default: this computer's local time zone)."""
        return self.moment.astimezone(zone)


def group_actions(rows: list[AuditRow]) -> list[AuditAction]:
    """Audit rows (in any order) as actions, newest first, each with its fields in the
    order they were written; one action per (time, user, action, entity, reason)."""
    groups: dict[tuple[str, str, str, str, str, str | None], list[AuditRow]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        key = (row.at_utc, row.username, row.action, row.entity, row.entity_id, row.reason)
        groups.setdefault(key, []).append(row)
    actions = [AuditAction(first.at_utc, first.username, first.action, first.entity,
                           first.entity_id, first.subject_id, first.reason,
                           tuple(FieldChange(r.field, r.old_value, r.new_value, r.id,
                                             r.row_hash) for r in group))
               for group in groups.values() for first in (group[0],)]
    actions.sort(key=lambda a: a.first_id, reverse=True)
    return actions
