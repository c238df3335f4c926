"""The dose records as an SDTM CM (concomitant medications) dataset for statisticians.

One CM row per valid dose record: a constant-dosing interval of one drug. Voided records
are not CM data; they are listed apart (``cm_voided.csv``) so that the two files together
reconcile with the application's record count. The README written beside the dataset
explains every column and mapping choice.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..domain.studyday import study_day
from ..domain.units import format_mg
from ..reports.csv_cells import RULE, safe_writer
from ..results import AuditHeadMark
from ..storage.engine import Database
from ..storage.uow import UnitOfWork
from .audit import trail_head, utc_now
from .records import DoseRecordView, PatientRecord, load_all_patients
from .study import StudyInfo

CM_COLUMNS = ("STUDYID", "DOMAIN", "USUBJID", "CMSEQ", "CMSPID", "CMTRT", "CMDECOD", "CMCAT",
              "CMDOSE", "CMDOSU", "CMDOSFRQ", "CMROUTE", "CMSTDTC", "CMENDTC", "CMSTDY",
              "CMENDY")
VOIDED_COLUMNS = ("STUDYID", "USUBJID", "CMSPID", "CMTRT", "CMDOSE", "CMDOSU", "CMDOSFRQ",
                  "CMROUTE", "CMSTDTC", "CMENDTC", "VOID_REASON", "VOIDED_BY",
                  "VOIDED_AT_UTC", "CORRECTED_BY_CMSPID")

CMCAT = "SYSTEMIC CORTICOSTEROID"
CMDOSU = "mg"
#: The application's frequency codes are already CDISC FREQ submission values.
CMDOSFRQ = {"QD": "QD", "BID": "BID", "TID": "TID", "QID": "QID", "QOD": "QOD", "QW": "QW",
            "ONCE": "ONCE"}
#: CDISC ROUTE submission values for the application's route codes.
CMROUTE = {"PO": "ORAL", "IV": "INTRAVENOUS", "IM": "INTRAMUSCULAR", "SC": "SUBCUTANEOUS"}


@dataclass(frozen=True)
class SdtmExport:
    cm_path: Path
    voided_path: Path
    readme_path: Path
    cm_rows: int
    voided_rows: int
    subjects: int

    @property
    def paths(self) -> list[Path]:
        return [self.cm_path, self.voided_path, self.readme_path]


def usubjid(studyid: str, subject_id: str) -> str:
    return f"{studyid}-{subject_id}"


def cmspid(record_id: int) -> str:
    """The application's dose record id, to trace a CM row back to the record and its audit."""
    return f"DOSE-{record_id}"


def _end_date(d: DoseRecordView) -> date | None:
    """A ONCE administration starts and ends on its date; an ongoing record has no end."""
    return d.start_date if d.frequency == "ONCE" else d.end_date


def cm_rows(studyid: str, record: PatientRecord) -> list[dict[str, object]]:
    """The CM rows of one subject: valid records ordered by start date, then record id."""
    rows: list[dict[str, object]] = []
    valid = sorted((d for d in record.doses if not d.voided), key=lambda d: (d.start_date, d.id))
    for seq, d in enumerate(valid, start=1):
        end = _end_date(d)
        rows.append({
            "STUDYID": studyid,
            "DOMAIN": "CM",
            "USUBJID": usubjid(studyid, record.subject_id),
            "CMSEQ": seq,
            "CMSPID": cmspid(d.id),
            "CMTRT": d.drug,
            "CMDECOD": d.drug.upper(),
            "CMCAT": CMCAT,
            "CMDOSE": format_mg(d.dose_ug),
            "CMDOSU": CMDOSU,
            "CMDOSFRQ": CMDOSFRQ[d.frequency],
            "CMROUTE": CMROUTE[d.route],
            "CMSTDTC": d.start_date.isoformat(),
            "CMENDTC": end.isoformat() if end else "",
            "CMSTDY": study_day(d.start_date, record.day1_date),
            "CMENDY": study_day(end, record.day1_date) if end else "",
        })
    return rows


