"""The command line's exit statuses and messages, run in-process (``cli.run``) for speed:
0 success, 1 invalid input (message on stderr), 2 usage."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli_door import taper
from tests.conftest import PASSWORD

pytestmark = pytest.mark.sqlite_only

PATIENTS = ("subject_id,site,day1_date,baseline_mg,template_id\n"
            "101-001,101,2024-01-01,20,stepdown-a\n")


def counts(path: str) -> tuple[int, ...]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM patient), (SELECT count(*) FROM dose_record), "
            "(SELECT count(*) FROM audit_log WHERE action NOT LIKE 'sign_in%')").fetchone()
    finally:
        con.close()


@pytest.mark.parametrize("argv", [
    ["--no-such-option"],
    ["summary", "--json", "--bogus"],
    ["export", "--out", "somewhere"],                      # --format is required
    ["export", "--format", "xlsx", "--out", "somewhere"],  # not a format
    ["report", "--as-of", "2024-07-01"],                   # neither --subject nor --cohort
    ["report", "--subject", "101-001", "--cohort", "--out", "x.pdf"],
    ["import"],                                            # nothing to import
    ["import", "--patients", "patients.csv"],              # a change needs --user
    ["user", "add", "nora", "--role", "chief", "--full-name", "Nora"],
])
def test_usage_errors_exit_2(location: str, argv: list[str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = taper(*argv, "--db", location)
    assert status == 2
    # argparse's own errors go to sys.stderr, the command's to ``err``: either way, stderr
    assert err or capsys.readouterr().err


def test_a_successful_import_exits_0(location: str, tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    status, out, err = taper("import", "--patients", str(patients), "--user", "nurse",
                             "--db", location)
    assert (status, err) == (0, "")
    assert "imported 1 patients, 0 dose records, 0 amendments" in out


def test_the_password_may_come_from_standard_input(location: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPER_PASSWORD")
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    status, _, err = taper("import", "--patients", str(patients), "--user", "nurse",
                           "--password-stdin", "--db", location, stdin=PASSWORD + "\n")
    assert (status, err) == (0, "")


def test_a_bad_import_exits_1_with_every_problem_on_stderr(location: str,
                                                          tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS + "101-002,101,2024-01-01,-3,nope\n", encoding="utf-8")
    before = counts(location)
    status, _, err = taper("import", "--patients", str(patients), "--user", "nurse",
                           "--db", location)
    assert status == 1
    lines = err.splitlines()
    assert f"{patients}:3: baseline_mg: -3 is negative" in lines
    assert any(line.startswith(f"{patients}:3: template_id: unknown template 'nope'")
               for line in lines)
    assert lines[-1] == "taper-app import: 2 problem(s); nothing was imported"
    assert counts(location) == before


@pytest.mark.parametrize(("cell", "words"), [
    ("1e1000000", "has an exponent"), ("1e3", "has an exponent"), ("1_0", "has an underscore"),
    ("-0", "has a minus sign"), ("١٠", "digits other than 0-9")])
def test_a_baseline_not_written_in_plain_digits_exits_1_with_file_line_column(
        location: str, tmp_path: Path, cell: str, words: str) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS + f"101-002,101,2024-01-01,{cell},stepdown-a\n",
                        encoding="utf-8")
    before = counts(location)
    status, _, err = taper("import", "--patients", str(patients), "--user", "nurse",
                           "--db", location)
    assert status == 1 and "Traceback" not in err
    [problem] = [line for line in err.splitlines() if line.startswith(f"{patients}:")]
    assert problem.startswith(f"{patients}:3: baseline_mg: ") and words in problem
    assert counts(location) == before


def test_a_reason_over_5000_characters_exits_1_saying_its_length(location: str) -> None:
    before = counts(location)
    status, _, err = taper("user", "deactivate", "monitor", "--reason", "r" * 5001,
                           "--user", "admin", "--db", location)
    assert status == 1 and "Traceback" not in err
    assert "reason: is 5,001 characters long; at most 5,000 are allowed" in err
    assert counts(location) == before
    assert taper("user", "deactivate", "monitor", "--reason", "r" * 5000, "--user", "admin",
                 "--db", location)[0] == 0


@pytest.mark.parametrize(("argv", "words"), [
    (["summary", "--json", "--as-of", "July"], "is not a date"),
    (["import", "--patients", "patients.csv", "--user", "nurse", "--password-stdin"],
     "no password"),
    (["summary", "--json", "--as-of", "2024-07-01", "--subject", "999-999"], "no patient"),
])
def test_invalid_input_exits_1(location: str, argv: list[str], words: str) -> None:
    status, out, err = taper(*argv, "--db", location)
    assert status == 1
    assert words in err
    assert out == ""


def test_a_wrong_password_exits_1_and_changes_nothing(location: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPER_PASSWORD", "not-the-password")
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    before = counts(location)
    status, _, err = taper("import", "--patients", str(patients), "--user", "nurse",
                           "--db", location)
    assert status == 1
    assert "wrong password" in err
    assert counts(location) == before


def test_a_missing_database_exits_1(tmp_path: Path) -> None:
    status, _, err = taper("summary", "--json", "--as-of", "2024-07-01",
                           "--db", str(tmp_path / "nowhere.sqlite"))
    assert status == 1
    assert "no database" in err
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_a_database_from_a_newer_version_exits_1(location: str) -> None:
    con = sqlite3.connect(location)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    status, _, err = taper("summary", "--json", "--as-of", "2024-07-01", "--db", location)
    assert status == 1
    assert "newer version" in err


def test_backup_never_overwrites_a_file(location: str, tmp_path: Path) -> None:
    existing = tmp_path / "backup.sqlite"
    existing.write_bytes(b"precious")
    status, _, err = taper("backup", "--out", str(existing), "--db", location)
    assert status == 1
    assert "already exists" in err
    assert existing.read_bytes() == b"precious"


def test_summary_of_an_empty_study_is_an_empty_array(location: str) -> None:
    status, out, _ = taper("summary", "--json", "--as-of", "2024-07-01", "--db", location)
    assert status == 0
    assert json.loads(out) == []


def test_the_database_may_come_from_taper_db(location: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPER_DB", location)
    status, out, _ = taper("audit", "verify")
    assert status == 0
    assert "intact" in out


def test_the_window_through_the_application_server_needs_a_display_as_on_a_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The window opens through the server (tests/gui/test_window_through_server.py); with
    no desktop it says so before trying the address, as for a file."""
    monkeypatch.setenv("TAPER_DB", "https://taper.example.org:8443")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    status, out, err = taper()
    assert status == 2 and out == ""
    assert "no display: the window needs a desktop session" in err


def test_db_copy_does_not_run_through_the_application_server(tmp_path: Path) -> None:
    status, _, err = taper("db", "copy", "--from", "https://taper.example.org:8443", "--to",
                           str(tmp_path / "copy.sqlite"))
    assert status == 2 and "not through the application server" in err
    assert not (tmp_path / "copy.sqlite").exists()
