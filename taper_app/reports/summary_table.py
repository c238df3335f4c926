"""The dashboard's patient table (the ``summary --json`` objects) as a CSV file and as a
printable PDF table: the same columns and values everywhere, one patient a row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .csv_cells import safe_writer
from .pdf_common import (
    LANDSCAPE,
    BuildResult,
    PageFurniture,
    build_pdf,
    data_table,
    fit_widths,
    frame_size,
)

#: (CSV column, heading in the PDF, how to read it from a summary object).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("subject_id", "Subject"), ("site", "Site"), ("as_of", "As of"), ("as_of_day", "Day"),
    ("baseline_mg", "Base-\nline"), ("actual_mg", "Dose"), ("scheduled_mg", "Sched."),
    ("reduction_pct", "Red.\n%"), ("window_reduction_pct", "28-day\n%"),
    ("cumulative_mg", "Cum.\nmg"), ("scheduled_cumulative_mg", "Sched.\ncum."),
    ("cumulative_reduction_pct", "Cum.\nred. %"), ("spared_mg", "Spared\nmg"),
    ("observed_days", "Obs.\ndays"), ("missing_days", "Miss.\ndays"),
    ("deviation_days_above", "Above"), ("deviation_days_below", "Below"),
    ("deviation_episodes", "Epi-\nsodes"), ("days_to_target_dose", "Days to\ntarget\ndose"),
    ("target_status", "Target"), ("target_window_reduction_pct", "Target\n28-day %"),
    ("participation", "Partici-\npation"), ("end_date", "End date"),
)


def _value(summary: dict[str, Any], key: str) -> Any:
    if key == "target_status":
        return summary["target"]["status"]
    if key == "target_window_reduction_pct":
        return summary["target"]["window_reduction_pct"]
    if key in ("participation", "end_date"):
        part = summary.get("participation") or {"status": "active", "end_date": None}
        return part["status"] if key == "participation" else part["end_date"]
    return summary.get(key)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table_rows(summaries: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Each patient's row of the table, as text (empty for a figure that does not exist)."""
    return [[_text(_value(s, key)) for key, _title in COLUMNS] for s in summaries]


def write_summary_csv(summaries: Sequence[dict[str, Any]], path: Path) -> Path:
    """The table to ``path`` (UTF-8, a header row), written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = safe_writer(fh)  # a cell a spreadsheet would run as a formula is defused
        writer.writerow([key for key, _title in COLUMNS])
        writer.writerows(table_rows(summaries))
    partial.replace(path)
    return path


def summary_table_pdf(summaries: Sequence[dict[str, Any]], study_name: str, as_of: date,
                      printed_at: datetime, app_version: str) -> BuildResult:
    """The table on landscape A4 pages, its header repeated, with the usual page furniture
    (the fingerprint is the SHA-256 of the summaries' canonical JSON)."""
    canonical = json.dumps(list(summaries), sort_keys=True, separators=(",", ":"))
    furniture = PageFurniture(
        report_title="Every patient's figures (as taper-app summary --json prints them)",
        header_items=(("Study", study_name), ("Patients", str(len(summaries)))),
        printed_at=printed_at, app_version=app_version,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(), as_of=as_of)
    width, _height = frame_size(LANDSCAPE)
    shown = [i for i, (key, _t) in enumerate(COLUMNS) if key not in ("as_of", "end_date")]
    header = [COLUMNS[i][1] for i in shown]
    rows = [[row[i] for i in shown] for row in table_rows(summaries)]
    table = data_table(header, rows, fit_widths(header, rows, width),
                       right=[n for n, i in enumerate(shown)
                              if COLUMNS[i][0] not in ("subject_id", "site", "target_status",
                                                       "participation")])
    return build_pdf([table], furniture, title=f"{study_name}: patient figures",
                     subject="patient figures", first="landscape")
