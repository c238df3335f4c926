"""Figures for patients and the study: the single source for the window, PDFs and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from datetime import date
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np

from ..domain.doses import DoseColumns, daily_series, daily_series_many
from ..domain.figures import (
    FigureSettings,
    PatientFigures,
    analyse_cohort,
    compute_figures,
    taper_curves,
)
from ..domain.units import round_half_up
from ..garbage_collection import collector_paused
from ..results import PatientAnalysis, PatientRecord, StudyInfo
from ..storage.engine import Database
from ..storage.uow import UnitOfWork
from .errors import PermissionDenied
from .records import load_patient, read_all_patients


def _ended_before_target(record: PatientRecord, as_of: date,
                         settings: FigureSettings) -> bool:
    """The patient's participation ended (by ``as_of``) before the target day (§7)."""
    end = record.end_date
    return (end is not None and end <= as_of
            and (end - record.day1_date).days + 1 < settings.target_day)


def _with_participation(record: PatientRecord, figures: PatientFigures, as_of: date,
                        settings: FigureSettings) -> PatientFigures:
    """The target status ``discontinued`` when participation ended before the target day."""
    if not _ended_before_target(record, as_of, settings):
        return figures
    return dataclasses.replace(figures, target=dataclasses.replace(
        figures.target, status="discontinued"))


def analyse(study: StudyInfo, record: PatientRecord, as_of: date) -> PatientAnalysis:
    """A patient's figures as of ``min(as_of, end of participation)`` (domain.md §7)."""
    series = daily_series(record.doses, study.equivalence,
                          record.day1_date, record.figures_as_of(as_of))
    settings = study.protocol.settings
    curves = taper_curves(series, record.steps, record.baseline_mg, settings)
    figures = compute_figures(series, record.steps, record.baseline_mg, settings, curves)
    return PatientAnalysis(record, series, curves,
                           _with_participation(record, figures, as_of, settings))


def _subset(columns: DoseColumns, lengths: Sequence[int], keep: Sequence[bool]) -> DoseColumns:
    """The columns of the kept patients' records (``lengths[i]`` records of patient i)."""
    mask = np.repeat(np.asarray(keep, dtype=np.bool_), np.asarray(lengths, dtype=np.int64))
    index = np.flatnonzero(mask).tolist()
    return DoseColumns(start=columns.start[mask], end=columns.end[mask],
                       drug=[columns.drug[i] for i in index],
                       frequency=[columns.frequency[i] for i in index],
                       dose_ug=columns.dose_ug[mask], voided=columns.voided[mask])


def analyse_many(study: StudyInfo, records: Sequence[PatientRecord], as_of: date,
                 dose_columns: DoseColumns | None = None) -> list[PatientAnalysis]:
    """``[analyse(study, r, as_of) for r in records]``, with the same results, computed
    for all patients at once (one numpy call per step for a study rather than per patient).

    ``dose_columns``: the records' doses as columns, patient after patient, when a bulk
    read gave them (:class:`~.records.StudyRecords`). A patient whose participation ended
    before ``as_of`` has its series made alone, as of the end date (domain.md §7).
    """
    active = [r.figures_as_of(as_of) == as_of for r in records]
    if all(active):
        series = daily_series_many([r.doses for r in records], study.equivalence,
                                   [r.day1_date for r in records], as_of, dose_columns)
    else:
        kept = [r for r, a in zip(records, active, strict=True) if a]
        columns = None if dose_columns is None else _subset(
            dose_columns, [len(r.doses) for r in records], active)
        bulk = iter(daily_series_many([r.doses for r in kept], study.equivalence,
                                      [r.day1_date for r in kept], as_of, columns))
        series = [next(bulk) if a else daily_series(r.doses, study.equivalence, r.day1_date,
                                                   r.figures_as_of(as_of))
                  for r, a in zip(records, active, strict=True)]
    settings = study.protocol.settings
    results = analyse_cohort(series, [r.steps for r in records],
                             [r.baseline_mg for r in records], settings)
    return [PatientAnalysis(record, s, curves,
                            _with_participation(record, figures, as_of, settings))
            for record, s, (curves, figures) in zip(records, series, results, strict=True)]


def analyse_patient(db: Database, study: StudyInfo, subject_id: str, as_of: date,
                    sites: frozenset[str] | None = None) -> PatientAnalysis:
    """One patient; ``sites`` (the user's) refuses a patient of another site."""
    with UnitOfWork(db, write=False) as uow:
        record = load_patient(uow.session, subject_id)
    if sites is not None and record.site not in sites:
        raise PermissionDenied(f"{subject_id} is at a site you do not work for")
    return analyse(study, record, as_of)


def analyse_all(db: Database, study: StudyInfo, as_of: date,
                sites: frozenset[str] | None = None) -> list[PatientAnalysis]:
    """Every patient of ``sites`` (None: all sites), in subject order."""
    # A thousand patients are a hundred thousand driver rows, in no reference cycle: the
    # collector kept re-walking them as they were read (a third of the time in profiles).
    with collector_paused():
        with UnitOfWork(db, write=False) as uow:
            read = read_all_patients(uow.session, sites)
        return analyse_many(study, read.records, as_of, read.dose_columns)


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
        # End of participation (domain.md §7); as_of above is min(as-of, end date).
        "participation": {
            "status": record.participation,
            "end_date": None if record.end_date is None else record.end_date.isoformat(),
        },
    }


def summary(db: Database, study: StudyInfo, as_of: date, subject_id: str | None = None,
            sites: frozenset[str] | None = None) -> list[dict[str, Any]]:
    if subject_id is not None:
        a = analyse_patient(db, study, subject_id, as_of, sites)
        return [summary_dict(a.record, a.figures)]
    with collector_paused():  # and for the rows built from the analyses
        return [summary_dict(a.record, a.figures)
                for a in analyse_all(db, study, as_of, sites)]


def summary_json(rows: Sequence[dict[str, Any]]) -> str:
    """``json.dumps(rows, indent=2)``, byte for byte, for the ``summary --json`` rows.

    The standard library's encoder is pure Python once it indents (a generator per nested
    value), which was a tenth of ``summary --json`` for a thousand patients. This writes
    the same text with one join per container; anything but the plain values and string
    keys a summary holds goes to ``json.dumps`` itself.
    """
    try:
        return _indented(rows, "\n")
    except _NotPlain:
        return json.dumps(rows, indent=2)


class _NotPlain(Exception):
    """A value the fast writer leaves to ``json.dumps``."""


def _indented(value: Any, newline: str) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it at the depth ``newline`` shows."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(value)
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(key, str) for key in value):
            raise _NotPlain
        items = [encode_basestring_ascii(key) + ": " + _indented(v, inner)
                 for key, v in value.items()]
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return ("[" + inner + ("," + inner).join([_indented(v, inner) for v in value])
                + newline + "]")
    raise _NotPlain


def _float_text(x: float) -> str:
    """A float as the json module writes it (repr; NaN and infinities by name)."""
    if x != x:
        return "NaN"
    if x == math.inf:
        return "Infinity"
    if x == -math.inf:
        return "-Infinity"
    return float.__repr__(x)
