"""The real command line, as a data manager scripts it: a subprocess per command.

One study is built once for the module (init, a user added by the administrator, one
import of patients, doses and an amendment by that investigator); the tests then read it back
through ``summary --json``, ``export``, ``backup`` and ``audit verify`` and compare with
figures worked out by hand below. Nothing depends on the real date: every figure is
asked ``--as-of`` a date, and every record is dated in 2024, long before any real today.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from taper_app.services.audit import verify_chain
from taper_app.storage.engine import open_database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import EXAMPLE_PROTOCOL

pytestmark = pytest.mark.sqlite_only

ADMIN_PW = "admin-password-1"
INVESTIGATOR_PW = "investigator-pw-1"
INVESTIGATOR_FIRST_PW = "first-password-from-admin"
AS_OF = "2024-07-01"  # Day 183 for a Day 1 of 2024-01-01 (2024 is a leap year)

SUMMARY_KEYS = ["subject_id", "site", "as_of", "as_of_day", "baseline_mg", "observed_days",
                "missing_days", "actual_mg", "scheduled_mg", "reduction_pct",
                "window_reduction_pct", "cumulative_mg", "scheduled_cumulative_mg",
                "cumulative_reduction_pct", "spared_mg", "deviation_days_above",
                "deviation_days_below", "deviation_episodes", "days_to_target_dose", "target",
                "participation"]
TARGET_KEYS = ["day", "reduction_pct", "window_reduction_pct", "status"]

A_DAY1 = date(2024, 1, 1)   # 101-001 and 103-001
B_DAY1 = date(2024, 5, 1)   # 102-001


def on(day: int, day1: date = A_DAY1) -> str:
    """The date of study ``day`` (day >= 1) for a patient with that Day 1."""
    return (day1 + timedelta(days=day - 1)).isoformat()


PATIENTS = [
    "subject_id,site,day1_date,baseline_mg,template_id,kit_number",
    "101-001,101,2024-01-01,20,stepdown-a,K-1001",
    "102-001,102,2024-05-01,20,table-12wk,K-2001",
    "103-001,103,2024-01-01,10,stepdown-slow,",
]

# 101-001: B = 20 on stepdown-a, whose schedule for B = 20 is
#   S = 20 (Days 1-28), 16 (29-42), 13 (43-56), 10.5 (57-70), 10 (71-98), 9 (99-126),
#       8 (127-154), 7 (155-182), 6 (183-210), ...
DOSES_101 = [
    # a run-in before Day 1: kept, but no figure counts it
    ("prednisone", "20", "QD", "PO", "2023-12-18", "2023-12-31"),
    ("prednisone", "20", "QD", "PO", on(1), on(28)),        # follows: 20 x 28
    ("prednisone", "16", "QD", "PO", on(29), on(42)),       # follows: 16 x 14
    ("prednisone", "15", "QD", "PO", on(43), on(49)),       # 7 days ABOVE 13
    ("prednisone", "13", "QD", "PO", on(50), on(56)),       # follows: 13 x 7
    ("prednisone", "10.5", "QD", "PO", on(57), on(59)),     # follows: 10.5 x 3
    # diary gap: Days 60-64 (5 days) missing
    ("prednisone", "10.5", "QD", "PO", on(65), on(70)),     # follows: 10.5 x 6
    ("prednisone", "10", "QD", "PO", on(71), on(98)),       # follows: 10 x 28
    # flare pulse: 500 mg methylprednisolone x 1.25 = 625 PEQ on Day 80 only (ABOVE)
    ("methylprednisolone", "500", "ONCE", "IV", on(80), ""),
    ("prednisone", "9", "QD", "PO", on(99), on(126)),       # follows: 9 x 28
    ("prednisone", "7.5", "QD", "PO", on(127), on(154)),    # 28 days BELOW 8
    ("prednisone", "7", "QD", "PO", on(155), on(182)),      # follows: 7 x 28
    ("prednisone", "6", "QD", "PO", on(183), ""),           # ongoing from Day 183
]
# 102-001: B = 20 on table-12wk, Day 1 = 2024-05-01, so 2024-07-01 is Day 62.
#   dexamethasone 3 mg x 20/3 = 20 PEQ; prednisolone 7.5 mg BID = 15 PEQ.
DOSES_102 = [
    ("dexamethasone", "3", "QD", "PO", on(1, B_DAY1), on(14, B_DAY1)),
    ("prednisolone", "7.5", "BID", "PO", on(15, B_DAY1), on(42, B_DAY1)),
    ("prednisone", "10", "QD", "PO", on(43, B_DAY1), ""),
]
# 103-001: B = 10 on stepdown-slow (floor 5): steps (43, 9), (64, 8), (85, 7), (106, 6),
#   (127, 5). The patient stays on 10 mg for Days 1-100, then nothing is recorded.
DOSES_103 = [("prednisone", "10", "QD", "PO", on(1), on(100))]
# The investigator holds 102-001 at 12 mg from Day 43 (table template: the later step
# (71, 5 mg QOD = 2.5) is below 12, so it stays).
AMENDMENTS = ["subject_id,day,dose_mg,reason", "102-001,43,12,Flare: rash and CK rise"]

EXPECTED = {
    "101-001": {
        "subject_id": "101-001", "site": "101", "as_of": AS_OF, "as_of_day": 183,
        "baseline_mg": 20.0,
        # 183 days, Days 60-64 missing
        "observed_days": 178, "missing_days": 5,
        "actual_mg": 6.0, "scheduled_mg": 6.0,
        "reduction_pct": 70.0,                      # 100 x (20 - 6) / 20
        # window Days 156-183: 27 x 7 + 6 = 195 over 28 days = 6.9643;
        # 100 x (20 - 6.9643) / 20 = 65.18
        "window_reduction_pct": 65.2,
        # 20x28 + 16x14 + 15x7 + 13x7 + 10.5x9 + 10x28 + 625 + 9x28 + 7.5x28 + 7x28 + 6
        # = 560 + 224 + 105 + 91 + 94.5 + 280 + 625 + 252 + 210 + 196 + 6
        "cumulative_mg": 2643.5,
        # 560 + 224 + 13x14 + 10.5x9 + 280 + 252 + 8x28 + 7x28 + 6
        # = 560 + 224 + 182 + 94.5 + 280 + 252 + 224 + 196 + 6
        "scheduled_cumulative_mg": 2018.5,
        "cumulative_reduction_pct": 25.7,           # 100 x (1 - 2643.5 / (20 x 178)) = 25.74
        "spared_mg": 916.5,                         # 20 x 178 - 2643.5
        "deviation_days_above": 8,                  # Days 43-49 and Day 80
        "deviation_days_below": 28,                 # Days 127-154
        "deviation_episodes": 3,
        "days_to_target_dose": 127,                 # first day at or below 7.5 mg
        "participation": {"status": "active", "end_date": None},
        "target": {"day": 183, "reduction_pct": 50.0, "window_reduction_pct": 65.2,
                   "status": "met"},
    },
    "102-001": {
        "subject_id": "102-001", "site": "102", "as_of": AS_OF, "as_of_day": 62,
        "baseline_mg": 20.0, "observed_days": 62, "missing_days": 0,
        "actual_mg": 10.0,
        "scheduled_mg": 12.0,                       # amended: 12 from Day 43
        "reduction_pct": 50.0,
        # window Days 35-62: 8 x 15 + 20 x 10 = 320 / 28 = 11.4286 -> 42.86 %
        "window_reduction_pct": 42.9,
        "cumulative_mg": 900.0,                     # 14 x 20 + 28 x 15 + 20 x 10
        "scheduled_cumulative_mg": 940.0,           # 14 x 20 + 28 x 15 + 20 x 12
        "cumulative_reduction_pct": 27.4,           # 100 x (1 - 900 / 1240) = 27.42
        "spared_mg": 340.0,                         # 20 x 62 - 900
        "deviation_days_above": 0,
        "deviation_days_below": 20,                 # Days 43-62: 10 < 12
        "deviation_episodes": 1,
        "days_to_target_dose": None,                # never at or below 7.5
        "participation": {"status": "active", "end_date": None},
        "target": {"day": 183, "reduction_pct": 50.0, "window_reduction_pct": 42.9,
                   "status": "pending"},            # Day 62 < 183: the figure so far
    },
    "103-001": {
        "subject_id": "103-001", "site": "103", "as_of": AS_OF, "as_of_day": 183,
        "baseline_mg": 10.0, "observed_days": 100, "missing_days": 83,
        "actual_mg": None,                          # Day 183 is missing
        "scheduled_mg": 5.0,
        "reduction_pct": None,
        "window_reduction_pct": None,               # Days 156-183: none observed
        "cumulative_mg": 1000.0,                    # 10 x 100
        # 10 x 42 + 9 x 21 + 8 x 21 + 7 x 16 (Days 85-100) = 420 + 189 + 168 + 112
        "scheduled_cumulative_mg": 889.0,
        "cumulative_reduction_pct": 0.0,            # 100 x (1 - 1000 / (10 x 100))
        "spared_mg": 0.0,
        "deviation_days_above": 58,                 # Days 43-100: 10 > the schedule
        "deviation_days_below": 0,
        "deviation_episodes": 1,
        "days_to_target_dose": None,
        "participation": {"status": "active", "end_date": None},
        "target": {"day": 183, "reduction_pct": 50.0, "window_reduction_pct": None,
                   "status": "not_evaluable"},
    },
}


# ---------------------------------------------------------------- running the program

def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TAPER_DB", "TAPER_PASSWORD", "TAPER_NEW_PASSWORD")}
    for name in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        env[name] = str(home / name.lower())
    env["HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


class Taper:
    """``taper-app`` (``python -m taper_app``) run in a subprocess on one database."""

    def __init__(self, db: Path, home: Path) -> None:
        self.db = db
        self.env = base_env(home)

    def __call__(self, *args: str, password: str | None = None,
                 new_password: str | None = None, db: Path | None = None,
                 ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if password is not None:
            env["TAPER_PASSWORD"] = password
        if new_password is not None:
            env["TAPER_NEW_PASSWORD"] = new_password
        command = [sys.executable, "-m", "taper_app", *args, "--db", str(db or self.db)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout


def csv_lines(subject: str, rows: list[tuple[str, ...]]) -> list[str]:
    return [",".join((subject, *row)) for row in rows]


def enter_the_study(taper: Taper, folder: Path) -> None:
    """After ``init``: the administrator adds the investigator, who chooses a password and
    imports the patients, doses and amendment above (CSV files written in ``folder``)."""
    ok(taper("user", "add", "investigator", "--role", "investigator", "--full-name",
             "Ivan Investigator", "--user", "admin", password=ADMIN_PW,
             new_password=INVESTIGATOR_FIRST_PW))
    # The administrator's first password is not the investigator's own: they choose one.
    ok(taper("user", "passwd", "--user", "investigator", password=INVESTIGATOR_FIRST_PW,
             new_password=INVESTIGATOR_PW))
    patients = folder / "patients.csv"
    patients.write_text("\n".join(PATIENTS) + "\n", encoding="utf-8")
    doses = folder / "doses.csv"
    doses.write_text("\n".join(
        ["subject_id,drug,dose_mg,frequency,route,start_date,end_date",
         *csv_lines("101-001", DOSES_101), *csv_lines("102-001", DOSES_102),
         *csv_lines("103-001", DOSES_103)]) + "\n", encoding="utf-8")
    amendments = folder / "amendments.csv"
    amendments.write_text("\n".join(AMENDMENTS) + "\n", encoding="utf-8")
    out = ok(taper("import", "--patients", str(patients), "--doses", str(doses),
                   "--amendments", str(amendments), "--user", "investigator",
                   password=INVESTIGATOR_PW))
    assert "imported 3 patients, 17 dose records, 1 amendments" in out


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Taper:
    folder = tmp_path_factory.mktemp("cli")
    taper = Taper(folder / "study.sqlite", folder / "home")
    ok(taper("init", "--protocol", str(EXAMPLE_PROTOCOL), "--admin", "admin",
             "--full-name", "Ada Admin", password=ADMIN_PW))
    enter_the_study(taper, folder)
    return taper


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- summary

def test_summary_json_matches_the_figures_worked_out_by_hand(cli: Taper) -> None:
    rows = json.loads(ok(cli("summary", "--json", "--as-of", AS_OF)))
    assert [r["subject_id"] for r in rows] == ["101-001", "102-001", "103-001"]
    for row in rows:
        assert row == EXPECTED[row["subject_id"]], row["subject_id"]
        assert list(row) == SUMMARY_KEYS
        assert list(row["target"]) == TARGET_KEYS


def test_summary_for_one_subject_is_a_one_element_array(cli: Taper) -> None:
    result = cli("summary", "--json", "--subject", "102-001", "--as-of", AS_OF)
    assert json.loads(ok(result)) == [EXPECTED["102-001"]]


def test_the_import_was_audited_as_the_importing_users(cli: Taper) -> None:
    users = dict(query(cli.db, "SELECT action, group_concat(DISTINCT username) FROM audit_log "
                               "WHERE action IN ('enroll', 'record_dose', 'amend_schedule') "
                               "GROUP BY action"))
    assert users == {"enroll": "investigator", "record_dose": "investigator",
                     "amend_schedule": "investigator"}
    users_sql = "SELECT username, role, must_change_password FROM app_user ORDER BY id"
    assert query(cli.db, users_sql) == [("admin", "admin", 0),
                                        ("investigator", "investigator", 0)]
    assert query(cli.db, "SELECT created_by, reason FROM amendment") == [
        ("investigator", "Flare: rash and CK rise")]


# ---------------------------------------------------------------- exit statuses

def test_a_bad_import_exits_1_with_the_problem_on_stderr_and_writes_nothing(
        cli: Taper, tmp_path: Path) -> None:
    doses = tmp_path / "doses.csv"
    doses.write_text("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
                     "101-001,prednisone,5,QD,PO,2024-07-02,\n"
                     "101-001,aspirin,5,QD,PO,2024-07-02,\n", encoding="utf-8")
    changes = ("SELECT (SELECT count(*) FROM dose_record), (SELECT count(*) FROM patient), "
               "(SELECT count(*) FROM audit_log WHERE action NOT LIKE 'sign_in%')")
    before = query(cli.db, changes)
    result = cli("import", "--doses", str(doses), "--user", "investigator",
                 password=INVESTIGATOR_PW)
    assert result.returncode == 1
    assert f"{doses}:3: drug: unknown drug 'aspirin'" in result.stderr
    assert "nothing was imported" in result.stderr
    assert query(cli.db, changes) == before


@pytest.mark.parametrize("args", [
    ("summary", "--no-such-option"),
    ("import", "--patients", "p.csv"),          # a change needs --user
])
def test_usage_errors_exit_2(cli: Taper, args: tuple[str, ...]) -> None:
    """More usage errors are checked in-process (test_cli_run.py): these prove the exit code."""
    result = cli(*args, password=INVESTIGATOR_PW)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr


# ---------------------------------------------------------------- export

def exported_as_worked_out_by_hand(cli: Taper, out_dir: Path) -> list[dict[str, str]]:
    """``export --format csv`` as of AS_OF into ``out_dir``: the 17 records with the pulse,
    and the daily series as worked out by hand above; returns dose_records.csv's rows."""
    ok(cli("export", "--format", "csv", "--out", str(out_dir), "--as-of", AS_OF))
    with (out_dir / "dose_records.csv").open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert len(records) == 17
    pulse = [r for r in records if r["frequency"] == "ONCE"]
    assert [(r["drug"], r["peq_mg_per_day"], r["start_study_day"]) for r in pulse] == [
        ("methylprednisolone", "625", "80")]
    with (out_dir / "daily_series.csv").open(encoding="utf-8", newline="") as fh:
        daily = list(csv.DictReader(fh))
    # Day 1 to the as-of date for each patient: 183 + 62 + 183 rows
    assert len(daily) == 183 + 62 + 183
    a = {int(r["study_day"]): r for r in daily if r["subject_id"] == "101-001"}
    assert sorted(a) == list(range(1, 184))
    assert all(a[d]["date"] == on(d) for d in a)
    assert [d for d in a if a[d]["missing"] == "Y"] == [60, 61, 62, 63, 64]
    assert a[80]["actual_peq_mg"] == "635" and a[80]["deviation"] == "above"
    assert a[127]["scheduled_peq_mg"] == "8" and a[127]["deviation"] == "below"
    assert a[60]["actual_peq_mg"] == ""
    return records


