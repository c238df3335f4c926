"""test_cli_sdv_and_queries.py's tests again, with ``--db`` the address of a real
application server (running as the granted application role) instead of the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context
from tests.integration.server_process import application_role, running_server
from tests.integration.test_cli_sdv_and_queries import (
    test_a_query_from_open_to_closed,
    test_sdv_through_a_date,
)

pytestmark = pytest.mark.postgres_only
__all__ = ["test_a_query_from_open_to_closed", "test_sdv_through_a_date"]  # collected here


@pytest.fixture
def location(db: Database, db_url: str, study, tmp_path: Path,  # type: ignore[no-untyped-def]
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    for start, end in (("2026-01-05", "2026-01-31"), ("2026-02-01", "")):
        record_dose(nurse, study, "101-001", {"drug": "prednisone", "dose_mg": "20",
                                              "frequency": "QD", "route": "PO",
                                              "start_date": start, "end_date": end})
    with UnitOfWork(db) as uow:
        uow.session.execute(update(models.User).values(must_change_password=False))
        uow.commit()
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    for app_url in application_role(db_url):
        with running_server(app_url, tmp_path / "server.log") as url:
            yield url
