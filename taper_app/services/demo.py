"""A realistic, deterministic demo study: three sites, 40 patients, a few months of entries.

Deterministic for a given ``today``: the same seed and dates give the same data. Some
patients follow their schedule, some taper late, one flares and is amended with an IV
methylprednisolone pulse, some have diary gaps and a few take other steroids.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from ..domain.schedule import ScheduleStep
from ..domain.studyday import date_of_day
from ..domain.units import mg_to_ug
from ..paths import data_dir, resource
from ..storage.engine import Database
from ..storage.file_lock import sole_use
from ..storage.models import User
from ..storage.sqlite_copies import backup_folder
from ..storage.uow import UnitOfWork
from .audit import AuditTrail, utc_now
from .auth import Actor
from .context import ServiceContext
from .patients import add_dose_in_session, amend_in_session, enroll_in_session
from .records import find_patient_row, load_patient
from .saving import saving
from .study import StudyInfo, add_user, create_study, load_study
from .validation import ValidDose, ValidEnrollment

DEMO_PASSWORD = "demo-password"
DEMO_USERS = (
    ("nurse", "nurse", "Nora Nurse (demo)"),
    ("investigator", "investigator", "Ivan Investigator (demo)"),
    ("monitor", "monitor", "Mona Monitor (demo)"),
)
SITES = ("101", "102", "103")
SEED = 20260203


@dataclass(frozen=True)
class _Plan:
    subject: str
    site: str
    day1: date
    baseline: Decimal
    template: str
    behaviour: str  # on_schedule, late, flare, gaps, methylpred


def _plans(today: date) -> list[_Plan]:
    rng = random.Random(SEED)
    baselines = [Decimal(x) for x in ("5", "7.5", "10", "12.5", "15", "17.5", "20", "25")]
    behaviours = ["on_schedule"] * 16 + ["late"] * 10 + ["gaps"] * 8 + ["methylpred"] * 3 + [
        "flare"] * 3
    rng.shuffle(behaviours)
    templates = ["stepdown-a"] * 5 + ["stepdown-slow"] * 2 + ["table-12wk", "fraction-26wk"]
    plans = []
    for i, behaviour in enumerate(behaviours):
        site = SITES[i % 3]
        n = i // 3 + 1
        day1 = today - timedelta(days=rng.randint(45, 230))
        template = "stepdown-a" if behaviour == "flare" else rng.choice(templates)
        baseline = rng.choice(baselines[2:]) if behaviour == "flare" else rng.choice(baselines)
        plans.append(_Plan(f"{site}-{n:03d}", site, day1, baseline, template, behaviour))
    return plans


def _dose(drug: str, mg: Decimal, start: date, end: date | None, route: str = "PO",
          frequency: str = "QD", source: str = "clinic", comment: str | None = None) -> ValidDose:
    return ValidDose(drug, mg_to_ug(mg), frequency, route, start, end, source, comment)


def _follow(steps: list[ScheduleStep], baseline: Decimal, day1: date, last: date,
            delay: int, rng: random.Random, drug: str = "prednisone") -> list[ValidDose]:
    """Records that follow ``steps`` (each step ``delay`` days late), up to ``last``."""
    changes = [(day1 - timedelta(days=28), baseline)]
    changes += [(date_of_day(s.day, day1) + timedelta(days=delay + rng.randint(0, 2) * (delay > 0)),
                 s.dose_mg) for s in steps]
    changes = [c for c in changes if c[0] <= last]
    doses = []
    for i, (start, mg) in enumerate(changes):
        end = changes[i + 1][0] - timedelta(days=1) if i + 1 < len(changes) else None
        amount = mg * Decimal("0.8") if drug == "methylprednisolone" else mg  # 4 mg MP = 5 PEQ
        source = "clinic" if i % 2 == 0 else "diary"
        doses.append(_dose(drug, amount, start, end, source=source))
    return doses


def demo_database() -> Path:
    """Where ``taper-app --demo`` keeps its study: the per-user data folder."""
    return data_dir() / "demo.sqlite"


def prepare_demo(path: Path, today: date, *, reset: bool = False,
                 clock: Callable[[], datetime] = utc_now) -> bool:
    """The demo study at ``path``, kept between launches (what was entered stays): built
    when there is none, or rebuilt with data up to ``today`` when ``reset`` (the file, its
    journal and its automatic backups removed first: a demo has nothing worth keeping, and
    an old backup would look like a newer copy of the study). True when built now."""
    if path.exists() and not reset:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # A demo window still open would go on saving into a deleted file: StudyFileInUse.
    with sole_use(path, then="reset the demo again"):
        for stale in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(backup_folder(path), ignore_errors=True)
    create_demo(path, today, clock).dispose()
    return True


@saving("create the demo study")
def create_demo(path: str | Path, today: date,
                clock: Callable[[], datetime] = utc_now) -> Database:
    """Create the demo study at ``path`` with data up to ``today``."""
    protocol = resource("protocols", "example-iim.toml").read_text(encoding="utf-8")
    db = create_study(path, protocol, "admin", "Ada Admin (demo)", DEMO_PASSWORD, clock=clock)
    admin = ServiceContext(db, Actor("admin", "Ada Admin (demo)", "admin"), clock,
                           lambda: today)
    for username, role, full_name in DEMO_USERS:
        add_user(admin, username, role, full_name, DEMO_PASSWORD)
    _demo_passwords_need_no_change(db, clock)
    study = load_study(db)
    rng = random.Random(SEED + 1)
    with UnitOfWork(db) as uow:
        nurse = AuditTrail(uow.session, "nurse", clock)
        investigator = AuditTrail(uow.session, "investigator", clock)
        now = clock()
        for plan in _plans(today):
            enrollment = ValidEnrollment(plan.subject, plan.site, plan.day1,
                                         mg_to_ug(plan.baseline), plan.template,
                                         f"K-{rng.randint(10000, 99999)}", None)
            enroll_in_session(uow.session, nurse, study, enrollment, "nurse", now)
            uow.session.flush()
            last = today - timedelta(days=rng.randint(0, 10))
            record = load_patient(uow.session, plan.subject)
            steps = list(record.steps)
            delay = {"late": rng.choice((7, 10, 14)), "gaps": 0}.get(plan.behaviour, 0)
            drug = "methylprednisolone" if plan.behaviour == "methylpred" else "prednisone"
            if plan.behaviour == "flare":
                doses = _flare(uow, investigator, study, plan, steps, last, rng, now)
            else:
                doses = _follow(steps, plan.baseline, plan.day1, last, delay, rng, drug)
            if plan.behaviour == "gaps":
                doses = _with_gaps(doses, rng)
            patient = find_patient_row(uow.session, plan.subject)
            for dose in doses:
                add_dose_in_session(uow.session, nurse, patient, dose, "nurse", now)
        uow.commit()
    return db


def _flare(uow: UnitOfWork, audit: AuditTrail, study: StudyInfo, plan: _Plan,
           steps: list[ScheduleStep], last: date, rng: random.Random,
           now: datetime) -> list[ValidDose]:
    """Tapers on schedule, flares, gets an IV pulse and an amended schedule, resumes."""
    elapsed = (last - plan.day1).days + 1
    flare_day = max(35, min(elapsed - 20, 60 + rng.randint(0, 20)))
    flare_dose = plan.baseline
    before = [s for s in steps if s.day < flare_day]
    doses = _follow(before, plan.baseline, plan.day1, date_of_day(flare_day - 1, plan.day1), 0,
                    rng)
    if doses:
        last_before = doses[-1]
        doses[-1] = _dose(last_before.drug, Decimal(last_before.dose_ug) / 1000,
                          last_before.start_date, date_of_day(flare_day - 1, plan.day1),
                          source=last_before.source or "clinic")
    flare_date = date_of_day(flare_day, plan.day1)
    doses.append(_dose("methylprednisolone", Decimal(500), flare_date, None, route="IV",
                       frequency="ONCE", comment="IV pulse for flare"))
    reason = "Flare: physician global activity and MMT-8 worse on two visits"
    amend_in_session(uow.session, audit, study, plan.subject, flare_day, flare_dose, reason,
                     "investigator", now)
    uow.session.flush()
    amended = [s for s in load_patient(uow.session, plan.subject).steps if s.day > flare_day]
    later = _follow(amended, flare_dose, plan.day1, last, 0, rng)
    # _follow starts with a run-in record; the flare dose itself starts on the flare day.
    first_end = later[1].start_date - timedelta(days=1) if len(later) > 1 else None
    doses.append(_dose("prednisone", flare_dose, flare_date, first_end))
    doses += later[1:]
    return doses


def _with_gaps(doses: list[ValidDose], rng: random.Random) -> list[ValidDose]:
    """Cut one or two diary gaps (days nobody recorded) out of the records."""
    out: list[ValidDose] = []
    for dose in doses:
        end = dose.end_date
        length = (end - dose.start_date).days + 1 if end else 0
        if end is not None and length > 12 and rng.random() < 0.5:
            gap_start = dose.start_date + timedelta(days=rng.randint(2, length - 8))
            gap_end = gap_start + timedelta(days=rng.randint(2, 5))
            out.append(_dose(dose.drug, Decimal(dose.dose_ug) / 1000, dose.start_date,
                             gap_start - timedelta(days=1), source="diary"))
            out.append(_dose(dose.drug, Decimal(dose.dose_ug) / 1000,
                             gap_end + timedelta(days=1), end, source="diary",
                             comment="diary resumed after missing days"))
        else:
            out.append(dose)
    return out


def _demo_passwords_need_no_change(db: Database, clock: Callable[[], datetime]) -> None:
    """Demo users sign in with the published demo password, not a forced new one (audited)."""
    with UnitOfWork(db) as uow:
        audit = AuditTrail(uow.session, "admin", clock)
        for user in uow.session.scalars(select(User).where(User.must_change_password)):
            user.must_change_password = False
            audit.add("demo_setup", "user", user.username, "must_change_password", True, False,
                      reason="demo study: the published demo password is kept")
        uow.commit()
