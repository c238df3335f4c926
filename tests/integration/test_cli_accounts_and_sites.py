"""The command line and accounts: a first password changes nothing, a site-bound user reads
only their sites, an existing template id is refused, a server password is never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PROTOCOL
from tests.integration.test_cli_end_to_end import ADMIN_PW, Taper, ok, query

pytestmark = pytest.mark.sqlite_only

FIRST_PW = "first-password-from-admin"
NURSE_PW = "nora-own-password-1"
PATIENTS = ("subject_id,site,day1_date,baseline_mg,template_id\n"
            "101-001,101,2024-01-01,20,stepdown-a\n"
            "102-001,102,2024-01-01,20,stepdown-a\n")
AS_OF = "2024-03-01"


@pytest.fixture
def taper(tmp_path: Path) -> Taper:
    """A study with patients at sites 101 and 102 and a nurse, nora, of site 101 only."""
    taper = Taper(tmp_path / "study.sqlite", tmp_path / "home")
    ok(taper("init", "--protocol", str(EXAMPLE_PROTOCOL), "--admin", "admin",
             "--full-name", "Ada Admin", password=ADMIN_PW))
    ok(taper("user", "add", "ivan", "--role", "investigator", "--full-name", "Ivan I",
             "--user", "admin", password=ADMIN_PW, new_password=FIRST_PW))
    ok(taper("user", "passwd", "--user", "ivan", password=FIRST_PW, new_password=NURSE_PW))
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    ok(taper("import", "--patients", str(patients), "--user", "ivan", password=NURSE_PW))
    ok(taper("user", "add", "nora", "--role", "nurse", "--full-name", "Nora N", "--site", "101",
             "--user", "admin", password=ADMIN_PW, new_password=FIRST_PW))
    return taper


def test_a_first_password_set_by_an_administrator_changes_nothing(taper: Taper,
                                                                  tmp_path: Path) -> None:
    doses = tmp_path / "doses.csv"
    doses.write_text("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
                     "101-001,prednisone,20,QD,PO,2024-01-01,\n", encoding="utf-8")
    refused = taper("import", "--doses", str(doses), "--user", "nora", password=FIRST_PW)
    assert refused.returncode == 1
    assert "nora still has the first password an administrator set" in refused.stderr
    assert "taper-app user passwd --user nora" in refused.stderr
    assert query(taper.db, "SELECT count(*) FROM dose_record") == [(0,)]
    # The audit trail says the sign-in was refused, not that nora signed in.
    assert query(taper.db, "SELECT action, new_value FROM audit_log WHERE username = 'nora' "
                           "AND action LIKE 'sign_in%' ORDER BY id") == [
        ("sign_in_refused", "first password not yet changed")]

    ok(taper("user", "passwd", "--user", "nora", password=FIRST_PW, new_password=NURSE_PW))
    ok(taper("import", "--doses", str(doses), "--user", "nora", password=NURSE_PW))
    assert query(taper.db, "SELECT count(*) FROM dose_record") == [(1,)]


def test_with_user_a_site_bound_nurse_reads_only_her_sites(taper: Taper,
                                                          tmp_path: Path) -> None:
    ok(taper("user", "passwd", "--user", "nora", password=FIRST_PW, new_password=NURSE_PW))
    everyone = json.loads(ok(taper("summary", "--json", "--as-of", AS_OF)))
    assert [r["subject_id"] for r in everyone] == ["101-001", "102-001"]

    hers = json.loads(ok(taper("summary", "--json", "--as-of", AS_OF, "--user", "nora",
                               password=NURSE_PW)))
    assert [r["subject_id"] for r in hers] == ["101-001"]
    assert hers[0] == everyone[0]

    other = taper("summary", "--json", "--as-of", AS_OF, "--subject", "102-001",
                  "--user", "nora", password=NURSE_PW)
    assert other.returncode == 1 and "102" in other.stderr

    report = taper("report", "--subject", "102-001", "--out", str(tmp_path / "r.pdf"),
                   "--as-of", AS_OF, "--user", "nora", password=NURSE_PW)
    assert report.returncode == 1
    assert not (tmp_path / "r.pdf").exists()

    ok(taper("export", "--format", "csv", "--out", str(tmp_path / "csv"), "--as-of", AS_OF,
             "--user", "nora", password=NURSE_PW))
    daily = (tmp_path / "csv" / "daily_series.csv").read_text(encoding="utf-8")
    assert "101-001" in daily and "102-001" not in daily

    wrong = taper("summary", "--json", "--user", "nora", password="not-her-password")
    assert wrong.returncode == 1


def test_template_import_refuses_an_existing_id_and_adds_nothing(taper: Taper,
                                                                 tmp_path: Path) -> None:
    templates = tmp_path / "templates.toml"
    templates.write_text(
        '[[template]]\nid = "new-slow"\nname = "New"\nkind = "table"\n'
        '  [[template.step]]\n  day = 29\n  dose_mg = 10\n'
        '[[template]]\nid = "stepdown-a"\nname = "Again"\nkind = "table"\n'
        '  [[template.step]]\n  day = 29\n  dose_mg = 10\n', encoding="utf-8")
    before = query(taper.db, "SELECT count(*) FROM schedule_template")
    result = taper("template", "import", str(templates), "--user", "admin", password=ADMIN_PW)
    assert result.returncode == 1
    assert "stepdown-a" in result.stderr
    assert query(taper.db, "SELECT count(*) FROM schedule_template") == before


def test_db_copy_never_prints_a_server_password(taper: Taper) -> None:
    # No server listens on this port: the copy fails, and neither the failure nor any
    # other line shows the password that was in the URL.
    url = "postgresql+psycopg://taper:s3cret-pw@127.0.0.1:9/taper_study?connect_timeout=2"
    result = taper("db", "copy", "--from", str(taper.db), "--to", url)
    assert result.returncode != 0
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_audit_export_with_user_keeps_to_her_sites(taper: Taper, tmp_path: Path) -> None:
    ok(taper("user", "passwd", "--user", "nora", password=FIRST_PW, new_password=NURSE_PW))
    ok(taper("audit", "export", "--out", str(tmp_path / "all.csv")))
    everything = (tmp_path / "all.csv").read_text(encoding="utf-8")
    assert "101-001" in everything and "102-001" in everything
    ok(taper("audit", "export", "--out", str(tmp_path / "hers.csv"), "--user", "nora",
             password=NURSE_PW))
    hers = (tmp_path / "hers.csv").read_text(encoding="utf-8")
    assert "101-001" in hers and "102-001" not in hers
