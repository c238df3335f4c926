"""CSV import of patients, doses and amendments: all or nothing, every problem reported.

Problems read ``FILE:LINE: column: what is wrong`` (the header is line 1). Nothing is
written unless every row of every file is good; then all of it is one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from ..storage.models import DoseRecordRow, Patient
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import Problem, ValidationError
from .patients import (
    add_dose_in_session,
    amend_in_session,
    check_amendment,
    enroll_in_session,
    lock_patient,
    over_daily_limit,
    touch,
)
from .records import find_patient_row
from .saving import saving
from .study import StudyInfo
from .validation import ValidDose, ValidEnrollment, check_dose, check_enrollment

PATIENT_COLUMNS = (("subject_id", "site", "day1_date", "baseline_mg", "template_id"),
                   ("kit_number", "notes"))
DOSE_COLUMNS = (("subject_id", "drug", "dose_mg", "frequency", "route", "start_date", "end_date"),
                ("source", "comment"))
AMENDMENT_COLUMNS = (("subject_id", "day", "dose_mg", "reason"), ())


@dataclass
class ImportResult:
    patients: int = 0
    doses: int = 0
    amendments: int = 0


@dataclass(frozen=True)
class CsvUpload:
    """A CSV file's name and bytes, read elsewhere (a laptop sending it to the application
    server): problems are reported against ``name`` as for a file read here."""

    name: str
    content: bytes


@dataclass
class _Rows:
    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def read_csv(path: Path | CsvUpload, columns: tuple[tuple[str, ...], tuple[str, ...]],
             problems: list[Problem]) -> _Rows:
    """Read a UTF-8 CSV with a header; check its columns; keep each row's line number."""
    name = path.name if isinstance(path, CsvUpload) else str(path)
    out = _Rows(name)

    def bad(line: int, column: str, message: str) -> None:
        problems.append(Problem(column, message, line, name))

    if isinstance(path, CsvUpload):
        raw = path.content
    else:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            bad(1, "file", f"cannot be read ({exc.strerror or exc})")
            return out
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad(line, "file", f"is not UTF-8 text (byte {exc.start + 1}); save it as CSV UTF-8")
        return out
    if "\x00" in text:
        bad(1, "file", "is not a CSV text file (it holds NUL bytes)")
        return out
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        bad(1, "file", f"is not valid CSV ({exc})")
        return out
    if header is None or not any(h.strip() for h in header):
        bad(1, "file", "is empty; the first line must be the header")
        return out
    header = [h.strip() for h in header]
    required, optional = columns
    for col in header:
        if col not in required and col not in optional:
            bad(1, col or "(blank)", f"unknown column; expected {', '.join(required + optional)}")
    missing = [col for col in required if col not in header]
    for col in missing:
        bad(1, col, "required column is missing")
    if missing:
        return out  # each row would only repeat the header's problem
    if len(set(header)) != len(header):
        bad(1, "file", "a column name appears twice in the header")
    while True:
        start_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad(start_line, "file", f"is not valid CSV here ({exc})")
            break
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            bad(start_line, "row", f"has {len(cells)} fields but the header has {len(header)}")
            continue
        out.rows.append((start_line, dict(zip(header, cells, strict=True))))
    return out


