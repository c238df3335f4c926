"""Shared fixtures: a fresh real SQLite study per test, signed-in actors, a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from taper_app.paths import resource
from taper_app.services import auth
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.study import StudyInfo, add_user, create_study, load_study
from taper_app.storage.engine import Database, copy_sqlite_file, open_database

#: Every test runs "on" this date; nothing depends on the real clock.
TODAY = date(2026, 7, 2)
NOW = datetime(2026, 7, 2, 14, 30, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
EXAMPLE_PROTOCOL = resource("protocols", "example-iim.toml")


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash many passwords: a lower scrypt cost (stored in each hash) keeps them quick."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "study.sqlite"


def make_study(path: Path) -> Database:
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


@pytest.fixture
def db(db_path: Path, _template_study: Path) -> Iterator[Database]:
    """A fresh copy of the example study (admin, nurse, investigator, monitor users)."""
    copy_sqlite_file(_template_study, db_path)
    database = open_database(db_path)
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
