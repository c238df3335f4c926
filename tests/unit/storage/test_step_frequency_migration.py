"""Migration 0007: an existing study's schedule steps get the frequency they were written
with, from their table templates; no stored dose and no figure changes."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from taper_app.domain.schedule import ScheduleStep
from taper_app.services.figures import summary, summary_json
from taper_app.services.patients import amend_patient_schedule, enroll_patient, record_dose
from taper_app.services.records import load_patient
from taper_app.storage.engine import MIGRATIONS_DIR, make_engine, open_database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import TODAY

D = __import__("decimal").Decimal
SUBJECTS = ("101-001", "101-002", "101-003", "101-004", "101-005")


def this_migration() -> tuple[str, str]:
    """This migration's revision and the one before it (whatever the chain is by then)."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    for rev in script.walk_revisions():
        if rev.path.endswith("_calendar_step_frequency.py"):
            assert isinstance(rev.down_revision, str)
            return rev.revision, rev.down_revision
    raise AssertionError("the calendar's migration is not in the chain")


def alembic(db_url: str, action: str, target: str) -> None:
    engine = make_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    try:
        getattr(command, action)(config, target)
    finally:
        engine.dispose()


@pytest.fixture
def enrolled(db, nurse, investigator, study):
    def enroll(subject: str, template: str, baseline: str = "20") -> None:
        enroll_patient(nurse, study, {"subject_id": subject, "site": "101",
                                      "day1_date": "2026-01-01", "baseline_mg": baseline,
                                      "template_id": template})
        record_dose(nurse, study, subject, {"drug": "prednisone", "dose_mg": baseline,
                                            "frequency": "QD", "route": "PO",
                                            "start_date": "2026-01-01", "end_date": ""})

    enroll("101-001", "table-12wk")
    enroll("101-002", "table-12wk")
    amend_patient_schedule(investigator, study, "101-002",
                           {"day": "50", "dose_mg": "12", "reason": "flare"})
    enroll("101-003", "table-12wk")
    # An amendment's own step on the QOD row's day, with its daily dose: a daily step.
    amend_patient_schedule(investigator, study, "101-003",
                           {"day": "71", "dose_mg": "2.5", "reason": "hold"})
    enroll("101-004", "stepdown-a")
    enroll("101-005", "fraction-26wk", "25")
    return db


def steps_of(db) -> dict[str, tuple[ScheduleStep, ...]]:
    with UnitOfWork(db, write=False) as uow:
        return {s: load_patient(uow.session, s).steps for s in SUBJECTS}


def test_existing_steps_get_their_written_frequency_and_nothing_else_changes(
        enrolled, db_url, study):
    before_steps = steps_of(enrolled)
    before_summary = summary_json(summary(enrolled, study, TODAY))
    assert before_steps["101-001"][-1] == ScheduleStep(71, D("2.5"), None, "QOD", D(5))
    assert before_steps["101-002"][-1] == ScheduleStep(71, D("2.5"), 1, "QOD", D(5))
    assert before_steps["101-003"][-1] == ScheduleStep(71, D("2.5"), 1)  # QD
    revision, previous = this_migration()
    enrolled.dispose()

    alembic(db_url, "downgrade", previous)  # the study as the version before left it
    probe = make_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    try:
        columns = {c["name"] for c in inspect(probe).get_columns("schedule_step")}
    finally:
        probe.dispose()
    assert "frequency" not in columns and "administered_ug" not in columns

    reopened = open_database(db_url)  # migrates to the head, as the application does
    try:
        assert steps_of(reopened) == before_steps
        assert summary_json(summary(reopened, study, TODAY)) == before_summary
        with reopened.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT p.subject_id, s.day, s.dose_ug, s.frequency, s.administered_ug, "
                "s.superseded_by_id IS NOT NULL FROM schedule_step s JOIN patient p ON "
                "p.id = s.patient_id WHERE s.frequency <> 'QD' ORDER BY p.subject_id, s.id"
            )).all()
        # superseded rows are kept, and keep their frequency too; 101-003's amendment step
        # on day 71 is a daily 2.5 mg, not the table's 5 mg every other day it replaced
        assert [tuple(r) for r in rows] == [
            ("101-001", 71, 2500, "QOD", 5000, False),
            ("101-002", 71, 2500, "QOD", 5000, True),
            ("101-002", 71, 2500, "QOD", 5000, False),
            ("101-003", 71, 2500, "QOD", 5000, True),
        ]
        # 0004's triggers survive the new columns (no copy of the table on SQLite)
        with pytest.raises(DBAPIError, match="never"), reopened.engine.begin() as conn:
            conn.execute(text("DELETE FROM schedule_step"))
    finally:
        reopened.dispose()
    assert revision
