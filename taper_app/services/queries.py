"""Queries (discrepancy notes): a monitor opens a query to the site about a patient or one
of their dose records; a nurse or investigator answers it; the monitor closes it or asks
again. Every step is one transaction, attributed and audited; nothing is deleted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.units import format_mg
from ..results import QueryMessage, QueryView
from ..storage.engine import Database
from ..storage.models import DataQuery, DataQueryMessage, DoseRecordRow, Patient
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import NotFound, Problem, ValidationError
from .patients import lock_patient
from .saving import saving
from .validation import check_length

STATES = ("open", "answered", "closed")


def _text(value: str | None, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError([Problem("text", "the text is required")])
        return None
    too_long = check_length(text, "text")
    if too_long:
        raise ValidationError(too_long)
    return text


def _locked_query(session: Session, ctx: ServiceContext, query_id: int,
                  ) -> tuple[DataQuery, Patient]:
    query = session.get(DataQuery, query_id)
    if query is None:
        raise NotFound(f"no query {query_id}")
    patient = lock_patient(session, ctx.actor, patient_id=query.patient_id)
    session.refresh(query)  # read again under the patient's lock
    return query, patient


@saving("open a query")
def open_query(ctx: ServiceContext, subject_id: str, text: str,
               record_id: int | None = None) -> int:
    """A monitor's query to the site; returns its id."""
    ctx.actor.require("raise_query")
    body = _text(text)
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        audit = AuditTrail(session, ctx.actor.username, ctx.clock)
        patient = lock_patient(session, ctx.actor, subject_id=subject_id)
        if record_id is not None:
            row = session.get(DoseRecordRow, record_id)
            if row is None or row.patient_id != patient.id:
                raise ValidationError([Problem("record", (
                    f"{subject_id} has no dose record {record_id}"))])
        query = DataQuery(patient_id=patient.id, dose_record_id=record_id, state="open",
                          opened_by=ctx.actor.username, opened_at_utc=audit.at,
                          text=body or "")
        session.add(query)
        session.flush()
        audit.add_fields("open_query", "query", query.id, [
            ("record_id", None, record_id), ("text", None, body), ("state", None, "open")],
            subject_id=subject_id)
        uow.commit()
        return query.id


def _step(ctx: ServiceContext, query_id: int, kind: str, text: str | None,
          allowed_from: Sequence[str], new_state: str) -> None:
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        audit = AuditTrail(session, ctx.actor.username, ctx.clock)
        query, patient = _locked_query(session, ctx, query_id)
        if query.state not in allowed_from:
            raise ValidationError([Problem("state", (
                f"query {query_id} is {query.state}; it can be "
                f"{'answered' if kind == 'answer' else kind + 'd'} only when "
                f"{' or '.join(allowed_from)}"))])
        session.add(DataQueryMessage(query_id=query.id, kind=kind,
                                     username=ctx.actor.username, at_utc=audit.at, text=text))
        old_state, query.state = query.state, new_state
        audit.add_fields(f"{kind}_query", "query", query.id, [
            ("text", None, text), ("state", old_state, new_state)],
            subject_id=patient.subject_id)
        uow.commit()


@saving("answer a query")
def answer_query(ctx: ServiceContext, query_id: int, text: str) -> None:
    """The site's answer (nurse or investigator): an open query becomes answered."""
    ctx.actor.require("answer_query")
    _step(ctx, query_id, "answer", _text(text), ("open",), "answered")


@saving("close a query")
def close_query(ctx: ServiceContext, query_id: int, text: str | None = None) -> None:
    """The monitor closes an open or answered query, with an optional note."""
    ctx.actor.require("raise_query")
    _step(ctx, query_id, "close", _text(text, required=False), ("open", "answered"), "closed")


@saving("ask a query again")
def reask_query(ctx: ServiceContext, query_id: int, text: str) -> None:
    """The monitor is not satisfied with the answer: the query is open again."""
    ctx.actor.require("raise_query")
    _step(ctx, query_id, "reask", _text(text), ("answered",), "open")