def test_export_csv_has_every_record_and_every_day(cli: Taper, tmp_path: Path) -> None:
    records = exported_as_worked_out_by_hand(cli, tmp_path / "export")
    assert len(records) == query(cli.db, "SELECT count(*) FROM dose_record")[0][0]
    assert {"subject_id", "site", "record_id", "drug", "dose_mg", "frequency", "route",
            "start_date", "end_date", "start_study_day", "end_study_day",
            "peq_mg_per_day", "voided"} <= set(records[0])
    stored = {str(r[0]): r[1:] for r in query(
        cli.db, "SELECT d.id, p.subject_id, p.day1_date, d.start_date, d.end_date, d.dose_ug "
                "FROM dose_record d JOIN patient p ON p.id = d.patient_id")}
    for record in records:
        subject, day1, start, end, dose_ug = stored[record["record_id"]]
        assert record["subject_id"] == subject
        assert record["start_date"] == start and record["end_date"] == (end or "")
        day1_date = date.fromisoformat(str(day1))
        delta = (date.fromisoformat(str(start)) - day1_date).days
        assert int(record["start_study_day"]) == (delta + 1 if delta >= 0 else delta)
        assert float(record["dose_mg"]) * 1000 == dose_ug
    run_in = [r for r in records if r["start_date"] == "2023-12-18"]
    assert [(r["start_study_day"], r["end_study_day"]) for r in run_in] == [("-14", "-1")]


