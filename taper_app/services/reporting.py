"""PDF reports as use cases: load the data, fingerprint it, hand it to the report builders.

The fingerprint printed in every report's footer is the SHA-256 of the canonical JSON of
exactly the data the report was made from (docs/reports.md describes the payload), so two
printouts of the same data carry the same fingerprint whenever and wherever printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..domain.units import format_mg
from ..results import PatientAnalysis, PatientRecord, SignatureManifestation, StudyInfo
from ..storage.engine import Database
from ..storage.uow import UnitOfWork
from .audit import head_of, trail_head, utc_now
from .cohort import attainment, completeness
from .errors import ServiceError
from .figures import analyse, analyse_patient, summary_dict
from .queries import patient_queries
from .records import load_all_patients
from .signatures import signatures_for

#: Version of the fingerprint payload's layout; bump it if the payload below changes.
FINGERPRINT_FORMAT = 1


@dataclass(frozen=True)
class Report:
    """A built report: the PDF bytes, its page count and the data fingerprint in its footer."""

    pdf: bytes
    pages: int
    fingerprint: str
    path: Path | None = None


def _utc_text(moment: datetime | None) -> str | None:
    """Stored times are naive UTC; aware ones are converted. ISO 8601 with a 'Z'."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def record_payload(record: PatientRecord) -> dict[str, Any]:
    """The stored patient record as plain JSON values (mg as exact decimal text)."""
    return {
        "subject_id": record.subject_id,
        "site": record.site,
        "day1_date": record.day1_date.isoformat(),
        "baseline_mg": format_mg(record.baseline_ug),
        "template_id": record.template_id,
        "kit_number": record.kit_number,
        "notes": record.notes,
        "schedule": [{"day": s.day, "dose_mg": f"{s.dose_mg:f}",
                      "amendment_seq": s.amendment_seq} for s in record.steps],
        "amendments": [{"seq": a.seq, "day": a.day, "dose_mg": format_mg(a.dose_ug),
                        "reason": a.reason, "created_by": a.created_by,
                        "created_at": _utc_text(a.created_at)} for a in record.amendments],
        "dose_records": [{
            "id": d.id, "drug": d.drug, "dose_mg": format_mg(d.dose_ug),
            "frequency": d.frequency, "route": d.route,
            "start_date": d.start_date.isoformat(),
            "end_date": d.end_date.isoformat() if d.end_date else None,
            "source": d.source, "comment": d.comment, "deviation_reason": d.deviation_reason,
            "created_by": d.created_by, "created_at": _utc_text(d.created_at),
            "voided": d.voided, "void_reason": d.void_reason, "voided_by": d.voided_by,
            "voided_at": _utc_text(d.voided_at), "replaces_id": d.replaces_id,
        } for d in record.doses],
    }


def _study_payload(study: StudyInfo) -> dict[str, Any]:
    return {"name": study.name, "protocol_version": study.protocol_version}


def patient_payload(study: StudyInfo, analysis: PatientAnalysis) -> dict[str, Any]:
    """What the per-patient report's fingerprint covers."""
    return {
        "format": FINGERPRINT_FORMAT,
        "report": "patient",
        "study": _study_payload(study),
        "as_of": analysis.figures.as_of.isoformat(),
        "record": record_payload(analysis.record),
        "figures": summary_dict(analysis.record, analysis.figures),
    }


def cohort_payload(study: StudyInfo, analyses: Sequence[PatientAnalysis],
                   as_of: date) -> dict[str, Any]:
    """What the study report's fingerprint covers: every patient, in subject order."""
    return {
        "format": FINGERPRINT_FORMAT,
        "report": "cohort",
        "study": _study_payload(study),
        "as_of": as_of.isoformat(),
        "patients": [{"record": record_payload(a.record),
                      "figures": summary_dict(a.record, a.figures)} for a in analyses],
    }