def _voided_rows(studyid: str, record: PatientRecord) -> list[dict[str, object]]:
    corrected_by = {d.replaces_id: d.id for d in record.doses if d.replaces_id is not None}
    rows: list[dict[str, object]] = []
    for d in sorted((d for d in record.doses if d.voided), key=lambda d: (d.start_date, d.id)):
        end = _end_date(d)
        voided_at = d.voided_at.isoformat() + "Z" if d.voided_at else ""
        rows.append({
            "STUDYID": studyid, "USUBJID": usubjid(studyid, record.subject_id),
            "CMSPID": cmspid(d.id), "CMTRT": d.drug, "CMDOSE": format_mg(d.dose_ug),
            "CMDOSU": CMDOSU, "CMDOSFRQ": CMDOSFRQ[d.frequency], "CMROUTE": CMROUTE[d.route],
            "CMSTDTC": d.start_date.isoformat(), "CMENDTC": end.isoformat() if end else "",
            "VOID_REASON": d.void_reason or "", "VOIDED_BY": d.voided_by or "",
            "VOIDED_AT_UTC": voided_at,
            "CORRECTED_BY_CMSPID": cmspid(corrected_by[d.id]) if d.id in corrected_by else "",
        })
    return rows


def _write(path: Path, columns: Sequence[str], rows: Sequence[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = safe_writer(fh)
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in rows)


def export_sdtm(db: Database, study: StudyInfo, out_dir: Path, *,
                sites: frozenset[str] | None = None,
                clock: Callable[[], datetime] = utc_now) -> SdtmExport:
    """Write ``cm.csv``, ``cm_voided.csv`` and ``README.md`` into ``out_dir``.

    ``sites`` limits the export to those sites' subjects (None: every site); ``clock`` gives
    the extraction time written in the README.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with UnitOfWork(db, write=False) as uow:
        head = trail_head(uow.session)  # the head of the very trail the data is read with
        records = load_all_patients(uow.session, sites)
    studyid = study.name
    cm: list[dict[str, object]] = []
    voided: list[dict[str, object]] = []
    for record in records:  # subject order, so USUBJID order
        cm += cm_rows(studyid, record)
        voided += _voided_rows(studyid, record)
    cm_path, voided_path, readme_path = (out_dir / "cm.csv", out_dir / "cm_voided.csv",
                                         out_dir / "README.md")
    _write(cm_path, CM_COLUMNS, cm)
    _write(voided_path, VOIDED_COLUMNS, voided)
    readme_path.write_text(readme_text(study, len(records), len(cm), len(voided), clock(),
                                       head), encoding="utf-8")
    return SdtmExport(cm_path, voided_path, readme_path, len(cm), len(voided), len(records))


#: What each CM column holds, for the README (and for anyone reading this module).
CM_COLUMN_NOTES = {
    "STUDYID": "The study name of the protocol file.",
    "DOMAIN": "`CM`.",
    "USUBJID": "`STUDYID-subject_id`, e.g. `EXAMPLE-IIM-01-101-001`.",
    "CMSEQ": "1, 2, ... within each subject, ordered by start date, then record id.",
    "CMSPID": "`DOSE-<record id>`: the application's dose record id, to trace the row back to "
              "the record, its audit trail and `dose_records.csv` of the CSV export.",
    "CMTRT": "The drug as recorded (the application's spelling, e.g. `prednisone`).",
    "CMDECOD": "The drug name in upper case (e.g. `PREDNISONE`). Not a WHODrug code: code it "
               "with the sponsor's dictionary if one is required.",
    "CMCAT": f"`{CMCAT}` on every row.",
    "CMDOSE": "Amount per administration in mg of the drug itself (not prednisone-equivalent), "
              "exact to 0.001 mg.",
    "CMDOSU": "`mg`.",
    "CMDOSFRQ": "CDISC frequency terms, the same as the application's codes: `QD`, `BID`, "
                "`TID`, `QID`, `QOD` (every other day), `QW` (weekly), `ONCE` (a single "
                "administration, such as an IV pulse).",
    "CMROUTE": "CDISC route terms: PO -> `ORAL`, IV -> `INTRAVENOUS`, IM -> `INTRAMUSCULAR`, "
               "SC -> `SUBCUTANEOUS`.",
    "CMSTDTC": "Start date, ISO 8601 `YYYY-MM-DD`.",
    "CMENDTC": "End date, ISO 8601. Empty for an ongoing record (no end date yet); for `ONCE` "
               "the start date (one administration on one day).",
    "CMSTDY": "Study day of CMSTDTC relative to the subject's Day 1 (the first dose of study "
              "product, the reference start date): `date - Day 1 + 1` on or after Day 1, "
              "`date - Day 1` before it. There is no day 0.",
    "CMENDY": "Study day of CMENDTC by the same rule; empty when CMENDTC is empty.",
}


def _wrap(paragraph: str) -> str:
    return textwrap.fill(paragraph, width=90)


def readme_text(study: StudyInfo, subjects: int, cm_count: int, voided_count: int,
                extracted_at: datetime, head: AuditHeadMark) -> str:
    """The README written beside the dataset: columns, mapping choices, voided records."""
    moment = extracted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    columns = "\n".join(textwrap.fill(f"- **{name}**: {note}", width=90, subsequent_indent="  ")
                        for name, note in CM_COLUMN_NOTES.items())
    voided_columns = ", ".join(VOIDED_COLUMNS)
    parts = [
        f"# SDTM CM export: {study.name}",
        _wrap(f"Protocol version {study.protocol_version}; extracted {moment} (UTC) by "
              f"taper-app. {subjects} subjects; {cm_count} CM records in `cm.csv`; "
              f"{voided_count} voided dose records in `cm_voided.csv`."),
        _wrap("The files are UTF-8 CSV with a header row, comma-separated. They tabulate the "
              "steroid taper's dose records in the structure of the SDTM CM domain "
              "(concomitant/prior medications): systemic corticosteroids are not study "
              "product, so they are CM and not EX/EC. Convert to SAS XPORT with your usual "
              "tools if needed. No arm or treatment allocation is in any file: the "
              "application never stores it."),
        _wrap(f"Audit trail head when the data was read: {head.short} ({head.rows} rows; the last "
             f"row's hash is {head.hash}). On the database, this command exits 1 if its trail "
             "no longer holds that row with that hash (an older copy put back, or the trail "
             "truncated or rewritten):"),
        f"    taper-app audit verify --head {head.short}",
        _wrap(RULE),
        "## cm.csv: one row per valid dose record (a constant-dosing interval of one drug)",
        columns,
        _wrap("Records before Day 1 (the run-in) are included, with negative study days. Rows "
              "are in USUBJID order, then CMSEQ."),
        "## Voided records: cm_voided.csv",
        _wrap("A wrong dose record is never deleted in the application: it is voided with a "
              "reason and stays in its audit trail. Voided records are not CM data and are "
              "not in `cm.csv`. They are listed in `cm_voided.csv` (a listing, not an SDTM "
              f"dataset) with the columns {voided_columns}. VOIDED_AT_UTC is ISO 8601 in UTC; "
              "CORRECTED_BY_CMSPID names the record that replaced a voided one when it was "
              "corrected in one step. `cm.csv` and `cm_voided.csv` together hold every dose "
              "record exactly once."),
        "## Not included",
        _wrap("Derived figures (prednisone-equivalent doses, the daily series, reductions) are "
              "not CM variables: use `taper-app export --format csv` (`dose_records.csv`, "
              "`daily_series.csv`) or `taper-app summary --json`."),
    ]
    return "\n\n".join(parts) + "\n"
