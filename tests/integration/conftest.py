"""Fixtures of the command-line suites: where the command line finds the study, on the
SQLite file, on PostgreSQL, or through a real application server on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taper_app.storage.engine import Database
from tests.cli_door import passwords_chosen
from tests.conftest import PASSWORD, SERVER
from tests.integration.server_process import application_role, running_server


@pytest.fixture
def app_role_url(db_url: str) -> Iterator[str]:
    """The server's own database role, as IT sets it up (docs/multi-site.md): a login
    that owns nothing, given the application's privileges by ``taper-app db grant``."""
    yield from application_role(db_url)


@pytest.fixture
def cli_study_data() -> None:
    """The records a module's command-line tests start from, entered through the services
    before ``location`` hands the study over: none, unless the module says otherwise."""


@pytest.fixture
def location(db: Database, db_url: str, backend: str, cli_study_data: None, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
             ) -> Iterator[str]:
    """The ``--db`` of a command-line suite, once the module's ``cli_study_data`` fixture
    has entered its records through the services: the SQLite file or the PostgreSQL URL;
    for the ``server`` backend (a module marked ``through_server``), the address of a real
    ``taper-app serve`` on that database as the granted application role, as a site laptop
    has it. Every account has chosen its own password, ``PASSWORD`` in TAPER_PASSWORD."""
    passwords_chosen(db)
    db.dispose()  # the command line has the study to itself
    monkeypatch.delenv("TAPER_DB", raising=False)
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    if backend != SERVER:
        yield db_url
        return
    app_url: str = request.getfixturevalue("app_role_url")
    with running_server(app_url, tmp_path / "server.log") as url:
        yield url