@saving("import files")
def import_files(ctx: ServiceContext, study: StudyInfo, *,
                 patients: Path | CsvUpload | None = None,
                 doses: Path | CsvUpload | None = None,
                 amendments: Path | CsvUpload | None = None) -> ImportResult:
    """Import the given files together; with any bad row nothing at all is written."""
    if patients is not None or doses is not None:
        ctx.actor.require("import_clinical_data")
    if amendments is not None:
        ctx.actor.require("amend_schedule")
    today = ctx.today()
    problems: list[Problem] = []
    with UnitOfWork(ctx.db, write=False) as uow:
        pairs = uow.session.execute(select(Patient.subject_id, Patient.site_code)).all()
        site_of = {subject: site for subject, site in pairs}
    existing = set(site_of)

    enrollments: list[ValidEnrollment] = []
    first_line: dict[str, int] = {}
    if patients is not None:
        rows = read_csv(patients, PATIENT_COLUMNS, problems)
        for line, raw in rows.rows:
            valid, row_problems = check_enrollment(dict(raw), set(study.templates), today)
            problems += [Problem(p.field, p.message, line, rows.name) for p in row_problems]
            subject = raw.get("subject_id", "").strip()
            if subject in existing:
                problems.append(Problem("subject_id", f"{subject!r} is already enrolled", line,
                                        rows.name))
            elif subject in first_line:
                problems.append(Problem("subject_id", f"duplicate subject id {subject!r} "
                                        f"(first on line {first_line[subject]})", line, rows.name))
            elif subject:
                first_line[subject] = line
            if valid is not None:
                if not ctx.actor.works_for(valid.site):
                    problems.append(Problem("site", f"you do not work for site {valid.site}",
                                            line, rows.name))
                site_of.setdefault(valid.subject_id, valid.site)
                enrollments.append(valid)
    known = existing | set(first_line)

    def check_site(subject: str, line: int, name: str) -> None:
        site = site_of.get(subject)
        if site is not None and not ctx.actor.works_for(site):
            problems.append(Problem("subject_id", f"{subject} is at site {site}, which you do "
                                                  "not work for", line, name))


    dose_rows: list[tuple[int, str, ValidDose]] = []
    doses_name = str(doses)
    if doses is not None:
        rows = read_csv(doses, DOSE_COLUMNS, problems)
        for line, raw in rows.rows:
            subject = raw.get("subject_id", "").strip()
            if subject not in known:
                problems.append(Problem("subject_id", f"unknown subject {subject!r}", line,
                                        rows.name))
            check_site(subject, line, rows.name)
            valid_dose, row_problems = check_dose(dict(raw), study.equivalence, today)
            problems += [Problem(p.field, p.message, line, rows.name) for p in row_problems]
            if valid_dose is not None:
                dose_rows.append((line, subject, valid_dose))

    amendment_rows: list[tuple[int, str, int, Decimal, str]] = []
    if amendments is not None:
        rows = read_csv(amendments, AMENDMENT_COLUMNS, problems)
        for line, raw in rows.rows:
            subject = raw.get("subject_id", "").strip()
            if subject not in known:
                problems.append(Problem("subject_id", f"unknown subject {subject!r}", line,
                                        rows.name))
            check_site(subject, line, rows.name)
            day, dose, reason, row_problems = check_amendment(dict(raw))
            problems += [Problem(p.field, p.message, line, rows.name) for p in row_problems]
            if day is not None and dose is not None and not row_problems:
                amendment_rows.append((line, subject, day, dose, reason))

    if problems:
        raise ValidationError(problems)

    result = ImportResult()
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        now = ctx.clock()
        for e in enrollments:
            enroll_in_session(uow.session, audit, study, e, ctx.actor.username, now)
            result.patients += 1
        # Lock every existing patient this import changes, in subject order (no deadlock
        # with another writer), so a concurrent save cannot slip between read and write.
        changed = sorted({subject for _line, subject, _dose in dose_rows}
                         | {row[1] for row in amendment_rows})
        cache: dict[str, Patient] = {}
        for subject in changed:
            cache[subject] = (lock_patient(uow.session, ctx.actor, subject_id=subject)
                              if subject in existing else find_patient_row(uow.session, subject))
            if subject in existing:
                touch(cache[subject])
        added: dict[str, list[tuple[int, DoseRecordRow]]] = {}
        for line, subject, valid_dose in dose_rows:
            row = add_dose_in_session(uow.session, audit, cache[subject], valid_dose,
                                      ctx.actor.username, now, reason="import")
            added.setdefault(subject, []).append((line, row))
            result.doses += 1
        for subject, lines_rows in added.items():
            over = over_daily_limit(uow.session, study, cache[subject],
                                    [row for _line, row in lines_rows], today)
            problems += [Problem("dose_mg", over[row.id], line, doses_name)
                         for line, row in lines_rows if row.id in over]
        if problems:
            raise ValidationError(problems)  # the transaction is rolled back: nothing written
        for _line, subject, day, amount, reason in amendment_rows:
            amend_in_session(uow.session, audit, study, subject, day, amount,
                             reason, ctx.actor.username, now)
            result.amendments += 1
        uow.commit()
    return result
