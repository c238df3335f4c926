"""One lock order everywhere (services/lock_order.py): patients, their rows, the chain head.

The PostgreSQL cases force the one interleaving that deadlocked under the old order: a
third connection holds the audit chain's head (or a patient) while the two services queue
behind it in the order that would close a cycle, then lets go. Under one lock order both
finish without the server ending either; a deadlock would be retried once by ``@saving``
and pass unseen, so the tests also require that no retry was logged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from taper_app.services.audit import AuditTrail, verify_chain
from taper_app.services.imports import import_files
from taper_app.services.lock_order import LockOrderBroken
from taper_app.services.patients import (
    enroll_patient,
    lock_patient,
    record_dose,
    void_dose,
)
from taper_app.services.signatures import sign_records
from taper_app.services.study import StudyInfo
from taper_app.storage.engine import Database
from taper_app.storage.models import DoseRecordRow, Patient
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, TODAY, context, fixed_clock

DOSE = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": "", "source": "clinic"}


def _enroll(db: Database, study: StudyInfo, *subjects: str) -> None:
    for subject in subjects:
        enroll_patient(context(db, "nurse"), study, {
            "subject_id": subject, "site": "101", "day1_date": "2026-01-05",
            "baseline_mg": "20", "template_id": "stepdown-a"})


def _waiting_on_locks(db: Database) -> int:
    with db.engine.connect() as watch:
        return int(watch.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()").scalar_one())


def _wait_for_waiters(db: Database, count: int) -> None:
    """Poll until ``count`` sessions wait on a lock (a minute: far beyond what it takes)."""
    deadline = time.monotonic() + 60
    while _waiting_on_locks(db) < count:
        assert time.monotonic() < deadline, f"{count} sessions never waited on a lock"
        threading.Event().wait(0.02)


class _Call(threading.Thread):
    """A service call on its own thread; its result or error handed to the test."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # handed to the test thread
            self.error = exc


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "taper_app.storage.uow" and "trying once more" in r.getMessage()]


def _chain_ok(db: Database) -> None:
    with UnitOfWork(db, write=False) as uow:
        check = verify_chain(uow.session)
    assert check.ok, check.problem


