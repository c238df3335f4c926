"""The patient list's triage: what needs attention for each patient today, one function per
figure, and the one rule that orders them (docs/figures.md, "The patient list")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import and_, func, or_, select

from ..domain.figures import PatientFigures
from ..results import TRIAGE_FLAGS, PatientAnalysis, SignatureState, Triage
from ..storage.engine import Database
from ..storage.models import DoseRecordRow
from ..storage.uow import UnitOfWork
from .signatures import signature_states

#: Routes of a pulse (with ``ONCE``, a one-off on top of the daily dose).
PULSE_ROUTES = frozenset({"IV", "IM"})


class Entry(NamedTuple):
    """The few columns of a dose record the triage reads (one light query for a study)."""

    start_date: date
    end_date: date | None
    frequency: str
    route: str
    has_reason: bool
    created_at: datetime
    voided: bool


def todays_state(figures: PatientFigures) -> str:
    """The figures' date against the schedule: on_schedule, above, below or missing."""
    return figures.last_status


def missing_day_count(figures: PatientFigures) -> int:
    """Days from Day 1 to the figures' date that no record covers (``missing_days``)."""
    return figures.missing_days


def pulse_on(entries: Sequence[Entry], day: date) -> bool:
    """A valid pulse on ``day``: a ``ONCE`` record of that day, or an IV or IM record
    covering it."""
    for e in entries:
        if e.voided or e.start_date > day:
            continue
        if e.frequency == "ONCE":
            if e.start_date == day:
                return True
        elif e.route in PULSE_ROUTES and (e.end_date is None or e.end_date >= day):
            return True
    return False


def days_needing_reason(analysis: PatientAnalysis, entries: Sequence[Entry]) -> int:
    """Deviation days (domain.md §5, Day 1 to the figures' date) not covered by a valid
    record that gives a reason for differing, nor by a pulse (which explains itself)."""
    curves = analysis.curves
    needing = np.asarray(curves.deviation) != 0
    if not needing.any():
        return 0
    day1, n = analysis.record.day1_date, int(needing.size)
    for e in entries:
        if e.voided or not (e.has_reason or e.frequency == "ONCE"):
            continue
        last = e.start_date if e.frequency == "ONCE" else e.end_date
        lo = (e.start_date - day1).days
        hi = n - 1 if last is None else (last - day1).days
        lo, hi = max(lo, 0), min(hi, n - 1)
        if lo <= hi:
            needing[lo:hi + 1] = False
    return int(needing.sum())


def last_entry_date(last_entered: datetime | date | str | None) -> date | None:
    """The date (UTC) of the patient's last dose record entry, voided ones included, from
    the latest ``created_at`` of their records (None: nothing entered)."""
    if last_entered is None:
        return None
    if isinstance(last_entered, str):  # SQLite's MAX() of a stored timestamp is its text
        return date.fromisoformat(last_entered[:10])
    return last_entered.date() if isinstance(last_entered, datetime) else last_entered


def triage_flags(today: str, missing_days: int, pulse_today: bool, needing_reason: int,
                 signature: SignatureState) -> tuple[str, ...]:
    """The badge rule: every flag that applies, most urgent first (TRIAGE_FLAGS)."""
    applies = {"above": today == "above", "below": today == "below",
               "missing": missing_days > 0, "pulse": pulse_today,
               "reason": needing_reason > 0, "signature": signature.needs_signature}
    return tuple(flag for flag in TRIAGE_FLAGS if applies[flag])


def triage(analysis: PatientAnalysis, entries: Sequence[Entry],
           last_entered: datetime | date | str | None, signature: SignatureState) -> Triage:
    """``entries``: the patient's pulses and records giving a reason (others cannot change
    the pulse or reason flags); ``last_entered``: their latest record's entry time."""
    f = analysis.figures
    today, missing = todays_state(f), missing_day_count(f)
    pulse = pulse_on(entries, f.as_of)
    reason = days_needing_reason(analysis, entries)
    return Triage(today, triage_flags(today, missing, pulse, reason, signature), missing,
                  pulse, reason, last_entry_date(last_entered), signature, f.target.status)


_ENTRY_COLUMNS = (DoseRecordRow.patient_id, DoseRecordRow.start_date, DoseRecordRow.end_date,
                  DoseRecordRow.frequency, DoseRecordRow.route,
                  DoseRecordRow.deviation_reason, DoseRecordRow.created_at,
                  DoseRecordRow.voided)


def triage_all(db: Database, analyses: Sequence[PatientAnalysis]) -> list[Triage]:
    """Each analysed patient's triage, in their order, for the whole list in three light
    reads: the records that can matter (pulses and records giving a reason: a few per
    patient), each patient's last entry time, and the signatures. Reading every record
    again here cost as much as the figures for a thousand patients."""
    ids = {a.record.id for a in analyses}
    one = next(iter(ids)) if len(ids) == 1 else None
    reason = DoseRecordRow.deviation_reason
    stmt = select(*_ENTRY_COLUMNS).where(
        DoseRecordRow.voided.is_(False),
        or_(DoseRecordRow.frequency == "ONCE", DoseRecordRow.route.in_(sorted(PULSE_ROUTES)),
            and_(reason.is_not(None), func.trim(reason) != "")))
    last = select(DoseRecordRow.patient_id, func.max(DoseRecordRow.created_at)).group_by(
        DoseRecordRow.patient_id)
    if one is not None:
        stmt = stmt.where(DoseRecordRow.patient_id == one)
        last = last.where(DoseRecordRow.patient_id == one)
    entries: dict[int, list[Entry]] = defaultdict(list)
    with UnitOfWork(db, write=False) as uow:
        for pid, start, end, frequency, route, why, created, voided in uow.session.execute(
                stmt):
            if pid in ids:
                entries[pid].append(Entry(start, end, frequency, route,
                                          bool(why and why.strip()), created, bool(voided)))
        entered: dict[int, datetime | None] = {
            pid: when for pid, when in uow.session.execute(last)}
    signatures = signature_states(db, [a.record for a in analyses])
    return [triage(a, entries[a.record.id], entered.get(a.record.id),
                   signatures[a.record.subject_id]) for a in analyses]
