"""The audit trail reconciled with the data it describes.

The hash chain proves the trail has not been edited; it says nothing about the tables.
Here the trail is replayed: for every audited field, the value its last audit event gave
it is compared with the row's current value, every row must have an audit history, and
every row the trail created must still exist. A row changed, added or removed outside the
application (with SQL, or with a file editor) is reported by table, id and field.

What is replayed (the fields the services audit):

- ``patient``: site, Day 1, baseline, template, kit number, notes, and the stored schedule
  (its steps as enrolled and as each amendment replaced them);
- ``dose_record``: every entered field, its closing (end date) and voiding;
- ``amendment``: day, dose and its withdrawal; a withdrawn amendment is left out of the
  replay, and the steps a correction or withdrawal retired (``retired_by_id``) too: the
  schedule was stored again from the template and the amendments still in force;
- ``signature``: each row matches its own ``sign`` event (meaning, date, data hash,
  signer and the audit row it was made at);
- ``app_user``: role, printed name, active, sites; ``site``; ``app_setting``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.units import format_mg
from ..storage.models import (
    Amendment,
    AppSetting,
    AuditEntry,
    DoseRecordRow,
    Patient,
    ScheduleStepRow,
    Signature,
    Site,
    User,
    UserSite,
)


@dataclass(frozen=True)
class Discrepancy:
    """One place where the data and its audit trail disagree."""

    table: str
    row_id: str
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.table} {self.row_id}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class _Event:
    id: int
    action: str
    username: str
    new_value: str | None
    reason: str | None
    subject_id: str | None = None


# The last event per (entity, entity id, field), and which entity ids the trail knows.
_Last = dict[tuple[str, str, str], _Event]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(value: object) -> str | None:
    return None if value is None else value.isoformat()  # type: ignore[attr-defined]


def _read_events(session: Session) -> tuple[_Last, dict[tuple[str, str], list[_Event]]]:
    last: _Last = {}
    every: dict[tuple[str, str], list[_Event]] = defaultdict(list)
    rows = session.execute(select(
        AuditEntry.id, AuditEntry.action, AuditEntry.username, AuditEntry.entity,
        AuditEntry.entity_id, AuditEntry.field, AuditEntry.new_value, AuditEntry.reason,
        AuditEntry.subject_id).order_by(AuditEntry.id)).yield_per(5000)
    for row_id, action, username, entity, entity_id, field, new, reason, subject in rows:
        event = _Event(row_id, action, username, new, reason, subject)
        last[(entity, entity_id, field)] = event
        if entity in _KEPT_EVENTS:
            every[(entity, entity_id)].append(event)
    return last, every


# Entities whose every event (not only the last per field) the checks need.
_KEPT_EVENTS = {"signature", "schedule", "patient"}


class _Checker:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.found: list[Discrepancy] = []
        self.last, self.every = _read_events(session)
        self.seen: set[tuple[str, str]] = set()

    def report(self, table: str, row_id: object, field: str, problem: str) -> None:
        self.found.append(Discrepancy(table, str(row_id), field, problem))

    def fields(self, table: str, entity: str, entity_id: str,
               expected: Iterable[tuple[str, str | None]],
               absent_is: Callable[[str], str | None] = lambda _f: None) -> None:
        """Compare each (field, current text) with the last audited value of that field."""
        for field, current in expected:
            event = self.last.get((entity, entity_id, field))
            audited = event.new_value if event is not None else absent_is(field)
            if audited != current:
                shown = "(empty)" if current is None else repr(current)
                trail = "(none)" if audited is None else repr(audited)
                self.report(table, entity_id, field,
                            f"is {shown} but the audit trail last recorded {trail} "
                            "(changed outside the application)")

    def created(self, table: str, entity: str, entity_id: str, field: str) -> bool:
        """Whether the trail recorded this row's creation; report it when not."""
        self.seen.add((entity, entity_id))
        if (entity, entity_id, field) in self.last:
            return True
        self.report(table, entity_id, "", "has no audit history (added outside the "
                                          "application)")
        return False

    def removed(self, table: str, entity: str, field: str) -> None:
        """Rows the trail created that are no longer in the table."""
        for (ent, entity_id, fld) in self.last:
            if ent == entity and fld == field and (entity, entity_id) not in self.seen:
                self.report(table, entity_id, "", "is in the audit trail but no longer in the "
                                                  "data (removed outside the application)")


