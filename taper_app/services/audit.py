"""The audit trail: append-only rows, each hashed over a canonical form and chained.

Every change a service makes passes through :class:`AuditTrail` in the same
transaction, so the data and its audit rows are written together or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ..results import AuditHeadMark
from ..storage.engine import Database
from ..storage.models import AuditEntry, AuditHead
from ..storage.uow import UnitOfWork
from ..storage.writing import insert_rows
from .lock_order import chain_head_locked

GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("id", "at_utc", "username", "action", "entity", "entity_id", "subject_id",
                 "field", "old_value", "new_value", "reason")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z: unambiguous and sortable."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, values: dict[str, object]) -> str:
    canonical = json.dumps({k: values[k] for k in HASHED_FIELDS}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


#: One JSON string literal, exactly as ``json.dumps(..., ensure_ascii=False)`` writes it.
_json_string = json.JSONEncoder(ensure_ascii=False).encode


def _json_value(value: object) -> str:
    """``value`` as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    if value is None:
        return "null"
    if type(value) is str:
        return _json_string(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # not met in practice


#: Most values repeat row after row (actions, fields, drugs, dates, subjects): their JSON
#: is looked up rather than written again; bounded, so a file of unique comments is too.
_json_cached = functools.lru_cache(maxsize=8192, typed=True)(_json_value)


def canonical_form(values: dict[str, object]) -> str:
    """The text :func:`row_hash` hashes, written piece by piece rather than by ``json.dumps``.

    Character for character what ``json.dumps(..., sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`` gives for the hashed fields (a property test holds the two
    together), several times faster: a bulk import hashes hundreds of thousands of rows,
    and the pieces that are the same for every field of one record are written once.
    :func:`row_hash`, and so the chain check, keep ``json.dumps``: every row written this
    way is checked by the other.
    """
    return (_canonical_head(values["action"], _json_cached(values["at_utc"]),
                            values["entity"], values["entity_id"])
            + _canonical_field(values["field"], values["id"], values["new_value"],
                               values["old_value"])
            + _canonical_tail(values["reason"], values["subject_id"],
                              _json_cached(values["username"])))


# The hashed fields in key order: action, at_utc, entity, entity_id | field, id, new_value,
# old_value | reason, subject_id, username. The first and last groups are one record's.

def _canonical_head(action: object, at_json: str, entity: object, entity_id: object) -> str:
    return "".join(('{"action":', _json_cached(action), ',"at_utc":', at_json, ',"entity":',
                    _json_cached(entity), ',"entity_id":', _json_cached(entity_id),
                    ',"field":'))


def _canonical_field(field: object, row_id: object, new: object, old: object) -> str:
    return "".join((_json_cached(field), ',"id":',
                    str(row_id) if type(row_id) is int else _json_value(row_id),
                    ',"new_value":', _json_cached(new), ',"old_value":', _json_cached(old)))


def _canonical_tail(reason: object, subject_id: object, username_json: str) -> str:
    return "".join((',"reason":', _json_cached(reason), ',"subject_id":',
                    _json_cached(subject_id), ',"username":', username_json, "}"))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


_AUDIT_LOG = cast(Table, AuditEntry.__table__)
_AUDIT_COLUMNS = ("id", "at_utc", "username", "action", "entity", "entity_id", "subject_id",
                  "field", "old_value", "new_value", "reason", "prev_hash", "row_hash")

#: One record's changes as :meth:`AuditTrail.add_fields_many` takes them: action, entity,
#: entity_id, the (field, old, new) changes, reason, subject_id (as for ``add_fields``).
AuditRecord = tuple[str, str, object, Iterable[tuple[str, object, object]], str | None,
                    str | None]


class AuditTrail:
    """Appends chained rows inside one session; locks the chain head on first use, the
    last lock of the transaction (services/lock_order.py)."""

    def __init__(self, session: Session, username: str, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.username = username
        self.at = format_utc(clock())  # one time for the whole action
        self._head: AuditHead | None = None

    def _lock_head(self) -> AuditHead:
        if self._head is None:
            head = self.session.scalars(
                select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
            chain_head_locked(self.session)
            self._head = head
        return self._head

    def add(self, action: str, entity: str, entity_id: object, field: str, old: object,
            new: object, reason: str | None = None, subject_id: str | None = None) -> None:
        head = self._lock_head()
        values: dict[str, object] = {
            "id": head.last_id + 1,
            "at_utc": self.at,
            "username": self.username,
            "action": action,
            "entity": entity,
            "entity_id": str(entity_id),
            "subject_id": subject_id,
            "field": field,
            "old_value": _text(old),
            "new_value": _text(new),
            "reason": reason,
        }
        digest = row_hash(head.last_hash, values)
        self.session.add(AuditEntry(prev_hash=head.last_hash, row_hash=digest, **values))
        head.last_id = int(str(values["id"]))
        head.last_hash = digest

    def add_fields_many(self, records: Iterable[AuditRecord]) -> int:
        """:meth:`add_fields` for many records in one executemany: the same rows and chain,
        in order, without an ORM object per row (an import of a hundred thousand doses
        writes about seven hundred thousand rows). Returns how many rows."""
        head = self._lock_head()
        last_id, last_hash = head.last_id, head.last_hash
        at, username = self.at, self.username
        at_json, username_json = _json_cached(at), _json_cached(username)
        sha256 = hashlib.sha256
        batch: list[tuple[object, ...]] = []
        for action, entity, entity_id, changes, reason, subject_id in records:
            entity_text = str(entity_id)
            head_text = _canonical_head(action, at_json, entity, entity_text)
            tail_text = _canonical_tail(reason, subject_id, username_json)
            for field, old, new in changes:
                last_id += 1
                old_text, new_text = _text(old), _text(new)
                canonical = (head_text + _canonical_field(field, last_id, new_text, old_text)
                             + tail_text)
                digest = sha256((last_hash + canonical).encode()).hexdigest()
                batch.append((last_id, at, username, action, entity, entity_text, subject_id,
                              field, old_text, new_text, reason, last_hash, digest))
                last_hash = digest
        if batch:
            insert_rows(self.session.connection(), _AUDIT_LOG, _AUDIT_COLUMNS, batch)
            head.last_id = last_id
            head.last_hash = last_hash
        return len(batch)

    def add_fields(self, action: str, entity: str, entity_id: object,
                   changes: Iterable[tuple[str, object, object]], reason: str | None = None,
                   subject_id: str | None = None) -> None:
        for field, old, new in changes:
            self.add(action, entity, entity_id, field, old, new, reason, subject_id)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str = ""
    #: The hash of the last row that checked out (the head is ``rows`` and this).
    last_hash: str = GENESIS_HASH

    @property
    def head(self) -> AuditHeadMark:
        return AuditHeadMark(self.rows, self.last_hash)


def trail_head(session: Session) -> AuditHeadMark:
    """The trail's head as it stands: its number of rows and the last row's hash.

    Read from the rows themselves (not the ``audit_head`` row), so what is printed is
    what ``audit verify`` will compare with later.
    """
    last = session.execute(select(AuditEntry.id, AuditEntry.row_hash)
                           .order_by(AuditEntry.id.desc()).limit(1)).first()
    if last is None:
        return AuditHeadMark(0, GENESIS_HASH)
    return AuditHeadMark(int(last[0]), str(last[1]))


def head_of(db: Database) -> AuditHeadMark:
    """:func:`trail_head` in a read transaction of its own (for a printout's footer)."""
    with UnitOfWork(db, write=False) as uow:
        return trail_head(uow.session)


def row_hash_at(session: Session, row_id: int) -> str | None:
    """The stored hash of audit row ``row_id``, or None when the trail has no such row."""
    if row_id == 0:
        return GENESIS_HASH
    found = session.execute(select(AuditEntry.row_hash).where(AuditEntry.id == row_id)).first()
    return None if found is None else str(found[0])


def parse_head(text: str) -> tuple[int, str]:
    """``N:HASH`` as printed by ``audit verify`` (HASH: at least 16 leading hex digits)."""
    number, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if (not sep or not number.isascii() or not number.isdigit()
            or not re.fullmatch(r"[0-9a-f]{16,64}", digest)):
        raise ValueError(f"{text!r} is not a head: expected N:HASH, as `audit verify` prints "
                         "it (N rows, then at least 16 hex digits of the hash)")
    return int(number), digest


def holds_head(session: Session, rows: int, digest_prefix: str) -> bool:
    """Whether the trail still holds row ``rows`` with a hash starting ``digest_prefix``."""
    stored = row_hash_at(session, rows)
    return stored is not None and stored.startswith(digest_prefix.lower())


def verify_chain(session: Session) -> ChainCheck:
    """Recompute every hash in id order; name the first row that does not fit."""
    prev = GENESIS_HASH
    expected_id = 1
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(2000):
        count += 1
        values = {k: getattr(entry, k) for k in HASHED_FIELDS}
        if entry.id != expected_id:
            return ChainCheck(False, count - 1, entry.id,
                              f"row {entry.id}: expected row {expected_id} here "
                              "(a row was deleted or inserted)", prev)
        if entry.prev_hash != prev:
            return ChainCheck(False, count - 1, entry.id,
                              f"row {entry.id}: does not follow the previous row "
                              "(rows deleted, inserted or reordered)", prev)
        if row_hash(prev, values) != entry.row_hash:
            return ChainCheck(False, count - 1, entry.id,
                              f"row {entry.id}: contents do not match its hash (edited)", prev)
        prev = entry.row_hash
        expected_id += 1
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1)).one_or_none()
    if head is not None and (head.last_id != count or head.last_hash != prev):
        return ChainCheck(False, count, count + 1 if head.last_id > count else count,
                          f"the chain ends at row {count} but the head records row "
                          f"{head.last_id} (rows removed from the end)", prev)
    return ChainCheck(True, count, last_hash=prev)
