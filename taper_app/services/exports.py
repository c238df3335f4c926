"""Exports for statisticians: dose records and the daily series as CSV files."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from pathlib import Path

import numpy as np

from ..domain.doses import peq_mg_per_day
from ..domain.studyday import study_day
from ..domain.units import format_mg, round_half_up
from ..reports.csv_cells import RULE, safe_writer
from ..results import AuditHeadMark, SdvStatus
from ..storage.engine import Database
from .audit import head_of
from .figures import analyse_all
from .study import StudyInfo
from .verification import sdv_marks

DOSE_RECORD_COLUMNS = ("subject_id", "site", "record_id", "drug", "dose_mg", "frequency", "route",
                       "start_date", "end_date", "start_study_day", "end_study_day",
                       "peq_mg_per_day", "source", "comment", "deviation_reason", "entered_by",
                       "entered_at_utc", "voided", "void_reason", "voided_by", "voided_at_utc",
                       "replaces_record_id", "sdv_by", "sdv_at_utc")
DAILY_COLUMNS = ("subject_id", "site", "date", "study_day", "actual_peq_mg", "scheduled_peq_mg",
                 "missing", "deviation")


def _iso(value: object) -> str:
    """Dates as YYYY-MM-DD; stored times (naive UTC) with an explicit Z."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return value.isoformat() if isinstance(value, date) else str(value)


def _mg_text(value: float) -> str:
    """A computed mg figure to 0.001 (as in ``summary --json``), without trailing zeros:
    1253.3333 -> '1253.333', 20.0 -> '20' (never the 6 significant digits of ``%g``)."""
    text = f"{round_half_up(value, 3):.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _sdv_cells(mark: SdvStatus | None) -> tuple[str, str]:
    if mark is None or mark.changed:
        return "", ""
    return mark.verified_by, mark.verified_at_utc


def export_csv(db: Database, study: StudyInfo, out_dir: Path, as_of: date,
               sites: frozenset[str] | None = None) -> list[Path]:
    """Write ``dose_records.csv`` (every record, voided ones too), ``daily_series.csv``
    and ``README.md`` for the patients of ``sites`` (None: every site).

    The README carries the audit trail's head, read before the data (so the trail holds it
    whatever is saved meanwhile), and the rule by which formula-like cells are disarmed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    head = head_of(db)
    analyses = analyse_all(db, study, as_of, sites)
    marks = sdv_marks(db)  # empty cells when not verified, or changed since verification
    doses_path = out_dir / "dose_records.csv"
    daily_path = out_dir / "daily_series.csv"
    with doses_path.open("w", newline="", encoding="utf-8") as fh:
        w = safe_writer(fh)
        w.writerow(DOSE_RECORD_COLUMNS)
        for a in analyses:
            r = a.record
            for d in sorted(r.doses, key=lambda d: (d.start_date, d.id)):
                peq = peq_mg_per_day(d, study.equivalence)
                end = d.end_date
                w.writerow([r.subject_id, r.site, d.id, d.drug, format_mg(d.dose_ug), d.frequency,
                            d.route, d.start_date.isoformat(), _iso(end),
                            study_day(d.start_date, r.day1_date),
                            "" if end is None else study_day(end, r.day1_date), _mg_text(peq),
                            d.source or "", d.comment or "", d.deviation_reason or "",
                            d.created_by, _iso(d.created_at), "Y" if d.voided else "N",
                            d.void_reason or "", d.voided_by or "", _iso(d.voided_at),
                            d.replaces_id or "", *_sdv_cells(marks.get(d.id))])
    with daily_path.open("w", newline="", encoding="utf-8") as fh:
        w = safe_writer(fh)
        w.writerow(DAILY_COLUMNS)
        for a in analyses:
            c = a.curves
            for i in range(c.study_days.size):
                missing = bool(np.isnan(c.actual[i]))
                dev = int(c.deviation[i])
                w.writerow([a.record.subject_id, a.record.site,
                            a.series.date_at(a.series.day1_index + i).isoformat(),
                            int(c.study_days[i]),
                            "" if missing else _mg_text(float(c.actual[i])),
                            _mg_text(float(c.scheduled[i])),
                            "Y" if missing else "N",
                            {1: "above", -1: "below", 0: ""}[dev]])
    readme_path = out_dir / "README.md"
    readme_path.write_text(readme_text(study, as_of, head), encoding="utf-8")
    return [doses_path, daily_path, readme_path]


def readme_text(study: StudyInfo, as_of: date, head: AuditHeadMark) -> str:
    """The README written beside the two CSV files: what they hold, the head, the cell rule."""
    def wrap(paragraph: str) -> str:
        return textwrap.fill(paragraph, width=90)

    return "\n\n".join([
        f"# CSV export: {study.name}",
        wrap(f"Protocol version {study.protocol_version}; daily series up to {as_of.isoformat()}; "
             "written by taper-app. No arm or treatment allocation is in any file: the "
             "application never stores it."),
        wrap(f"Audit trail head when the data was read: {head.short} ({head.rows} rows; the last "
             f"row's hash is {head.hash}). On the database, this command exits 1 if its trail "
             "no longer holds that row with that hash (an older copy put back, or the trail "
             "truncated or rewritten):"),
        f"    taper-app audit verify --head {head.short}",
        "## Files",
        wrap("`dose_records.csv`: every dose record, voided ones too, with the columns "
             + ", ".join(DOSE_RECORD_COLUMNS) + "."),
        wrap("`daily_series.csv`: each patient's days from Day 1 to the as-of date, with the "
             "columns " + ", ".join(DAILY_COLUMNS) + "."),
        wrap("Both are UTF-8 CSV with a header row, comma-separated; dates ISO 8601, times "
             "UTC with a Z; milligrams to 0.001 without trailing zeros."),
        "## Text cells",
        wrap(RULE),
    ]) + "\n"
