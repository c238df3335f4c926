"""Figures for patients and the study: the single source for the window, PDFs and the CLI."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..domain.doses import DailySeries, daily_series, missing_gaps
from ..domain.figures import PatientFigures, TaperCurves, compute_figures, taper_curves
from ..domain.units import round_half_up
from ..storage.engine import Database
from ..storage.uow import UnitOfWork
from .errors import PermissionDenied
from .records import PatientRecord, load_all_patients, load_patient
from .study import StudyInfo


@dataclass(frozen=True)
class PatientAnalysis:
    """A patient's stored record with its series, curves and figures as of one date."""

    record: PatientRecord
    series: DailySeries
    curves: TaperCurves
    figures: PatientFigures

    @property
    def gaps(self) -> list[tuple[date, date]]:
        return missing_gaps(self.series)


def analyse(study: StudyInfo, record: PatientRecord, as_of: date) -> PatientAnalysis:
    series = daily_series(record.doses, study.equivalence,
                          record.day1_date, as_of)
    settings = study.protocol.settings
    curves = taper_curves(series, record.steps, record.baseline_mg, settings)
    figures = compute_figures(series, record.steps, record.baseline_mg, settings, curves)
    return PatientAnalysis(record, series, curves, figures)


def analyse_patient(db: Database, study: StudyInfo, subject_id: str, as_of: date,
                    sites: frozenset[str] | None = None) -> PatientAnalysis:
    """One patient; ``sites`` (the user's) refuses a patient of another site."""
    with UnitOfWork(db, write=False) as uow:
        record = load_patient(uow.session, subject_id)
    if sites is not None and record.site not in sites:
        raise PermissionDenied(f"{subject_id} is at a site you do not work for")
    return analyse(study, record, as_of)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk read and its figures.

    A thousand patients are a hundred thousand row objects, none of them in a reference
    cycle, and each batch of allocations made the collector walk the growing set again
    (a third of the time in profiles). Reference counting still frees everything; the
    collector runs as usual afterwards. Left disabled if someone else had disabled it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyse_all(db: Database, study: StudyInfo, as_of: date,
                sites: frozenset[str] | None = None) -> list[PatientAnalysis]:
    """Every patient of ``sites`` (None: all sites), in subject order."""
    with _collector_paused():
        with UnitOfWork(db, write=False) as uow:
            records = load_all_patients(uow.session, sites)
        return [analyse(study, r, as_of) for r in records]


def _mg(x: float | None) -> float | None:
    return None if x is None else round_half_up(x, 3)


def _pct(x: float | None) -> float | None:
    return None if x is None else round_half_up(x, 1)


def summary_dict(record: PatientRecord, f: PatientFigures) -> dict[str, Any]:
    """One patient's figures in the ``summary --json`` contract (interfaces.md)."""
    return {
        "subject_id": record.subject_id,
        "site": record.site,
        "as_of": f.as_of.isoformat(),
        "as_of_day": f.as_of_day,
        "baseline_mg": _mg(f.baseline_mg),
        "observed_days": f.observed_days,
        "missing_days": f.missing_days,
        "actual_mg": _mg(f.actual_mg),
        "scheduled_mg": _mg(f.scheduled_mg),
        "reduction_pct": _pct(f.reduction_pct),
        "window_reduction_pct": _pct(f.window_reduction_pct),
        "cumulative_mg": _mg(f.cumulative_mg),
        "scheduled_cumulative_mg": _mg(f.scheduled_cumulative_mg),
        "cumulative_reduction_pct": _pct(f.cumulative_reduction_pct),
        "spared_mg": _mg(f.spared_mg),
        "deviation_days_above": f.deviation_days_above,
        "deviation_days_below": f.deviation_days_below,
        "deviation_episodes": len(f.episodes),
        "days_to_target_dose": f.days_to_target_dose,
        "target": {
            "day": f.target.day,
            "reduction_pct": float(f.target.reduction_pct),
            "window_reduction_pct": _pct(f.target.window_reduction_pct),
            "status": f.target.status,
        },
    }


def summary(db: Database, study: StudyInfo, as_of: date, subject_id: str | None = None,
            sites: frozenset[str] | None = None) -> list[dict[str, Any]]:
    if subject_id is not None:
        a = analyse_patient(db, study, subject_id, as_of, sites)
        return [summary_dict(a.record, a.figures)]
    return [summary_dict(a.record, a.figures) for a in analyse_all(db, study, as_of, sites)]