def _check_patients(c: _Checker) -> dict[int, str]:
    subjects: dict[int, str] = {}
    for p in c.session.scalars(select(Patient)):
        subjects[p.id] = p.subject_id
        if not c.created("patient", "patient", p.subject_id, "day1_date"):
            continue
        c.fields("patient", "patient", p.subject_id, [
            ("site", p.site_code), ("day1_date", _iso(p.day1_date)),
            ("baseline_mg", format_mg(p.baseline_ug)), ("template_id", p.template_id),
            ("kit_number", p.kit_number), ("notes", p.notes)])
    c.removed("patient", "patient", "day1_date")
    return subjects


def _check_doses(c: _Checker, subjects: dict[int, str]) -> None:
    for d in c.session.scalars(select(DoseRecordRow).order_by(DoseRecordRow.id)):
        key = str(d.id)
        if not c.created("dose_record", "dose_record", key, "start_date"):
            continue
        c.fields("dose_record", "dose_record", key, [
            ("drug", d.drug), ("dose_mg", format_mg(d.dose_ug)), ("frequency", d.frequency),
            ("route", d.route), ("start_date", _iso(d.start_date)),
            ("end_date", _iso(d.end_date)), ("source", d.source), ("comment", d.comment),
            ("deviation_reason", d.deviation_reason), ("replaces_id", _text(d.replaces_id)),
            ("voided", "True" if d.voided else None)],
            absent_is=lambda f: None)
        created = c.last.get(("dose_record", key, "start_date"))
        if created is not None and created.username != d.created_by:
            c.report("dose_record", key, "created_by",
                     f"is {d.created_by!r} but the audit trail says {created.username!r} "
                     "entered it (changed outside the application)")
        void = c.last.get(("dose_record", key, "voided"))
        if d.voided and void is not None and (void.reason != d.void_reason
                                              or void.username != d.voided_by):
            c.report("dose_record", key, "void_reason",
                     "the void's reason or author is not the audited one "
                     "(changed outside the application)")
        if subjects.get(d.patient_id) is None:
            c.report("dose_record", key, "patient_id", "belongs to no patient")
        elif created is not None and created.subject_id != subjects[d.patient_id]:
            c.report("dose_record", key, "patient_id",
                     f"belongs to {subjects[d.patient_id]} but the audit trail recorded it "
                     f"for {created.subject_id} (moved outside the application)")
    c.removed("dose_record", "dose_record", "start_date")


def _check_schedules(c: _Checker, subjects: dict[int, str]) -> None:
    """Replay each patient's stored steps: as enrolled, then each amendment in order."""
    steps: dict[int, list[ScheduleStepRow]] = defaultdict(list)
    # Steps retired by a correction or a withdrawal (which stored the schedule again) are
    # kept but no longer replayed: the steps stored since are.
    for s in c.session.scalars(select(ScheduleStepRow).where(
            ScheduleStepRow.retired_by_id.is_(None)).order_by(ScheduleStepRow.day,
                                                              ScheduleStepRow.id)):
        steps[s.patient_id].append(s)
    amendments: dict[int, list[Amendment]] = defaultdict(list)
    for a in c.session.scalars(select(Amendment).order_by(Amendment.seq)):
        amendments[a.patient_id].append(a)

    def text(rows: Iterable[ScheduleStepRow]) -> str:
        return "; ".join(f"day {r.day}: {format_mg(r.dose_ug)} mg" for r in rows) or "(none)"

    for patient_id, subject in subjects.items():
        rows = steps.get(patient_id, [])
        enrolled = c.last.get(("patient", subject, "schedule"))
        if enrolled is not None and text(r for r in rows if r.amendment_id is None) \
                != enrolled.new_value:
            c.report("schedule_step", subject, "dose", "the steps as enrolled are not the "
                     "audited ones (changed outside the application)")
        active = [r for r in rows if r.amendment_id is None]
        for a in amendments.get(patient_id, []):
            key = f"{subject}#{a.seq}"
            c.seen.add(("schedule", key))
            if ("schedule", key, "from_day") not in c.last:
                c.report("amendment", key, "", "has no audit history (added outside the "
                                                "application)")
                continue
            c.fields("amendment", "schedule", key, [("from_day", str(a.day))])
            if c.last[("schedule", key, "from_day")].reason != a.reason:
                c.report("amendment", key, "reason", "is not the audited reason "
                         "(changed outside the application)")
            status = c.last.get(("schedule", key, "status"))
            withdrawn = status is not None and status.new_value == "withdrawn"
            if withdrawn != (a.withdrawn_at is not None) or (withdrawn and status is not None and (
                    status.reason != a.withdraw_reason or status.username != a.withdrawn_by)):
                c.report("amendment", key, "withdrawn",
                         "is not the audited withdrawal (changed outside the application)")
            dose = c.last.get(("schedule", key, "dose_mg"))
            if dose is None or dose.new_value is None or format_mg(a.dose_ug) != \
                    format_mg(_mg_text_to_ug(dose.new_value)):
                c.report("amendment", key, "dose_mg", "is not the audited dose "
                         "(changed outside the application)")
            if a.withdrawn_at is not None:
                continue  # the schedule was stored again without it
            replaced = [r for r in active if r.day >= a.day]
            if any(r.superseded_by_id != a.id for r in replaced):
                c.report("schedule_step", key, "superseded_by",
                         "the steps this amendment replaced are not marked so "
                         "(changed outside the application)")
            new_rows = [r for r in rows if r.amendment_id == a.id]
            audited = c.last.get(("schedule", key, "steps"))
            if audited is None or text(new_rows) != audited.new_value:
                c.report("schedule_step", key, "dose", "the amendment's steps are not the "
                         "audited ones (changed outside the application)")
            active = [r for r in active if r.day < a.day] + new_rows
        if any(r.superseded_by_id is not None for r in active):
            c.report("schedule_step", subject, "superseded_by",
                     "a step in force is marked as replaced (changed outside the application)")
    c.removed("amendment", "schedule", "from_day")


