"""The command line's end-to-end suite again, on PostgreSQL: with the database URL itself
(as IT's tools use it) and through a real application server (as a site laptop does).

test_cli_end_to_end.py builds its study on a SQLite file and checks the figures worked
out by hand there. Here the same study is made as a multi-site set-up is (IT creates it on
PostgreSQL with the owner's URL, ``--app-role`` for the server's role; the server runs as
that role), and everything after that goes through the module's door: the owner's
``postgresql+psycopg://`` URL, or ``--db http://127.0.0.1:PORT``: the user added, the
import, then the same tests, collected here again with this module's ``cli`` fixture.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import EXAMPLE_PROTOCOL, _pg_exec
from tests.integration.server_process import running_server
from tests.integration.test_cli_end_to_end import (
    ADMIN_PW,
    INVESTIGATOR_PW,
    Taper,
    enter_the_study,
    exported_as_worked_out_by_hand,
    ok,
    test_summary_for_one_subject_is_a_one_element_array,
    test_summary_json_matches_the_figures_worked_out_by_hand,
)

pytestmark = pytest.mark.postgres_only
__all__ = ["test_summary_for_one_subject_is_a_one_element_array",  # collected here again
           "test_summary_json_matches_the_figures_worked_out_by_hand"]


@pytest.fixture(scope="module", params=["postgresql", "server"])
def door(request: pytest.FixtureRequest) -> str:
    """How the command line reaches the study: the database URL, or the server."""
    return str(request.param)


@pytest.fixture(scope="module")
def owner_url(postgres, door: str) -> Iterator[str]:
    name = f"cli_{door}"
    _pg_exec(postgres, f"CREATE DATABASE {name}")
    _pg_exec(postgres, f"CREATE ROLE app_{name} LOGIN")
    yield postgres.url(name)
    engine = create_engine(postgres.url(name), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY app_{name}")
    finally:
        engine.dispose()
    _pg_exec(postgres, f"DROP DATABASE {name}")
    _pg_exec(postgres, f"DROP ROLE app_{name}")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, owner_url: str, door: str
        ) -> Iterator[Taper]:
    folder = tmp_path_factory.mktemp(f"cli-{door}")
    role = f"app_cli_{door}"
    it = Taper(owner_url, folder / "home")  # type: ignore[arg-type]  # IT, on the server
    out = ok(it("init", "--protocol", str(EXAMPLE_PROTOCOL), "--admin", "admin",
                "--full-name", "Ada Admin", "--app-role", role, password=ADMIN_PW))
    assert f"granted {role}" in out
    with contextlib.ExitStack() as stack:
        if door == "server":
            url = stack.enter_context(running_server(
                owner_url.replace("taper@", f"{role}@"), folder / "server.log"))
            taper = Taper(url, folder / "home")  # type: ignore[arg-type]  # a laptop
        else:
            taper = it
        enter_the_study(taper, folder)
        # The reading tests of the file suite run without --user (a file may be read so);
        # on a server every command is someone's: the investigator's here.
        taper.env["TAPER_PASSWORD"] = INVESTIGATOR_PW
        yield _AsInvestigator(taper)


class _AsInvestigator(Taper):
    """The command line, each command run as the signed-in investigator."""

    def __init__(self, taper: Taper) -> None:
        self.db, self.env = taper.db, taper.env
        self.laptop = taper  # the same, with no --user added

    def __call__(self, *args: str, **kwargs):  # type: ignore[no-untyped-def, override]
        return super().__call__(*args, "--user", "investigator", **kwargs)


def test_the_import_was_audited_as_the_investigator(cli, owner_url) -> None:
    engine = create_engine(owner_url)
    try:
        with engine.connect() as conn:
            users = dict(conn.execute(text(
                "SELECT action, string_agg(DISTINCT username, ',') FROM audit_log WHERE "
                "action IN ('enroll', 'record_dose', 'amend_schedule') GROUP BY action")).all())
    finally:
        engine.dispose()
    assert users == {"enroll": "investigator", "record_dose": "investigator",
                     "amend_schedule": "investigator"}


def test_the_export_has_the_figures_worked_out_by_hand(cli, tmp_path: Path) -> None:
    exported_as_worked_out_by_hand(cli, tmp_path / "export")


@pytest.mark.parametrize("args", [
    ("summary", "--no-such-option"),
    ("import", "--patients", "p.csv"),          # a change needs --user
    ("summary", "--json"),                      # on a server, reading needs --user too
    ("backup", "--out", "x.sqlite", "--user", "investigator"),  # a SQLite file's command
])
def test_usage_errors_exit_2_on_a_server(cli, args) -> None:
    result = cli.laptop(*args, password=INVESTIGATOR_PW)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr


def test_audit_verify_on_a_server(cli) -> None:
    out = ok(cli("audit", "verify"))
    assert out.startswith("head: ") and "audit trail intact" in out
    assert json.loads(ok(cli("query", "list", "--json"))) == []
