"""Doses are stored exactly, as integer micrograms: 2.5 mg is 2500 µg, never 2.4999999."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from taper_app.services.patients import (
    amend_patient_schedule,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.study import StudyInfo
from taper_app.storage import models
from taper_app.storage.engine import Database
from tests.conftest import context

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO", "start_date": "2026-03-01",
        "end_date": "2026-03-31"}


@pytest.fixture
def enrolled(db: Database, study: StudyInfo) -> Database:
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "12.5", "template_id": "stepdown-a"})
    return db


def raw(db: Database, sql: str) -> list[tuple[object, ...]]:
    assert db.path is not None
    con = sqlite3.connect(db.path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.sqlite_only
def test_milligrams_are_stored_as_exact_integer_micrograms(enrolled: Database,
                                                           study: StudyInfo) -> None:
    nurse = context(enrolled, "nurse")
    for day, amount in enumerate(("2.5", 0.3, "0.001", "0.75", "1999.999"), start=1):
        on = f"2026-03-{day:02d}"  # one day each: together they would pass 2,000 mg a day
        record_dose(nurse, study, "101-001", dict(DOSE, dose_mg=amount, start_date=on,
                                                  end_date=on))
    amend_patient_schedule(context(enrolled, "investigator"), study, "101-001",
                           {"day": "40", "dose_mg": "7.5", "reason": "flare"})
    assert raw(enrolled, "SELECT dose_ug, typeof(dose_ug) FROM dose_record ORDER BY id") == [
        (2500, "integer"), (300, "integer"), (1, "integer"), (750, "integer"),
        (1999999, "integer")]
    assert raw(enrolled, "SELECT baseline_ug, typeof(baseline_ug) FROM patient") == [
        (12500, "integer")]
    assert raw(enrolled, "SELECT dose_ug, typeof(dose_ug) FROM amendment") == [(7500, "integer")]
    # 12.5 x 0.8 = 10 on Day 29 (the band's floor): every step is whole micrograms too
    steps = raw(enrolled, "SELECT day, dose_ug, typeof(dose_ug) FROM schedule_step "
                          "WHERE superseded_by_id IS NULL ORDER BY day")
    assert steps[0] == (29, 10000, "integer")
    assert {t for _, _, t in steps} == {"integer"}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ug=st.integers(min_value=0, max_value=2_000_000))
def test_any_dose_with_at_most_three_decimals_round_trips_exactly(
        enrolled: Database, study: StudyInfo, ug: int) -> None:
    mg_text = f"{Decimal(ug) / 1000:f}"
    saved = record_dose(context(enrolled, "nurse"), study, "101-001", dict(DOSE, dose_mg=mg_text))
    table = models.DoseRecordRow.__table__
    with enrolled.engine.connect() as conn:
        stored = conn.execute(select(table.c.dose_ug).where(table.c.id == saved.record_id)
                              ).scalar_one()
    assert type(stored) is int
    assert stored == ug
    # Hypothesis reuses the database: void the record so the examples never add up to an
    # implausible day (over 2,000 mg PEQ) for the next one.
    void_dose(context(enrolled, "nurse"), saved.record_id, "example checked")
