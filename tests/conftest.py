"""Shared fixtures: a fresh real SQLite study per test, signed-in actors, a fixed clock."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import create_engine

from taper_app.paths import resource
from taper_app.services import auth
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.study import StudyInfo, add_user, create_study, load_study
from taper_app.storage.engine import Database, copy_sqlite_file, open_database
from tests.pgserver import PostgresServer, throwaway_server

#: Every test runs "on" this date; nothing depends on the real clock.
TODAY = date(2026, 7, 2)
NOW = datetime(2026, 7, 2, 14, 30, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
EXAMPLE_PROTOCOL = resource("protocols", "example-iim.toml")


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def _own_log_folder(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log folder (crash logs, exports' logs) of each test is its own, never the user's."""
    from taper_app import paths

    folder = tmp_path_factory.mktemp("logs")
    monkeypatch.setattr(paths, "log_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash many passwords: a lower scrypt cost (stored in each hash) keeps them quick."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "study.sqlite"


def make_study(path: Path | str) -> Database:
    """A new study from the example protocol, with one user of each role."""
    database = create_study(path, EXAMPLE_PROTOCOL.read_text(encoding="utf-8"), "admin",
                            "Ada Admin", PASSWORD, clock=fixed_clock)
    admin = ServiceContext(database, Actor("admin", "Ada Admin", "admin"), fixed_clock,
                           lambda: TODAY)
    for name, role in (("nurse", "nurse"), ("investigator", "investigator"),
                       ("monitor", "monitor")):
        add_user(admin, name, role, f"{name.title()} Example", PASSWORD)
    return database


@pytest.fixture(scope="session")
def _template_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run; each test gets its own copy (a real file, fresh per test)."""
    path = tmp_path_factory.mktemp("template") / "study.sqlite"
    saved = auth.SCRYPT_N
    auth.SCRYPT_N = 2**10
    try:
        make_study(path).dispose()
    finally:
        auth.SCRYPT_N = saved
    return path


# ---------------------------------------------------------------- backends

#: Suites that run on both SQLite and a real PostgreSQL server (storage, services, CLI).
BOTH_BACKENDS = ("tests/unit/services", "tests/unit/storage", "tests/integration")


#: The ``backend`` of a suite marked ``through_server``: PostgreSQL, and the command line
#: talking to a real application server on it (tests/integration/conftest.py, ``location``).
SERVER = "server"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "through_server: a command-line suite collected for the SQLite file, "
        "PostgreSQL and a real application server on PostgreSQL (backend 'server')")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    path = str(metafunc.definition.path.relative_to(Path(__file__).parent.parent))
    sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
    if metafunc.definition.get_closest_marker("through_server") is not None:
        metafunc.parametrize("backend", [
            "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
            pytest.param(SERVER, marks=pytest.mark.postgres)], indirect=True)
    elif metafunc.definition.get_closest_marker("postgres_only") is not None:
        metafunc.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                             indirect=True)
    elif sqlite_only or not path.startswith(BOTH_BACKENDS):
        metafunc.parametrize("backend", ["sqlite"], indirect=True)
    else:
        metafunc.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                                marks=pytest.mark.postgres)],
                             indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with throwaway_server("taper-pg-") as server:
        yield server


@pytest.fixture(scope="session")
def _pg_template(postgres: PostgresServer) -> str:
    """The example study migrated once on the server; tests clone it (CREATE ... TEMPLATE)."""
    _pg_exec(postgres, "CREATE DATABASE study_template")
    saved = auth.SCRYPT_N
    auth.SCRYPT_N = 2**10
    try:
        make_study(postgres.url("study_template")).dispose()
    finally:
        auth.SCRYPT_N = saved
    return "study_template"


def _pg_exec(server: PostgresServer, sql: str) -> None:
    engine = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


_pg_counter = itertools.count(1)


@pytest.fixture
def db_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's study lives: a SQLite file path, or a PostgreSQL URL (the owner's;
    for the ``server`` backend too, whose server runs on this database)."""
    if backend == "sqlite":
        copy_sqlite_file(request.getfixturevalue("_template_study"), db_path)
        return str(db_path)
    server: PostgresServer = request.getfixturevalue("postgres")
    template = request.getfixturevalue("_pg_template")
    name = f"t{next(_pg_counter)}"
    _pg_exec(server, f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    return server.url(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A fresh copy of the example study (admin, nurse, investigator, monitor users)."""
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def study(db: Database) -> StudyInfo:
    return load_study(db)


def context(db: Database, role: str, today: date = TODAY) -> ServiceContext:
    """A service context acting as the fixture user of ``role``."""
    return ServiceContext(db, Actor(role, f"{role.title()} Example", role), fixed_clock,
                          lambda: today)


@pytest.fixture
def nurse(db: Database) -> ServiceContext:
    return context(db, "nurse")


@pytest.fixture
def investigator(db: Database) -> ServiceContext:
    return context(db, "investigator")


@pytest.fixture
def admin(db: Database) -> ServiceContext:
    return context(db, "admin")


@pytest.fixture
def monitor(db: Database) -> ServiceContext:
    return context(db, "monitor")
