"""Import a large doses.csv through the service, beside a raw sqlite3 insert of the same rows.

    python bench/bench_import.py [--rows 100000 300000] [--runs 3] [--profile FILE]

Each size gets a study of its own (``rows / 1000`` patients, each a three-year daily diary
of about a thousand rows), enrolled through the import, and a doses.csv written once. Every
run copies that study and imports the file in a fresh subprocess, so the peak memory
(VmHWM) is the import's own. The baseline, alternating with it, is a fresh subprocess too:
the standard library only (csv, sqlite3, hashlib, json) reading the same file, converting
each dose to micrograms and inserting the same dose rows and the same audit rows (the
fields ``record_dose`` audits, hashed and chained as the trail is) in one transaction,
with the application's pragmas (WAL, synchronous=FULL). So the ratio is what the
application's checks, validation and layers cost over the least the same data needs.

With ``--profile FILE`` the first size is imported once under cProfile (``FILE`` holds
the stats; the top of it is printed).
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Result, child_env, paired

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 7, 2)
NOW = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)
ROWS_PER_PATIENT = 1000
SITES = ("101", "102", "103", "104", "105")
PASSWORD = "bench-import-password"
DOSE_COLUMNS = ["subject_id", "drug", "dose_mg", "frequency", "route", "start_date",
                "end_date", "source", "comment"]
#: What ``record_dose`` audits of an imported dose, in its order (services/patients.py).
AUDITED = ("drug", "dose_mg", "frequency", "route", "start_date", "end_date", "source",
           "comment")
TARGET_SECONDS = 30.0
TARGET_PEAK_MB = 600.0
#: "Flat": the larger file's peak may exceed the smaller's by at most this ratio.
FLAT_RATIO = 1.15


# ---------------------------------------------------------------- data

def dose_rows(n_rows: int, seed: int = 20260702) -> tuple[list[dict[str, str]],
                                                           list[dict[str, str]]]:
    """Patients and their daily diaries: ``n_rows`` dose rows in all (deterministic)."""
    rng = random.Random(seed)
    patients: list[dict[str, str]] = []
    doses: list[dict[str, str]] = []
    n_patients = max(1, -(-n_rows // ROWS_PER_PATIENT))
    day1 = AS_OF - timedelta(days=ROWS_PER_PATIENT + 10)
    for i in range(n_patients):
        site = SITES[i % len(SITES)]
        subject = f"{site}-{i // len(SITES) + 1:04d}"
        patients.append({"subject_id": subject, "site": site, "day1_date": day1.isoformat(),
                         "baseline_mg": "20", "template_id": "stepdown-a"})
        take = min(ROWS_PER_PATIENT, n_rows - i * ROWS_PER_PATIENT)
        mg = 20.0
        for k in range(take):
            when = (day1 + timedelta(days=k)).isoformat()
            if k and k % 28 == 0 and mg > 2.5:
                mg -= 2.5
            if k % 200 == 150:  # now and then a pulse on top of the diary
                doses.append({"subject_id": subject, "drug": "methylprednisolone",
                              "dose_mg": "500", "frequency": "ONCE", "route": "IV",
                              "start_date": when, "end_date": "", "source": "clinic",
                              "comment": "IV pulse for flare"})
                continue
            doses.append({"subject_id": subject, "drug": "prednisone", "dose_mg": f"{mg:g}",
                          "frequency": "QD", "route": "PO", "start_date": when,
                          "end_date": when, "source": "diary",
                          "comment": "evening dose late" if rng.random() < 0.05 else ""})
    return patients, doses


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def prepare(folder: Path, n_rows: int) -> tuple[Path, Path]:
    """A study with the patients enrolled (through the import) and the doses.csv to import."""
    from taper_app.paths import resource
    from taper_app.services.auth import Actor
    from taper_app.services.context import ServiceContext
    from taper_app.services.imports import import_files
    from taper_app.services.study import add_user, create_study, load_study

    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "study.sqlite"
    protocol = resource("protocols", "example-iim.toml").read_text(encoding="utf-8")
    db = create_study(db_path, protocol, "admin", "Ada Admin (bench)", PASSWORD,
                      clock=lambda: NOW)
    try:
        admin = ServiceContext(db, Actor("admin", "Ada Admin (bench)", "admin"), lambda: NOW,
                               lambda: AS_OF)
        add_user(admin, "nurse", "nurse", "Nora Nurse (bench)", PASSWORD)
        patients, doses = dose_rows(n_rows)
        nurse = ServiceContext(db, Actor("nurse", "Nora Nurse (bench)", "nurse"), lambda: NOW,
                               lambda: AS_OF)
        import_files(nurse, load_study(db), patients=write_csv(
            folder / "patients.csv", patients,
            ["subject_id", "site", "day1_date", "baseline_mg", "template_id"]))
    finally:
        db.dispose()  # checkpoints the WAL into the file
    return db_path, write_csv(folder / "doses.csv", doses, DOSE_COLUMNS)


# ---------------------------------------------------------------- the two children

def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_import(db_path: str, csv_path: str, profile: str | None = None) -> dict[str, float]:
    """``import_files`` on the doses file, as ``taper-app import --doses`` runs it."""
    from taper_app.services.auth import Actor
    from taper_app.services.context import ServiceContext
    from taper_app.services.imports import import_files
    from taper_app.services.study import load_study
    from taper_app.storage.engine import open_database

    db = open_database(db_path)
    try:
        ctx = ServiceContext(db, Actor("nurse", "Nora Nurse (bench)", "nurse"), lambda: NOW,
                             lambda: AS_OF)
        study = load_study(db)
        start = time.perf_counter()
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(import_files, ctx, study, doses=Path(csv_path))
            profiler.dump_stats(profile)
        else:
            result = import_files(ctx, study, doses=Path(csv_path))
        seconds = time.perf_counter() - start
    finally:
        db.dispose()
    return {"seconds": seconds, "peak_mb": _peak_rss_mb(), "doses": result.doses}


def _mg_to_ug(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def child_raw(db_path: str, csv_path: str) -> dict[str, float]:
    """The baseline: the same rows and audit rows with the standard library only."""
    import hashlib
    import sqlite3

    start = time.perf_counter()
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("BEGIN IMMEDIATE")
    ids = dict(con.execute("SELECT subject_id, id FROM patient"))
    next_id = (con.execute("SELECT MAX(id) FROM dose_record").fetchone()[0] or 0) + 1
    last_id, last_hash = con.execute(
        "SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetchone()
    at = NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text_json = functools.lru_cache(maxsize=8192)(json.JSONEncoder(ensure_ascii=False).encode)
    at_json = text_json(at)
    created = NOW.replace(tzinfo=None).isoformat(sep=" ")
    dose_sql = ("INSERT INTO dose_record (id, patient_id, drug, dose_ug, frequency, route, "
                "start_date, end_date, source, comment, created_at, created_by, voided, "
                "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)")
    audit_sql = ("INSERT INTO audit_log (id, at_utc, username, action, entity, entity_id, "
                 "subject_id, field, old_value, new_value, reason, prev_hash, row_hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    doses: list[tuple[object, ...]] = []
    audits: list[tuple[object, ...]] = []
    count = 0

    def flush() -> None:
        con.executemany(dose_sql, doses)
        con.executemany(audit_sql, audits)
        doses.clear()
        audits.clear()

    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ug = _mg_to_ug(row["dose_mg"])
            end = row["end_date"] or None
            values = {"drug": row["drug"], "dose_mg": row["dose_mg"],
                      "frequency": row["frequency"], "route": row["route"],
                      "start_date": row["start_date"], "end_date": end,
                      "source": row["source"] or None, "comment": row["comment"] or None}
            doses.append((next_id, ids[row["subject_id"]], row["drug"], ug, row["frequency"],
                          row["route"], row["start_date"], end, values["source"],
                          values["comment"], created, "nurse"))
            for field in AUDITED:
                new = values[field]
                if new is None:
                    continue
                last_id += 1
                # The trail's canonical form (services/audit.py): sorted keys, compact
                # separators, as json.dumps writes it, built by hand with each string's
                # JSON looked up once (the least work the same hash needs).
                canonical = "".join((
                    '{"action":"record_dose","at_utc":', at_json,
                    ',"entity":"dose_record","entity_id":"', str(next_id),
                    '","field":"', field, '","id":', str(last_id),
                    ',"new_value":', text_json(new), ',"old_value":null,"reason":"import"',
                    ',"subject_id":', text_json(row["subject_id"]),
                    ',"username":"nurse"}'))
                digest = hashlib.sha256((last_hash + canonical).encode()).hexdigest()
                audits.append((last_id, at, "nurse", "record_dose", "dose_record",
                               str(next_id), row["subject_id"], field, None, new, "import",
                               last_hash, digest))
                last_hash = digest
            next_id += 1
            count += 1
            if len(doses) >= 2000:
                flush()
    flush()
    con.execute("UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1",
                (last_id, last_hash))
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_rss_mb(), "doses": count}


# ---------------------------------------------------------------- the parent

def _child(mode: str, db_path: Path, csv_path: Path, *extra: str) -> dict[str, float]:
    env = child_env(ROOT)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode,
                           str(db_path), str(csv_path), *extra], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def measure_size(folder: Path, n_rows: int, runs: int,
                 profile: Path | None = None) -> tuple[list[dict[str, float]],
                                                       list[dict[str, float]]]:
    """``runs`` imports and ``runs`` baselines, alternated, each on a fresh copy."""
    template, doses_csv = prepare(folder / f"{n_rows}", n_rows)
    imported: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []

    def fresh(name: str) -> Path:
        target = folder / f"{n_rows}-{name}.sqlite"
        for stale in (target, target.with_name(target.name + "-wal"),
                      target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(template, target)
        return target

    if profile is not None:
        _child("import", fresh("profile"), doses_csv, str(profile))

    def one_import() -> float:
        report = _child("import", fresh("import"), doses_csv)
        if report["doses"] != n_rows:
            raise RuntimeError(f"imported {report['doses']} of {n_rows} rows")
        imported.append(report)
        return report["seconds"]

    def one_raw() -> float:
        report = _child("raw", fresh("raw"), doses_csv)
        raw.append(report)
        return report["seconds"]

    paired(one_import, one_raw, runs, warmup=0)
    return imported, raw


def bench_import(folder: Path, sizes: Sequence[int], runs: Sequence[int]) -> list[Result]:
    """The import at each size beside its baseline; the peaks; memory flat across sizes."""
    results: list[Result] = []
    peaks: list[tuple[int, list[float]]] = []
    for n_rows, n_runs in zip(sizes, runs, strict=True):
        imported, raw = measure_size(folder, n_rows, n_runs)
        label = f"{n_rows:,} dose rows"
        results.append(Result(
            f"import {label} (doses.csv, {-(-n_rows // ROWS_PER_PATIENT)} patients)",
            [r["seconds"] for r in imported],
            baseline_name="sqlite3: the same dose rows and audit rows, one transaction",
            baseline=[r["seconds"] for r in raw],
            target=TARGET_SECONDS if n_rows <= 100_000 else None,
            note="services.imports.import_files in a fresh subprocess (its call only); the "
                 "baseline: csv + hashlib + sqlite3 executemany, the same audit chain; "
                 "WAL, synchronous=FULL"))
        peak = [r["peak_mb"] for r in imported]
        peaks.append((n_rows, peak))
        results.append(Result(f"peak memory: import {label}", peak, unit="MB",
                              baseline_name="the sqlite3 baseline's peak",
                              baseline=[r["peak_mb"] for r in raw], target=TARGET_PEAK_MB,
                              note="peak resident memory (VmHWM) of the import's subprocess"))
    if len(peaks) >= 2:
        (small, small_peak), (large, large_peak) = peaks[0], peaks[-1]
        results.append(Result(
            f"memory flat: peak importing {large:,} rows, against {small:,}",
            large_peak, unit="MB", baseline_name=f"peak importing {small:,} rows",
            baseline=small_peak if len(small_peak) == len(large_peak) else
            [max(small_peak)] * len(large_peak), target_ratio=FLAT_RATIO,
            note=f"the file {large // small} times as long; ratio < {FLAT_RATIO:g}: flat"))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--runs", type=int, nargs="+", default=None,
                        help="runs per size (default 3 for the first, 1 for the others)")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the files here")
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, db_path, csv_path, *extra = args.child
        report = (child_import(db_path, csv_path, *extra) if mode == "import"
                  else child_raw(db_path, csv_path))
        print(json.dumps(report))
        return 0
    runs = args.runs or [3] + [1] * (len(args.rows) - 1)
    from bench.run_all import line

    with tempfile.TemporaryDirectory(prefix="taper-bench-import-") as tmp:
        folder = args.keep or Path(tmp)
        if args.profile is not None:
            measure_size(folder, args.rows[0], 0, profile=args.profile)
            import pstats

            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(30)
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
            return 0
        for result in bench_import(folder, args.rows, runs):
            print(line(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