@pytest.mark.postgres_only
def test_an_import_and_a_dose_save_together_never_deadlock(
        db: Database, study: StudyInfo, backend: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The import (a new patient, and doses for one already enrolled) queues first, the
    dose save for that enrolled patient second. The old import took the chain head with
    its new patient's audit rows and then waited for the patient the save held."""
    caplog.set_level(logging.INFO)
    _enroll(db, study, "101-001")
    patients = tmp_path / "patients.csv"
    patients.write_text("subject_id,site,day1_date,baseline_mg,template_id\n"
                        "101-002,101,2026-01-05,20,stepdown-a\n", encoding="utf-8")
    doses = tmp_path / "doses.csv"
    doses.write_text("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
                     "101-001,prednisone,15,QD,PO,2026-02-01,2026-02-10\n"
                     "101-002,prednisone,20,QD,PO,2026-01-05,\n", encoding="utf-8")
    importing = _Call(lambda: import_files(context(db, "nurse"), study, patients=patients,
                                           doses=doses))
    saving = _Call(lambda: record_dose(context(db, "nurse"), study, "101-001", dict(DOSE)))
    with db.engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
        importing.start()
        _wait_for_waiters(db, 1)
        saving.start()
        _wait_for_waiters(db, 2)
        holder.rollback()  # both go on, in the order they queued
        importing.join()
        saving.join()
    assert importing.error is None, importing.error
    assert saving.error is None, saving.error
    assert _retries(caplog) == [], "the server ended one of them (a deadlock)"
    assert importing.result.patients == 1 and importing.result.doses == 2
    with UnitOfWork(db, write=False) as uow:
        assert uow.session.scalar(select(Patient.version).where(
            Patient.subject_id == "101-001")) == 3  # enrolled, imported into, saved
        assert len(uow.session.scalars(select(DoseRecordRow.id)).all()) == 3
    _chain_ok(db)


@pytest.mark.postgres_only
def test_voiding_a_record_while_a_new_dose_closes_it_never_deadlocks(
        db: Database, study: StudyInfo, backend: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The save (which closes the ongoing record) queues for the patient first, the void
    of that record second. The old void locked the record, then waited for the patient
    the save had, while the save waited to close the record the void held."""
    caplog.set_level(logging.INFO)
    _enroll(db, study, "101-001")
    ongoing = record_dose(context(db, "nurse"), study, "101-001", dict(DOSE)).record_id
    saving = _Call(lambda: record_dose(
        context(db, "nurse"), study, "101-001",
        {**DOSE, "dose_mg": "15", "start_date": "2026-02-01"}, close_ongoing=True))
    voiding = _Call(lambda: void_dose(context(db, "nurse"), ongoing, "entered twice"))
    with db.engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM patient WHERE subject_id = '101-001' FOR UPDATE")
        saving.start()
        _wait_for_waiters(db, 1)
        voiding.start()
        _wait_for_waiters(db, 2)
        holder.rollback()
        saving.join()
        voiding.join()
    assert _retries(caplog) == [], "the server ended one of them (a deadlock)"
    assert saving.error is None, saving.error
    # The save closed the record first; the void then found it at a new version and
    # voided it (it gave no expected version), or was refused as what it is.
    assert voiding.error is None, voiding.error
    with UnitOfWork(db, write=False) as uow:
        row = uow.session.get(DoseRecordRow, ongoing)
        assert row is not None and row.voided and row.end_date is not None
    _chain_ok(db)


@pytest.mark.postgres_only
def test_signing_several_patients_and_a_dose_save_together_never_deadlock(
        db: Database, study: StudyInfo, backend: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """A batch signing (the second patient listed first) queues first, a dose save for
    its first-listed patient second. The old batch signed one patient at a time: it held
    the chain's head from the first signature while it waited for the next patient."""
    caplog.set_level(logging.INFO)
    _enroll(db, study, "101-001", "101-002")
    signing = _Call(lambda: sign_records(context(db, "investigator"),
                                         [("101-001", None), ("101-002", None)], TODAY,
                                         "reviewed", PASSWORD))
    saving = _Call(lambda: record_dose(context(db, "nurse"), study, "101-002", dict(DOSE)))
    with db.engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
        signing.start()
        _wait_for_waiters(db, 1)
        saving.start()
        _wait_for_waiters(db, 2)
        holder.rollback()
        signing.join()
        saving.join()
    assert _retries(caplog) == [], "the server ended one of them (a deadlock)"
    assert signing.error is None, signing.error
    assert saving.error is None, saving.error
    assert [view.meaning for view in signing.result] == ["reviewed", "reviewed"]
    _chain_ok(db)


# ------------------------------------------------------------------ the order is checked


def test_a_patient_locked_after_the_chain_head_is_a_program_fault(
        db: Database, study: StudyInfo) -> None:
    _enroll(db, study, "101-001")
    nurse = context(db, "nurse")
    with UnitOfWork(db) as uow:
        AuditTrail(uow.session, "nurse", fixed_clock).add("test", "x", 1, "f", None, 1)
        with pytest.raises(LockOrderBroken, match="locked after the audit chain's head"):
            lock_patient(uow.session, nurse.actor, subject_id="101-001")


def test_several_patients_are_locked_in_subject_order(db: Database, study: StudyInfo) -> None:
    _enroll(db, study, "101-001", "101-002")
    nurse = context(db, "nurse")
    with UnitOfWork(db) as uow:
        lock_patient(uow.session, nurse.actor, subject_id="101-001")
        lock_patient(uow.session, nurse.actor, subject_id="101-002")
        lock_patient(uow.session, nurse.actor, subject_id="101-001")  # held already: fine
    with UnitOfWork(db) as uow:
        lock_patient(uow.session, nurse.actor, subject_id="101-002")
        with pytest.raises(LockOrderBroken, match="locked after 101-002"):
            lock_patient(uow.session, nurse.actor, subject_id="101-001")


def test_the_order_starts_again_with_each_transaction(db: Database, study: StudyInfo) -> None:
    _enroll(db, study, "101-001")
    nurse = context(db, "nurse")
    with UnitOfWork(db) as uow:
        AuditTrail(uow.session, "nurse", fixed_clock).add("test", "x", 1, "f", None, 1)
        uow.commit()
        lock_patient(uow.session, nurse.actor, subject_id="101-001")  # a new transaction