def list_queries(ctx: ServiceContext, subject_id: str | None = None,
                 state: str | None = None) -> list[QueryView]:
    """Queries of the user's sites (of one patient, in one state), oldest first."""
    if state is not None and state not in STATES:
        raise ValidationError([Problem("state", f"{state!r} is not one of "
                                                f"{', '.join(STATES)}")])
    with UnitOfWork(ctx.db, write=False) as uow:
        session = uow.session
        stmt = (select(DataQuery, Patient.subject_id, Patient.site_code)
                .join(Patient, Patient.id == DataQuery.patient_id).order_by(DataQuery.id))
        if subject_id is not None:
            if session.scalars(select(Patient.id).where(
                    Patient.subject_id == subject_id)).first() is None:
                raise NotFound(f"no patient {subject_id!r}")
            stmt = stmt.where(Patient.subject_id == subject_id)
        if state is not None:
            stmt = stmt.where(DataQuery.state == state)
        rows = [(q, s, site) for q, s, site in session.execute(stmt)
                if ctx.actor.works_for(site)]
        return _views(session, rows)


def _record_text(row: DoseRecordRow) -> str:
    """A dose record in words, as the site knows it: drug, dose, frequency, dates."""
    end = f" to {row.end_date.isoformat()}" if row.end_date is not None else ""
    voided = " (voided)" if row.voided else ""
    return (f"{row.drug} {format_mg(row.dose_ug)} mg {row.frequency} from "
            f"{row.start_date.isoformat()}{end}{voided}")


def _views(session: Session, rows: Sequence[tuple[DataQuery, str, str]]) -> list[QueryView]:
    messages: dict[int, list[QueryMessage]] = defaultdict(list)
    ids = [q.id for q, _, _ in rows]
    records: dict[int, str] = {}
    if ids:
        for m in session.scalars(select(DataQueryMessage).where(
                DataQueryMessage.query_id.in_(ids)).order_by(DataQueryMessage.id)):
            messages[m.query_id].append(QueryMessage(m.kind, m.username, m.at_utc, m.text))
        record_ids = {q.dose_record_id for q, _, _ in rows if q.dose_record_id is not None}
        if record_ids:
            records = {r.id: _record_text(r) for r in session.scalars(
                select(DoseRecordRow).where(DoseRecordRow.id.in_(record_ids)))}
    return [QueryView(q.id, s, site, q.dose_record_id, q.state, q.opened_by,
                      q.opened_at_utc, q.text, tuple(messages[q.id]),
                      records.get(q.dose_record_id) if q.dose_record_id is not None else None)
            for q, s, site in rows]


def patient_queries(db: Database, subject_id: str) -> list[QueryView]:
    """Every query on one patient, oldest first (the patient PDF; its caller has already
    checked the user may see the patient)."""
    with UnitOfWork(db, write=False) as uow:
        stmt = (select(DataQuery, Patient.subject_id, Patient.site_code)
                .join(Patient, Patient.id == DataQuery.patient_id)
                .where(Patient.subject_id == subject_id).order_by(DataQuery.id))
        return _views(uow.session, [(q, s, site) for q, s, site in uow.session.execute(stmt)])


def unresolved_counts(db: Database, subject_id: str | None = None,
                      ) -> dict[str, tuple[int, int]]:
    """Per subject: (open, answered) queries, those not closed yet, in one read (the list;
    one patient's pane with ``subject_id``)."""
    out: dict[str, tuple[int, int]] = {}
    stmt = (select(Patient.subject_id, DataQuery.state)
            .join(Patient, Patient.id == DataQuery.patient_id)
            .where(DataQuery.state != "closed"))
    if subject_id is not None:
        stmt = stmt.where(Patient.subject_id == subject_id)
    with UnitOfWork(db, write=False) as uow:
        for subject, state in uow.session.execute(stmt):
            opened, answered = out.get(subject, (0, 0))
            out[subject] = (opened + (state == "open"), answered + (state == "answered"))
    return out


def query_dict(q: QueryView) -> dict[str, Any]:
    """One query in the ``query list --json`` contract (interfaces.md)."""
    return {"id": q.id, "subject_id": q.subject_id, "record_id": q.record_id,
            "state": q.state, "opened_by": q.opened_by, "opened_at": q.opened_at_utc,
            "text": q.text,
            "answers": [{"by": a.by, "at": a.at_utc, "text": a.text} for a in q.answers]}


def queries_json(queries: Sequence[QueryView]) -> str:
    return json.dumps([query_dict(q) for q in queries], indent=2)