# ---------------------------------------------------------------- backup and audit

def test_backup_makes_a_copy_that_opens_with_the_same_rows(cli: Taper, tmp_path: Path) -> None:
    copy = tmp_path / "backup.sqlite"
    ok(cli("backup", "--out", str(copy)))
    for table in ("patient", "dose_record", "amendment", "schedule_step", "app_user",
                  "audit_log"):
        sql = f"SELECT * FROM {table} ORDER BY 1"
        assert query(copy, sql) == query(cli.db, sql), table
    # the copy is a working database: it opens and its audit chain verifies
    database = open_database(copy)
    try:
        with UnitOfWork(database, write=False) as uow:
            assert verify_chain(uow.session).ok
    finally:
        database.dispose()


def test_audit_verify_passes_then_fails_after_tampering(cli: Taper, tmp_path: Path) -> None:
    assert "intact" in ok(cli("audit", "verify"))
    tampered = tmp_path / "tampered.sqlite"
    shutil.copyfile(cli.db, tampered)
    con = sqlite3.connect(tampered)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET new_value = '2' WHERE action = 'record_dose' "
                "AND field = 'dose_mg' AND new_value = '20'")
    con.commit()
    con.close()
    result = cli("audit", "verify", db=tampered)
    assert result.returncode != 0
    assert "BROKEN" in result.stderr


