"""The one deterministic synthetic trial for benchmarks: N patients with up to D days of records.

Patients follow their schedule (a quarter a week late), some have diary gaps, about one in
ten flares with an IV methylprednisolone pulse and an amended schedule that they then
follow, and every ``daily_every``-th patient keeps a daily diary (one record per day, a
few days forgotten). Same arguments, same data.

Patients and amendments go through the documented CSV import (the services, so schedules
and amendments are exactly what the application would store). Dose records, the bulk of
the rows, are checked by the same validation and then written with SQLAlchemy Core in one
transaction, each with the audit rows ``record_dose`` would write, chained on from the
audit head, so ``audit verify`` passes. Generated files are cached under ``bench/.cache/``
keyed by the parameters and the code that shapes them.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, update

from taper_app.domain.schedule import Amendment as AmendmentSpec
from taper_app.domain.schedule import (
    ScheduleStep,
    Template,
    _band_steps,
    amend_schedule,
    generate_schedule,
    round_to,
)
from taper_app.domain.studyday import date_of_day
from taper_app.paths import resource
from taper_app.services.audit import format_utc, row_hash
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.imports import import_files
from taper_app.services.patients import _dose_fields, amend_in_session, enroll_in_session
from taper_app.services.study import add_user, create_study, load_study
from taper_app.services.validation import check_dose
from taper_app.storage.engine import Database
from taper_app.storage.models import AuditEntry, AuditHead, DoseRecordRow, Patient
from taper_app.storage.uow import UnitOfWork

SITES = ("101", "102", "103", "104", "105")
BASELINES = ("5", "7.5", "10", "12.5", "15", "17.5", "20", "25")
PASSWORD = "synthetic-password"
SEED = 20260702
CACHE = Path(__file__).resolve().parent / ".cache"
ROOT = Path(__file__).resolve().parent.parent
#: Files whose change must regenerate cached studies (the schema, the protocol).
SHAPING_FILES = ("taper_app/storage/models.py", "resources/protocols/example-iim.toml")
DOSE_COLUMNS = ["subject_id", "drug", "dose_mg", "frequency", "route", "start_date",
                "end_date", "source", "comment"]


@dataclass(frozen=True)
class SyntheticStudy:
    db: Database
    subjects: list[str]
    today: date


@dataclass(frozen=True)
class TrialShape:
    """What to generate: ``days`` is the longest history (Day 1 up to ``days`` ago)."""

    patients: int
    days: int = 200
    daily_every: int = 0  # every n-th patient keeps a daily diary; 0: none
    seed: int = SEED

    @property
    def name(self) -> str:
        return f"trial-{self.patients}p-{self.days}d-daily{self.daily_every}-s{self.seed}"


def _changes_for(steps: list[ScheduleStep], day1: date, late: int, until: date,
                 start: tuple[date, Decimal]) -> list[tuple[date, Decimal]]:
    changes = [start]
    for step in steps:
        when = date_of_day(step.day, day1) + timedelta(days=late)
        if when > changes[-1][0] and when <= until:
            changes.append((when, step.dose_mg))
    return changes


def _rows(study_templates: dict[str, Template], shape: TrialShape, today: date,
          rng: random.Random) -> tuple[list[dict[str, str]], list[dict[str, str]],
                                        list[dict[str, str]]]:
    patients: list[dict[str, str]] = []
    doses: list[dict[str, str]] = []
    amendments: list[dict[str, str]] = []
    template_ids = sorted(study_templates)
    low = max(1, int(shape.days * 0.85))
    for i in range(shape.patients):
        site = SITES[i % len(SITES)]
        subject = f"{site}-{i // len(SITES) + 1:03d}"
        day1 = today - timedelta(days=rng.randint(low, shape.days) - 1)
        span = (today - day1).days + 1
        baseline = Decimal(rng.choice(BASELINES))
        template_id = rng.choice(template_ids)
        template = study_templates[template_id]
        patients.append({"subject_id": subject, "site": site, "day1_date": day1.isoformat(),
                         "baseline_mg": str(baseline), "template_id": template_id,
                         "kit_number": f"K-{rng.randint(10000, 99999)}"})
        steps = generate_schedule(template, baseline)
        late = 7 if rng.random() < 0.25 else 0
        flare_day = (rng.randint(60, max(60, min(span - 14, 120 + span // 3)))
                     if span > 75 and rng.random() < 0.1 else None)
        run_in = (day1 - timedelta(days=28), baseline)  # four weeks before Day 1
        if flare_day is None:
            changes = _changes_for(steps, day1, late, today, run_in)
        else:
            flare_date = date_of_day(flare_day, day1)
            flare_dose = max(baseline, Decimal(10))
            before = _changes_for([s for s in steps if s.day < flare_day], day1, late,
                                  flare_date - timedelta(days=1), run_in)
            amended = amend_schedule(steps, template, baseline,
                                     AmendmentSpec(flare_day, flare_dose, ""), 1)
            changes = before + _changes_for([s for s in amended if s.day > flare_day], day1,
                                            0, today, (flare_date, flare_dose))
            doses.append({"subject_id": subject, "drug": "methylprednisolone", "dose_mg": "500",
                          "frequency": "ONCE", "route": "IV",
                          "start_date": flare_date.isoformat(), "end_date": "",
                          "source": "clinic", "comment": "IV pulse for flare"})
            amendments.append({"subject_id": subject, "day": str(flare_day),
                               "dose_mg": str(flare_dose),
                               "reason": "Flare: worse on two visits (synthetic)"})
        daily = shape.daily_every > 0 and i % shape.daily_every == 0
        for n, (first_day, mg) in enumerate(changes):
            end = changes[n + 1][0] - timedelta(days=1) if n + 1 < len(changes) else None
            pieces: list[tuple[date, date | None]] = [(first_day, end)]
            if end is not None and (end - first_day).days > 20 and rng.random() < 0.15:
                gap = first_day + timedelta(days=rng.randint(3, (end - first_day).days - 10))
                pieces = [(first_day, gap - timedelta(days=1)),
                          (gap + timedelta(days=rng.randint(2, 5)), end)]
            for first, last in pieces:
                if daily:  # one diary record per day, a day forgotten now and then
                    stop = last or today
                    for k in range((stop - first).days + 1):
                        if rng.random() < 0.02:
                            continue
                        when = (first + timedelta(days=k)).isoformat()
                        doses.append({"subject_id": subject, "drug": "prednisone",
                                      "dose_mg": str(mg), "frequency": "QD", "route": "PO",
                                      "start_date": when, "end_date": when, "source": "diary",
                                      "comment": ""})
                    continue
                doses.append({"subject_id": subject, "drug": "prednisone", "dose_mg": str(mg),
                              "frequency": "QD", "route": "PO", "start_date": first.isoformat(),
                              "end_date": last.isoformat() if last else "",
                              "source": rng.choice(("clinic", "diary")), "comment": ""})
    return patients, doses, amendments


def _write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _bulk_doses(ctx: ServiceContext, doses: list[dict[str, str]], today: date) -> None:
    """Dose rows and their ``record_dose`` audit rows, in one transaction, chained."""
    table = load_study(ctx.db).equivalence
    now = ctx.clock()
    naive_now = now.replace(tzinfo=None)
    at = format_utc(now)
    user = ctx.actor.username
    with UnitOfWork(ctx.db) as uow:
        session = uow.session
        head = session.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
        ids = {s: i for s, i in session.execute(select(Patient.subject_id, Patient.id))}
        next_id = (session.scalar(select(DoseRecordRow.id).order_by(
            DoseRecordRow.id.desc()).limit(1)) or 0) + 1
        last_id, last_hash = head.last_id, head.last_hash
        dose_rows: list[dict[str, object]] = []
        audit_rows: list[dict[str, object]] = []
        for raw in doses:
            dose, problems = check_dose(raw, table, today)
            if dose is None:
                raise ValueError(f"synthetic dose is invalid: {raw} {problems}")
            dose_rows.append({"id": next_id, "patient_id": ids[raw["subject_id"]],
                              "drug": dose.drug, "dose_ug": dose.dose_ug,
                              "frequency": dose.frequency, "route": dose.route,
                              "start_date": dose.start_date, "end_date": dose.end_date,
                              "source": dose.source, "comment": dose.comment,
                              "deviation_reason": dose.deviation_reason,
                              "created_at": naive_now, "created_by": user, "voided": False,
                              "replaces_id": None, "version": 1})
            for field, old, new in _dose_fields(dose):
                if new is None:
                    continue
                last_id += 1
                values: dict[str, object] = {
                    "id": last_id, "at_utc": at, "username": user, "action": "record_dose",
                    "entity": "dose_record", "entity_id": str(next_id),
                    "subject_id": raw["subject_id"], "field": field, "old_value": old,
                    "new_value": str(new), "reason": "import"}
                digest = row_hash(last_hash, values)
                audit_rows.append({**values, "prev_hash": last_hash, "row_hash": digest})
                last_hash = digest
            next_id += 1
        connection = session.connection()  # Core executemany: no ORM bookkeeping per row
        for start in range(0, len(dose_rows), 20000):
            connection.execute(insert(DoseRecordRow.__table__), dose_rows[start:start + 20000])
        for start in range(0, len(audit_rows), 20000):
            connection.execute(insert(AuditEntry.__table__), audit_rows[start:start + 20000])
        # As the import does: each patient whose record changed moves its version on once.
        touched = {ids[raw["subject_id"]] for raw in doses}
        session.execute(update(Patient).where(Patient.id.in_(touched))
                        .values(version=Patient.version + 1))
        session.execute(update(AuditHead).where(AuditHead.id == 1)
                        .values(last_id=last_id, last_hash=last_hash))
        uow.commit()


def build_synthetic_study(path: str | Path, n_patients: int, today: date, *,
                          days: int = 200, daily_every: int = 0, seed: int = SEED,
                          clock: Callable[[], datetime] | None = None) -> SyntheticStudy:
    """Create the study at ``path`` (a new SQLite file) with ``n_patients`` patients."""
    shape = TrialShape(n_patients, days, daily_every, seed)
    now = clock or (lambda: datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    protocol = resource("protocols", "example-iim.toml").read_text(encoding="utf-8")
    db = create_study(path, protocol, "admin", "Ada Admin (synthetic)", PASSWORD, clock=now)
    admin = ServiceContext(db, Actor("admin", "Ada Admin (synthetic)", "admin"), now,
                           lambda: today)
    add_user(admin, "investigator", "investigator", "Ivan Investigator (synthetic)", PASSWORD)
    add_user(admin, "nurse", "nurse", "Nora Nurse (synthetic)", PASSWORD)
    ctx = ServiceContext(db, Actor("investigator", "Ivan Investigator (synthetic)",
                                   "investigator"), now, lambda: today)
    study = load_study(db)
    patients, doses, amendments = _rows(dict(study.templates), shape, today,
                                        random.Random(seed))
    with tempfile.TemporaryDirectory(prefix="taper-synthetic-") as tmp:
        folder = Path(tmp)
        import_files(
            ctx, study,
            patients=_write_csv(folder / "patients.csv", patients, [
                "subject_id", "site", "day1_date", "baseline_mg", "template_id", "kit_number"]),
            amendments=_write_csv(folder / "amendments.csv", amendments, [
                "subject_id", "day", "dose_mg", "reason"]) if amendments else None,
        )
    _bulk_doses(ctx, doses, today)
    return SyntheticStudy(db, [p["subject_id"] for p in patients], today)


def code_version() -> str:
    """A short hash of what shapes generated studies (the cache key's tail).

    The generator's own functions and the service and domain functions whose output it
    stores, by their source, plus the schema and protocol files: editing anything else
    (a benchmark, a comment elsewhere, a speed-up in another function) keeps the cache.
    """
    digest = hashlib.sha256()
    for function in (_changes_for, _rows, _bulk_doses, build_synthetic_study,
                     generate_schedule, amend_schedule, round_to, _band_steps,
                     enroll_in_session, amend_in_session, import_files, _dose_fields, row_hash,
                     check_dose):
        digest.update(inspect.getsource(function).encode())
    for name in SHAPING_FILES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:12]


def generation_seconds(path: Path) -> float | None:
    """How long generating a cached study took, when it was generated (None if unknown)."""
    record = path.with_suffix(".seconds")
    return float(record.read_text(encoding="utf-8")) if record.exists() else None


def cached_study(shape: TrialShape, today: date, cache: Path = CACHE) -> tuple[Path, list[str]]:
    """The study file for ``shape`` as of ``today``, generated once and then reused.

    Returns the cached file (treat it as read-only: copy it before writing) and its subjects.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{shape.name}-{today.isoformat()}-{code_version()}.sqlite"
    subjects_file = path.with_suffix(".subjects")
    if not (path.exists() and subjects_file.exists()):
        partial = path.with_suffix(".partial")
        for stale in (partial, partial.with_name(partial.name + "-wal"),
                      partial.with_name(partial.name + "-shm")):
            stale.unlink(missing_ok=True)
        start = time.perf_counter()
        built = build_synthetic_study(partial, shape.patients, today, days=shape.days,
                                      daily_every=shape.daily_every, seed=shape.seed)
        built.db.dispose()  # checkpoints the WAL into the file
        path.with_suffix(".seconds").write_text(f"{time.perf_counter() - start:.1f}\n",
                                                encoding="utf-8")
        partial.replace(path)
        subjects_file.write_text("\n".join(built.subjects) + "\n", encoding="utf-8")
    return path, subjects_file.read_text(encoding="utf-8").split()

