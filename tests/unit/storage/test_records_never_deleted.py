"""The database itself refuses to delete clinical records or to change a signature."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.signatures import sign_record
from tests.conftest import PASSWORD


@pytest.fixture
def signed(nurse, investigator, study):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    record_dose(nurse, study, "101-001", {"drug": "prednisone", "dose_mg": "20",
                                          "frequency": "QD", "route": "PO",
                                          "start_date": "2026-01-01", "end_date": ""})
    sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", PASSWORD)
    return investigator.db


@pytest.mark.parametrize("statement", [
    "DELETE FROM dose_record",
    "DELETE FROM schedule_step",
    "DELETE FROM patient",
    "DELETE FROM signature",
    "UPDATE signature SET meaning = 'approved'",
    "UPDATE signature SET data_sha256 = 'x'",
])
def test_the_database_refuses(signed, statement):
    counts = "SELECT (SELECT count(*) FROM dose_record), (SELECT count(*) FROM patient), " \
             "(SELECT count(*) FROM signature), (SELECT min(meaning) FROM signature)"
    with signed.engine.connect() as conn:
        before = conn.execute(text(counts)).one()
    with pytest.raises(DBAPIError) as excinfo, signed.engine.begin() as conn:
        conn.execute(text(statement))
    assert "never" in str(excinfo.value)
    with signed.engine.connect() as conn:
        assert conn.execute(text(counts)).one() == before


def test_voiding_still_works_it_is_an_update_not_a_delete(signed, nurse):
    from taper_app.services.patients import void_dose

    with signed.engine.connect() as conn:
        record_id = conn.execute(text("SELECT id FROM dose_record")).scalar_one()
    void_dose(nurse, record_id, "entered for the wrong patient")
    with signed.engine.connect() as conn:
        assert conn.execute(text("SELECT voided FROM dose_record")).scalar_one()


@pytest.mark.postgres_only
def test_the_triggers_go_with_a_downgrade_and_come_back_with_the_upgrade(signed):
    """Migration 0004 on the server: down to 0003 lets a delete through, up refuses it."""
    from alembic import command
    from alembic.config import Config

    from taper_app.storage.engine import MIGRATIONS_DIR, make_engine

    engine = make_engine(signed.url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    try:
        command.downgrade(config, "0003")
        with engine.begin() as conn:
            assert conn.execute(text("DELETE FROM signature")).rowcount == 1  # allowed at 0003
        command.upgrade(config, "head")
        with pytest.raises(DBAPIError, match="never"), engine.begin() as conn:
            conn.execute(text("DELETE FROM dose_record"))
        with pytest.raises(DBAPIError, match="never"), engine.begin() as conn:
            conn.execute(text("TRUNCATE signature"))
    finally:
        engine.dispose()