def test_audit_verify_prints_the_head_and_checks_one_given(cli: Taper, tmp_path: Path) -> None:
    out = ok(cli("audit", "verify"))
    [line] = [x for x in out.splitlines() if x.startswith("head: ")]
    rows, digest = line.removeprefix("head: ").split()
    assert int(rows) == query(cli.db, "SELECT count(*) FROM audit_log")[0][0]
    assert len(digest) == 64 and digest == query(
        cli.db, f"SELECT row_hash FROM audit_log WHERE id = {rows}")[0][0]
    for given in (f"{rows}:{digest}", f"{rows}:{digest[:16]}", f"{rows}:{digest[:16].upper()}"):
        assert "holds head" in ok(cli("audit", "verify", "--head", given))
    wrong = cli("audit", "verify", "--head", f"{rows}:{'0' * 16}")
    assert wrong.returncode == 1
    assert f"no longer holds row {rows}" in wrong.stdout and "NOT agree" in wrong.stderr
    later = cli("audit", "verify", "--head", f"{int(rows) + 5}:{digest[:16]}")
    assert later.returncode == 1
    short = cli("audit", "verify", "--head", f"{rows}:{digest[:15]}")
    assert short.returncode == 1 and "at least 16 hex digits" in short.stderr
    assert "Traceback" not in short.stderr + wrong.stderr


def test_audit_verify_reports_a_dose_changed_with_sql_and_exits_1(cli: Taper,
                                                                 tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.sqlite"
    shutil.copyfile(cli.db, tampered)
    con = sqlite3.connect(tampered)
    [(record_id,)] = con.execute("SELECT min(id) FROM dose_record").fetchall()
    con.execute("UPDATE dose_record SET dose_ug = 5000 WHERE id = ?", (record_id,))
    con.commit()
    con.close()
    result = cli("audit", "verify", db=tampered)
    assert result.returncode == 1
    assert f"dose_record {record_id}, dose_mg: is '5'" in result.stdout
    assert "does NOT agree: 1 problem" in result.stderr