def _mg_text_to_ug(text: str) -> int:
    from ..domain.units import mg_to_ug

    try:
        return mg_to_ug(text)
    except (ValueError, ArithmeticError):
        return -1


def _check_signatures(c: _Checker, subjects: dict[int, str]) -> None:
    signed: dict[str, list[Signature]] = defaultdict(list)
    for s in c.session.scalars(select(Signature).order_by(Signature.id)):
        subject = subjects.get(s.patient_id, f"patient {s.patient_id}")
        signed[subject].append(s)
        events = {e.id: e for e in c.every.get(("signature", subject), [])}
        event = events.get(s.audit_id_at_signing)
        expected = (f"{s.meaning} through {s.signed_through.isoformat()} "
                    f"sha256 {s.data_sha256}")
        if event is None or event.action != "sign":
            c.report("signature", str(s.id), "", "has no audit history (a signature added "
                     "outside the application)")
        elif event.new_value != expected or event.username != s.username:
            c.report("signature", str(s.id), "meaning",
                     "is not what its audited signing recorded (changed outside the "
                     "application)")
    for (entity, subject), kept in c.every.items():
        if entity != "signature":
            continue
        rows = {s.audit_id_at_signing for s in signed.get(subject, [])}
        for e in kept:
            if e.action == "sign" and e.id not in rows:
                c.report("signature", subject, "", f"signed at audit row {e.id} is no longer "
                         "in the data (removed outside the application)")


def _check_users(c: _Checker) -> None:
    sites: dict[int, list[str]] = defaultdict(list)
    for us in c.session.scalars(select(UserSite).order_by(UserSite.site_code)):
        sites[us.user_id].append(us.site_code)
    for u in c.session.scalars(select(User)):
        if not c.created("app_user", "user", u.username, "role"):
            continue
        c.fields("app_user", "user", u.username, [
            ("role", u.role), ("full_name", u.full_name),
            ("active", "False" if not u.active else "True"),
            ("sites", ", ".join(sites[u.id]) if sites[u.id] else "(all)")],
            absent_is=lambda f: {"active": "True", "sites": "(all)"}.get(f))
    c.removed("app_user", "user", "role")
    for site in c.session.scalars(select(Site)):
        c.created("site", "site", site.code, "code")
    c.removed("site", "site", "code")
    for setting in c.session.scalars(select(AppSetting)):
        if c.created("app_setting", "setting", setting.key, "value"):
            c.fields("app_setting", "setting", setting.key, [("value", setting.value)])


def reconcile(session: Session) -> list[Discrepancy]:
    """Every place where the tables and the audit trail disagree, in table order."""
    c = _Checker(session)
    subjects = _check_patients(c)
    _check_doses(c, subjects)
    _check_schedules(c, subjects)
    _check_signatures(c, subjects)
    _check_users(c)
    return c.found
