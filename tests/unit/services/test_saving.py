"""Saving through the services: a deadlock is tried once more, then said as what it is; every
failed save and every refused sign-in is logged with its cause."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from taper_app.services.audit import verify_chain
from taper_app.services.errors import AuthenticationFailed, PermissionDenied, ValidationError
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.saving import saving
from taper_app.services.study import StudyInfo, authenticate
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.errors import DatabaseConflict
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context, fixed_clock

PATIENT = {"subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
           "baseline_mg": "20", "template_id": "stepdown-a", "kit_number": None,
           "notes": None}
DOSE = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": "", "source": "clinic"}


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


@pytest.fixture
def enrolled(db: Database, study: StudyInfo) -> Database:
    enroll_patient(context(db, "nurse"), study, dict(PATIENT))
    return db


def dose_count(db: Database) -> int:
    with UnitOfWork(db, write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(models.DoseRecordRow))


# ------------------------------------------------------------------ conflicts


@pytest.mark.postgres_only
def test_a_dose_save_that_deadlocks_is_made_again_once_and_stored_once(
        enrolled: Database, study: StudyInfo, backend: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Another transaction holds the audit chain's head and then asks for the patient the
    save has locked: the server ends the save (a deadlock); the service makes it again
    once the other is done, and the dose is stored exactly once."""
    caplog.set_level(logging.INFO)
    db = enrolled
    outcome: dict[str, Any] = {}

    def save() -> None:
        try:
            outcome["saved"] = record_dose(context(db, "nurse"), study, "101-001", dict(DOSE))
        except Exception as exc:  # handed to the test thread
            outcome["error"] = exc

    with db.engine.connect() as other:
        other.exec_driver_sql("SET deadlock_timeout = '1h'")  # the save is the one ended
        other.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")
        thread = threading.Thread(target=save)
        thread.start()
        with db.engine.connect() as watch:
            while not watch.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()").scalar_one():
                watch.rollback()
                threading.Event().wait(0.02)
        other.exec_driver_sql("SELECT * FROM patient WHERE subject_id = '101-001' FOR UPDATE")
        other.commit()
        thread.join()
    assert "error" not in outcome, outcome.get("error")
    assert dose_count(db) == 1
    with UnitOfWork(db, write=False) as uow:
        assert verify_chain(uow.session).ok
    assert any("deadlock" in m and "trying once more" in m
               for m in messages(caplog, "taper_app.storage.uow"))


def test_a_conflict_is_tried_once_more_then_reported(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    @saving("test a conflict")
    def always_collides(ctx: object) -> None:
        calls.append(1)
        raise DatabaseConflict("Another user's change collided with this one (a database "
                               "deadlock). Nothing was saved.")

    with pytest.raises(DatabaseConflict):
        always_collides(None)
    assert len(calls) == 2
    assert any("not saved: test a conflict" in m and "DatabaseConflict" in m
               for m in messages(caplog, "taper_app.services.saving"))


def test_a_conflict_once_then_success_returns_the_second_result() -> None:
    calls: list[int] = []

    @saving("test a conflict")
    def collides_once(ctx: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseConflict("a database deadlock")
        return "stored"

    assert collides_once(None) == "stored" and len(calls) == 2


# ------------------------------------------------------------------ logged causes


def test_every_refused_save_is_logged_with_its_cause(
        enrolled: Database, study: StudyInfo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(ValidationError):
        record_dose(context(enrolled, "nurse"), study, "101-001", {**DOSE, "dose_mg": "-5"})
    with pytest.raises(PermissionDenied):
        record_dose(context(enrolled, "monitor"), study, "101-001", dict(DOSE))
    logged = messages(caplog, "taper_app.services.saving")
    assert any(m.startswith("not saved: record a dose by nurse: ValidationError: dose_mg")
               for m in logged), logged
    assert any(m.startswith("not saved: record a dose by monitor: PermissionDenied")
               for m in logged), logged
    assert dose_count(enrolled) == 0


def test_every_refused_sign_in_is_logged_with_its_cause(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for username, password in (("nurse", "wrong-password-1"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, username, password, fixed_clock)
    logged = messages(caplog, "taper_app.services.study")
    assert any("sign_in refused for 'nurse': wrong password (1 of" in m for m in logged), logged
    assert any("sign_in refused for 'nobody': unknown user" in m for m in logged), logged
    authenticate(db, "nurse", PASSWORD, fixed_clock)  # a good one is not a refusal
    assert len(messages(caplog, "taper_app.services.study")) == len(logged)


# ------------------------------------------------------------------ every save is covered


def _writing_use_cases() -> dict[str, list[str]]:
    """Each public service function that opens a writing UnitOfWork (or calls one of
    this module's helpers doing so), with its decorators' source."""
    import ast
    from pathlib import Path

    import taper_app.services

    found: dict[str, list[str]] = {}
    for path in sorted(Path(taper_app.services.__file__).parent.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id == "UnitOfWork"
                        and not any(k.arg == "write" and isinstance(k.value, ast.Constant)
                                    and k.value.value is False for k in call.keywords)):
                    found[f"{path.stem}.{node.name}"] = [
                        ast.get_source_segment(source, d) or "" for d in node.decorator_list]
                    break
    return found


def test_every_use_case_that_writes_is_logged_when_it_fails() -> None:
    """A failed save is logged with its cause only through @saving (or the sign-in's own
    logging, which test_every_refused_sign_in_is_logged_with_its_cause checks)."""
    writers = _writing_use_cases()
    assert len(writers) >= 15 and "patients.record_dose" in writers  # the scan finds them
    signing_in = {"study.authenticate", "study.reauthenticate"}  # logged refusals, own words
    undecorated = sorted(name for name, decorators in writers.items()
                         if name not in signing_in
                         and not any(d.startswith("saving(") for d in decorators))
    assert undecorated == []