def canonical_json(payload: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the same data always gives the same bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _printed(printed_at: datetime | None, clock: Callable[[], datetime]) -> datetime:
    moment = printed_at if printed_at is not None else clock()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def stored_signatures(db: Database, subject_id: str) -> list[SignatureManifestation]:
    """The patient's e-signatures as the report shows them (Part 11 §11.50)."""
    out = []
    for s in signatures_for(db, subject_id):
        signed_at = datetime.strptime(s.signed_at_utc, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC)
        note = None if s.valid else f"NO LONGER VALID: {s.broken_by}"
        out.append(SignatureManifestation(s.printed_name, signed_at, s.meaning, s.valid,
                                          s.signed_through, note, s.audit_head))
    return out


def patient_report(db: Database, study: StudyInfo, subject_id: str, as_of: date, *,
                   printed_at: datetime | None = None,
                   signatures: Sequence[SignatureManifestation] | None = None,
                   sites: frozenset[str] | None = None,
                   clock: Callable[[], datetime] = utc_now) -> Report:
    """The per-patient PDF as of ``as_of``.

    ``signatures`` default to the patient's stored e-signatures, each checked against the
    data as it is now (none: "Not signed");
    ``sites`` (a site-bound user's) refuses a patient of another site; ``printed_at``
    (UTC, default the clock) is the time printed in the footer.
    """
    # ReportLab and the chart code load when a report is first made, not with the window.
    from ..reports.patient_report import build_patient_report

    head = head_of(db)  # read first: the trail holds it whatever is saved meanwhile
    analysis = analyse_patient(db, study, subject_id, as_of, sites=sites)
    if signatures is None:
        signatures = stored_signatures(db, subject_id)
    payload = patient_payload(study, analysis)
    digest = fingerprint(payload)
    built = build_patient_report(analysis, study, payload["figures"],
                                 printed_at=_printed(printed_at, clock), fingerprint=digest,
                                 app_version=__version__, signatures=signatures,
                                 audit_head=head, queries=patient_queries(db, subject_id))
    return Report(built.pdf, built.pages, digest)


class ReportCancelled(ServiceError):
    """The user stopped the report; nothing was written."""


#: ``progress(done, total)``: steps done so far of ``total`` (one per patient, then the PDF).
Progress = Callable[[int, int], None]


def _stop_if_cancelled(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise ReportCancelled("The report was cancelled; no file was written.")


def cohort_report(db: Database, study: StudyInfo, as_of: date, *,
                  printed_at: datetime | None = None,
                  sites: frozenset[str] | None = None,
                  clock: Callable[[], datetime] = utc_now,
                  progress: Progress | None = None,
                  cancelled: Callable[[], bool] | None = None) -> Report:
    """The study-wide PDF (blinded: the arm is never stored, so never shown).

    With ``sites`` (a site-bound user's) only those sites' patients are in it. The window
    passes ``progress`` (called after each patient and after the PDF) and ``cancelled``
    (checked between patients; True stops with :class:`ReportCancelled`).
    """
    from ..reports.cohort_report import build_cohort_report

    # analyse_all's loop, one patient at a time so the window can show progress and stop
    with UnitOfWork(db, write=False) as uow:
        head = trail_head(uow.session)
        records = load_all_patients(uow.session, sites)
    total = len(records) + 1  # the last step builds the PDF
    analyses: list[PatientAnalysis] = []
    for done, record in enumerate(records, start=1):
        _stop_if_cancelled(cancelled)
        analyses.append(analyse(study, record, as_of))
        if progress is not None:
            progress(done, total)
    _stop_if_cancelled(cancelled)
    payload = cohort_payload(study, analyses, as_of)
    digest = fingerprint(payload)
    summaries = [p["figures"] for p in payload["patients"]]
    built = build_cohort_report(analyses, summaries, attainment(summaries),
                                completeness(summaries), study, as_of,
                                printed_at=_printed(printed_at, clock), fingerprint=digest,
                                app_version=__version__, audit_head=head)
    _stop_if_cancelled(cancelled)
    if progress is not None:
        progress(total, total)
    return Report(built.pdf, built.pages, digest)


def write_files(files: dict[Path, bytes]) -> None:
    """Write every file beside its name first, then rename them all: on any error none is
    written (a PDF and its CSV come together or not at all)."""
    temporary: list[tuple[str, Path]] = []
    try:
        for out, data in files.items():
            out = Path(out)
            if not out.parent.exists():
                raise ServiceError(f"{out.parent} does not exist; choose an existing folder")
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp",
                                                dir=out.parent)
                temporary.append((tmp_name, out))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except OSError as exc:
                raise ServiceError(f"{out}: cannot be written ({exc.strerror or exc})") from None
        for tmp_name, out in temporary:
            try:
                os.replace(tmp_name, out)
            except OSError as exc:
                raise ServiceError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    finally:
        for tmp_name, _out in temporary:
            Path(tmp_name).unlink(missing_ok=True)


def write_report(report: Report, out: Path) -> Report:
    """Write the PDF next to ``out`` first and then rename, so no half-written file is left."""
    out = Path(out)
    if not out.parent.exists():
        raise ServiceError(f"{out.parent} does not exist; choose an existing folder")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(report.pdf)
        os.replace(tmp_name, out)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ServiceError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    return Report(report.pdf, report.pages, report.fingerprint, out)
