"""The one lock order of every writing transaction, checked as the locks are taken.

1. the patient rows it changes, several in subject order;
2. the rows of those patients (dose records, queries), each only once its patient is held;
3. the audit chain's head, last: the head is taken at the first audit row, so no patient
   is locked after a transaction has written to the audit trail.

Two transactions that take their locks in one order cannot deadlock on PostgreSQL (an
import and a dose save once did: the import wrote its new patients' audit rows, holding
the head, then waited for the patient the save held while the save waited for the head).
On SQLite the writer's BEGIN IMMEDIATE serialises whole transactions, but the order is
checked there too, so the tests of either backend catch a service that breaks it.

A broken order is a fault of the program (:class:`LockOrderBroken`), never a user error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, SessionTransaction

_KEY = "taper_lock_order"


class LockOrderBroken(RuntimeError):
    """A service took a lock out of the one order: a program fault that could deadlock."""


@dataclass
class _Held:
    transaction: SessionTransaction | None
    head: bool = False
    patients: dict[int, str] = field(default_factory=dict)  # id -> subject id


def _held(session: Session) -> _Held:
    """What this session's current transaction holds (a new transaction holds nothing)."""
    current = session.get_transaction()
    held: _Held | None = session.info.get(_KEY)
    if held is None or held.transaction is not current:
        held = _Held(current)
        session.info[_KEY] = held
    return held


def patient_locked(session: Session, patient_id: int, subject_id: str) -> None:
    """Called once a patient row is locked: a patient the transaction did not hold yet is
    refused after the chain's head, and several patients go in subject order. (Checked
    once the lock is taken: a test, which runs one transaction at a time, then fails
    instead of hanging; a patient held already may be locked again at any time.)"""
    held = _held(session)
    if patient_id in held.patients:
        return
    if held.head:
        raise LockOrderBroken(f"patient {subject_id} was locked after the audit chain's head; "
                              "lock the patients first (services/lock_order.py)")
    later = [s for s in held.patients.values() if s > subject_id]
    if later:
        raise LockOrderBroken(f"patient {subject_id} was locked after {max(later)}; lock "
                              "several patients in subject order (services/lock_order.py)")
    held.patients[patient_id] = subject_id


def require_patient_held(session: Session, patient_id: int) -> None:
    """Called before one of a patient's rows is locked: the patient must be held first."""
    if patient_id not in _held(session).patients:
        raise LockOrderBroken("a patient's row was about to be locked before the patient; "
                              "lock the patient first (services/lock_order.py)")


def chain_head_locked(session: Session) -> None:
    """Called once the audit chain's head is locked: it is the last lock of the order."""
    _held(session).head = True
