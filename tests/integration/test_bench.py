"""The benchmark command runs end to end at tiny sizes, so it never rots; no timing is asserted."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from bench import run_all
from bench.synthetic import TrialShape, cached_study
from taper_app.services.audit import verify_chain
from taper_app.storage.engine import open_database
from taper_app.storage.uow import UnitOfWork

AS_OF = date(2026, 7, 2)


def test_the_generator_is_deterministic_cached_and_its_audit_chain_verifies(
        tmp_path: Path) -> None:
    shape = TrialShape(patients=5, days=400, daily_every=2)
    path, subjects = cached_study(shape, AS_OF, tmp_path / "a")
    again, _ = cached_study(shape, AS_OF, tmp_path / "a")
    other, _ = cached_study(shape, AS_OF, tmp_path / "b")
    assert again == path  # the second call reuses the file
    assert subjects == ["101-001", "102-001", "103-001", "104-001", "105-001"]

    def dump(p: Path) -> list[tuple[object, ...]]:
        con = sqlite3.connect(p)
        try:
            return con.execute("SELECT patient_id, drug, dose_ug, frequency, start_date, "
                               "end_date, source FROM dose_record ORDER BY id").fetchall()
        finally:
            con.close()

    doses = dump(path)
    assert doses == dump(other)  # same arguments, same data
    per_day = [d for d in doses if d[0] == 1]  # patient 0 keeps a daily diary
    assert len(per_day) > 300 and all(d[4] == d[5] for d in per_day)
    db = open_database(path)
    try:
        with UnitOfWork(db, write=False) as uow:
            check = verify_chain(uow.session)
        assert check.ok, check.problem
    finally:
        db.dispose()
    con = sqlite3.connect(path)
    try:  # each dose came with the audit rows record_dose writes, drug and dose among them
        audited = con.execute("SELECT COUNT(DISTINCT entity_id) FROM audit_log WHERE action = "
                              "'record_dose' AND field IN ('drug', 'dose_mg')").fetchone()[0]
    finally:
        con.close()
    assert audited == len(doses)


def test_every_benchmark_runs_once_on_tiny_sizes_and_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    assert run_all.main(["--quick", "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    page = out.read_text(encoding="utf-8")
    for name in ("patient switch", "patient switch in the window, Doses tab",
                 "patient switch in the window, Charts tab", "save one dose",
                 "summary --json, 6 patients",
                 "summary --json, 10 patients", "patient PDF", "study PDF", "cold start",
                 "peak memory", "import 300 dose rows", "peak memory: import 900 dose rows",
                 "memory flat: peak importing 900 rows, against 300"):
        assert name in page, name
    assert "## Machine" in page and "PySide6_Essentials: 6." in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and "**" in line]
    assert len(rows) == 17  # 12, and the imports: 2 sizes x (time, peak), flatness
    assert all(("**pass**" in r) or ("**miss**" in r) or ("**-**" in r) for r in rows)


def test_the_benchmarks_say_which_versions_differ_from_the_lock(tmp_path: Path) -> None:
    from importlib import metadata

    from bench.measure import unlocked_versions

    numpy = metadata.version("numpy")
    lock = tmp_path / "lock.txt"
    lock.write_text(f"# comment\nnumpy=={numpy}\npytest==0.0.1\nno-such-package-here==1.0\n",
                    encoding="utf-8")
    assert unlocked_versions(lock) == [f"pytest {metadata.version('pytest')} (locked 0.0.1)"]
