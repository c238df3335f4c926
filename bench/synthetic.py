"""A deterministic synthetic study for benchmarks: N patients with about six months of records.

Built through the documented door a data manager would use (the all-or-nothing CSV
import of interfaces.md), so it exercises the same services as real data. Kept simple on
purpose: patients follow their schedule (some a week late), some have diary gaps, a few
flare with an IV methylprednisolone pulse and an amended schedule. Same arguments, same
data.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from taper_app.domain.schedule import generate_schedule
from taper_app.domain.studyday import date_of_day
from taper_app.paths import resource
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.imports import import_files
from taper_app.services.study import add_user, create_study, load_study
from taper_app.storage.engine import Database

SITES = ("101", "102", "103", "104", "105")
BASELINES = ("5", "7.5", "10", "12.5", "15", "17.5", "20", "25")
PASSWORD = "synthetic-password"
SEED = 20260702


@dataclass(frozen=True)
class SyntheticStudy:
    db: Database
    subjects: list[str]
    today: date


def _rows(study_templates: dict[str, object], n_patients: int, today: date,
          rng: random.Random) -> tuple[list[dict[str, str]], list[dict[str, str]],
                                        list[dict[str, str]]]:
    patients: list[dict[str, str]] = []
    doses: list[dict[str, str]] = []
    amendments: list[dict[str, str]] = []
    template_ids = sorted(study_templates)
    for i in range(n_patients):
        site = SITES[i % len(SITES)]
        subject = f"{site}-{i // len(SITES) + 1:03d}"
        day1 = today - timedelta(days=rng.randint(170, 200))  # about six months of records
        baseline = Decimal(rng.choice(BASELINES))
        template_id = rng.choice(template_ids)
        patients.append({"subject_id": subject, "site": site, "day1_date": day1.isoformat(),
                         "baseline_mg": str(baseline), "template_id": template_id,
                         "kit_number": f"K-{rng.randint(10000, 99999)}"})
        steps = generate_schedule(study_templates[template_id], baseline)  # type: ignore[arg-type]
        late = rng.random() < 0.25
        flare_day = rng.randint(60, 120) if rng.random() < 0.1 else None
        changes = [(day1 - timedelta(days=28), baseline)]  # four weeks of run-in
        for step in steps:
            if flare_day is not None and step.day >= flare_day:
                break
            start = date_of_day(step.day, day1) + timedelta(days=7 if late else 0)
            changes.append((start, step.dose_mg))
        if flare_day is not None:
            flare_date = date_of_day(flare_day, day1)
            flare_dose = max(baseline, Decimal(10))
            changes.append((flare_date, flare_dose))
            doses.append({"subject_id": subject, "drug": "methylprednisolone", "dose_mg": "500",
                          "frequency": "ONCE", "route": "IV",
                          "start_date": flare_date.isoformat(), "end_date": "",
                          "source": "clinic", "comment": "IV pulse for flare"})
            amendments.append({"subject_id": subject, "day": str(flare_day),
                               "dose_mg": str(flare_dose),
                               "reason": "Flare: worse on two visits (synthetic)"})
        changes = [c for c in changes if c[0] <= today]
        for n, (start, mg) in enumerate(changes):
            end = changes[n + 1][0] - timedelta(days=1) if n + 1 < len(changes) else None
            pieces = [(start, end)]
            if end is not None and (end - start).days > 20 and rng.random() < 0.15:
                gap = start + timedelta(days=rng.randint(3, (end - start).days - 10))
                pieces = [(start, gap - timedelta(days=1)),
                          (gap + timedelta(days=rng.randint(2, 5)), end)]
            for first, last in pieces:
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


def build_synthetic_study(path: str | Path, n_patients: int, today: date, *,
                          seed: int = SEED,
                          clock: Callable[[], datetime] | None = None) -> SyntheticStudy:
    """Create the study at ``path`` (a new SQLite file) with ``n_patients`` patients."""
    now = clock or (lambda: datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    protocol = resource("protocols", "example-iim.toml").read_text(encoding="utf-8")
    db = create_study(path, protocol, "admin", "Ada Admin (synthetic)", PASSWORD, clock=now)
    admin = ServiceContext(db, Actor("admin", "Ada Admin (synthetic)", "admin"), now,
                           lambda: today)
    add_user(admin, "investigator", "investigator", "Ivan Investigator (synthetic)", PASSWORD)
    ctx = ServiceContext(db, Actor("investigator", "Ivan Investigator (synthetic)",
                                   "investigator"), now, lambda: today)
    study = load_study(db)
    patients, doses, amendments = _rows(dict(study.templates), n_patients, today,
                                        random.Random(seed))
    with tempfile.TemporaryDirectory(prefix="taper-synthetic-") as tmp:
        folder = Path(tmp)
        import_files(
            ctx, study,
            patients=_write_csv(folder / "patients.csv", patients, [
                "subject_id", "site", "day1_date", "baseline_mg", "template_id", "kit_number"]),
            doses=_write_csv(folder / "doses.csv", doses, [
                "subject_id", "drug", "dose_mg", "frequency", "route", "start_date", "end_date",
                "source", "comment"]),
            amendments=_write_csv(folder / "amendments.csv", amendments, [
                "subject_id", "day", "dose_mg", "reason"]) if amendments else None,
        )
    return SyntheticStudy(db, [p["subject_id"] for p in patients], today)
