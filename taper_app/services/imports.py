"""CSV import of patients, doses and amendments: all or nothing, every problem reported.

Problems read ``FILE:LINE: column: what is wrong`` (the header is line 1). Nothing is
written unless every row of every file is good; then all of it is one transaction.

A doses file may hold a study's whole diary (a hundred thousand rows and more), so it is
never held in memory: it is read and checked a row at a time, outside any transaction,
and the checked rows wait in a temporary file. Only when every file is good does the
writing transaction begin, and it writes the rows a batch at a time with one executemany
for the doses and one for their audit rows (the rows and chain ``record_dose`` would
write), with no ORM object and no query per row. Memory stays the same however long the
file is; docs/performance.md has the figures.
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Connection, Table, or_, select

from ..domain.doses import DailySeries, DoseRecord, daily_series
from ..storage.engine import reserve_ids
from ..storage.models import DoseRecordRow, Patient
from ..storage.uow import UnitOfWork
from ..storage.writing import insert_rows
from .audit import AuditRecord, AuditTrail
from .context import ServiceContext
from .errors import Problem, ValidationError
from .patients import (
    _dose_fields,
    amend_in_session,
    check_amendment,
    daily_limit_message,
    enroll_in_session,
    lock_patients,
    touch,
)
from .saving import saving
from .study import StudyInfo
from .validation import (
    MAX_DAILY_PEQ_MG,
    ValidDose,
    ValidEnrollment,
    check_dose,
    check_enrollment,
)

PATIENT_COLUMNS = (("subject_id", "site", "day1_date", "baseline_mg", "template_id"),
                   ("kit_number", "notes"))
DOSE_COLUMNS = (("subject_id", "drug", "dose_mg", "frequency", "route", "start_date", "end_date"),
                ("source", "comment"))
AMENDMENT_COLUMNS = (("subject_id", "day", "dose_mg", "reason"), ())
#: Dose rows written per executemany (and held in memory at once while writing).
DOSE_BATCH = 2000
#: Patients whose stored records are read back together for the daily-limit check.
LIMIT_CHECK_PATIENTS = 50


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


#: What an import reads: a file here, or one a laptop sent.
CsvSource = Path | CsvUpload


def source_name(source: CsvSource) -> str:
    return source.name if isinstance(source, CsvUpload) else str(source)


def _open_source(source: CsvSource) -> IO[bytes]:
    return io.BytesIO(source.content) if isinstance(source, CsvUpload) else source.open("rb")


@dataclass
class _Rows:
    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


class _NulByte(Exception):
    """A NUL byte in the file: it is not CSV text."""


def _first_bad_utf8(path: CsvSource) -> tuple[int, int]:
    """The line and the byte (both from 1) of the file's first byte that is not UTF-8.

    Read in chunks, so a large file is not held in memory to say where it went wrong.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0      # bytes of the file before ``chunk``
    newlines = 0    # line breaks in them
    with _open_source(path) as fh:
        while True:
            chunk = fh.read(1 << 16)
            pending = decoder.getstate()[0]  # the undecoded tail of the last chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                return (newlines - pending.count(b"\n") + data[:exc.start].count(b"\n") + 1,
                        offset - len(pending) + exc.start + 1)
            if not chunk:
                return newlines + 1, offset + 1  # not found again: said at the end
            offset += len(chunk)
            newlines += chunk.count(b"\n")


def _text_lines(text: IO[str]) -> Iterator[str]:
    for line in text:
        if "\x00" in line:
            raise _NulByte
        yield line


def iter_csv(path: CsvSource, columns: tuple[tuple[str, ...], tuple[str, ...]],
             problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a UTF-8 CSV with a header, one at a time, each with its line number.

    The header's columns are checked first; problems with the file itself (not UTF-8, not
    CSV, NUL bytes) are added to ``problems`` where they are met, and end the rows. Only
    one row is held at a time, whatever the file's length.
    """
    name = source_name(path)

    def bad(line: int, column: str, message: str) -> None:
        problems.append(Problem(column, message, line, name))

    try:
        raw = _open_source(path)
    except OSError as exc:
        bad(1, "file", f"cannot be read ({exc.strerror or exc})")
        return
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict",
                               newline="") as text:
        reader = csv.reader(_text_lines(text), strict=True)
        try:
            try:
                header = next(reader, None)
            except csv.Error as exc:
                bad(1, "file", f"is not valid CSV ({exc})")
                return
            if header is None or not any(h.strip() for h in header):
                bad(1, "file", "is empty; the first line must be the header")
                return
            header = [h.strip() for h in header]
            required, optional = columns
            for col in header:
                if col not in required and col not in optional:
                    bad(1, col or "(blank)",
                        f"unknown column; expected {', '.join(required + optional)}")
            missing = [col for col in required if col not in header]
            for col in missing:
                bad(1, col, "required column is missing")
            if missing:
                return  # each row would only repeat the header's problem
            if len(set(header)) != len(header):
                bad(1, "file", "a column name appears twice in the header")
            width = len(header)
            while True:
                start_line = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    bad(start_line, "file", f"is not valid CSV here ({exc})")
                    break
                if len(cells) != width:
                    if any(c.strip() for c in cells):
                        bad(start_line, "row", f"has {len(cells)} fields but the header has "
                                               f"{width}")
                    continue
                if not any(c.strip() for c in cells):
                    continue
                yield start_line, dict(zip(header, cells, strict=True))
        except UnicodeDecodeError:
            line, byte = _first_bad_utf8(path)
            bad(line, "file", f"is not UTF-8 text (byte {byte}); save it as CSV UTF-8")
        except _NulByte:
            bad(1, "file", "is not a CSV text file (it holds NUL bytes)")


def read_csv(path: CsvSource, columns: tuple[tuple[str, ...], tuple[str, ...]],
             problems: list[Problem]) -> _Rows:
    """Every row of a (small) file at once: patients and amendments."""
    return _Rows(source_name(path), list(iter_csv(path, columns, problems)))


_dose_values = operator.attrgetter(*(f.name for f in fields(ValidDose)))


class _DoseSpool:
    """Checked dose rows waiting for the writing transaction, in a temporary file.

    Batches of plain tuples (the line, the subject and the :class:`ValidDose` fields), so
    the rows are checked once and held in memory a batch at a time. The file is deleted
    when closed (on POSIX at once: it never has a name).
    """

    def __init__(self) -> None:
        # Closed by close(), which import_files calls in a finally.
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="taper-import-")  # noqa: SIM115
        self._batch: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, line: int, subject: str, dose: ValidDose) -> None:
        self._batch.append((line, subject, *_dose_values(dose)))
        self.count += 1
        if len(self._batch) >= DOSE_BATCH:
            self._dump()

    def _dump(self) -> None:
        if self._batch:
            pickle.dump(self._batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def batches(self) -> Iterator[list[tuple[int, str, ValidDose]]]:
        """Every row in file order, a batch at a time (may be called again)."""
        self._dump()
        self._file.seek(0)
        while True:
            try:
                batch = pickle.load(self._file)  # our own file, written above
            except EOFError:
                return
            yield [(row[0], row[1], ValidDose(*row[2:])) for row in batch]

    def close(self) -> None:
        self._file.close()


def _last_date(dose: ValidDose, today: date) -> date:
    """The last date a new record covers (an ongoing one: up to today)."""
    if dose.frequency == "ONCE":
        return dose.start_date
    return dose.end_date if dose.end_date is not None else max(today, dose.start_date)


@saving("import files")
def import_files(ctx: ServiceContext, study: StudyInfo, *, patients: CsvSource | None = None,
                 doses: CsvSource | None = None, amendments: CsvSource | None = None
                 ) -> ImportResult:
    """Import the given files together; with any bad row nothing at all is written."""
    if patients is not None or doses is not None:
        ctx.actor.require("import_clinical_data")
    if amendments is not None:
        ctx.actor.require("amend_schedule")
    spool = _DoseSpool()
    try:
        return _import(ctx, study, spool, patients, doses, amendments)
    finally:
        spool.close()


def _import(ctx: ServiceContext, study: StudyInfo, spool: _DoseSpool,
            patients: CsvSource | None, doses: CsvSource | None,
            amendments: CsvSource | None) -> ImportResult:
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

    # Each patient's new doses span these dates (first start, last date covered): the
    # daily limit is checked over them once the rows are written. One entry per patient.
    spans: dict[str, tuple[date, date]] = {}
    doses_name = "" if doses is None else source_name(doses)
    if doses is not None:
        equivalence = study.equivalence
        for line, raw in iter_csv(doses, DOSE_COLUMNS, problems):
            subject = raw.get("subject_id", "").strip()
            if subject not in known:
                problems.append(Problem("subject_id", f"unknown subject {subject!r}", line,
                                        doses_name))
            check_site(subject, line, doses_name)
            valid_dose, row_problems = check_dose(dict(raw), equivalence, today)
            if row_problems:
                problems += [Problem(p.field, p.message, line, doses_name)
                             for p in row_problems]
            elif valid_dose is not None and not problems:  # else nothing will be written
                spool.add(line, subject, valid_dose)
                last = _last_date(valid_dose, today)
                span = spans.get(subject)
                spans[subject] = ((valid_dose.start_date, last) if span is None else
                                  (min(span[0], valid_dose.start_date), max(span[1], last)))

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
        session = uow.session
        now = ctx.clock()
        # Lock order, as every save takes it: the patients' rows (in subject order) before
        # the audit chain's head (taken by the first audit row), so an import and a save
        # never wait on each other in a circle. A concurrent save cannot slip in between.
        changed = set(spans) | {row[1] for row in amendment_rows}
        locked = lock_patients(session, ctx.actor, sorted(changed & existing))
        for patient in locked.values():
            touch(patient)
        audit = AuditTrail(session, ctx.actor.username, ctx.clock)
        patient_ids = {subject: patient.id for subject, patient in locked.items()}
        for e in enrollments:
            patient_ids[e.subject_id] = enroll_in_session(session, audit, study, e,
                                                          ctx.actor.username, now).id
            result.patients += 1
        session.flush()  # the enrollments' rows first: the doses refer to them
        result.doses = _write_doses(session.connection(), audit, spool, patient_ids,
                                    ctx.actor.username, now)
        problems = _over_daily_limit(session.connection(), study, spool, spans, patient_ids,
                                     today, doses_name)
        if problems:
            raise ValidationError(problems)  # the transaction is rolled back: nothing written
        for _line, subject, day, amount, reason in amendment_rows:
            amend_in_session(session, audit, study, subject, day, amount,
                             reason, ctx.actor.username, now)
            result.amendments += 1
        uow.commit()
    return result


_DOSE_COLUMNS = ("id", "patient_id", "drug", "dose_ug", "frequency", "route", "start_date",
                 "end_date", "source", "comment", "deviation_reason", "created_at",
                 "created_by", "voided", "void_reason", "voided_at", "voided_by",
                 "replaces_id", "version")


def _write_doses(connection: Connection, audit: AuditTrail, spool: _DoseSpool,
                 patient_ids: dict[str, int], username: str, now: datetime) -> int:
    """Every spooled dose and its ``record_dose`` audit rows, a batch per executemany."""
    table = cast(Table, DoseRecordRow.__table__)
    created_at = now.replace(tzinfo=None)
    written = 0
    for batch in spool.batches():
        ids = reserve_ids(connection, table, len(batch))
        rows: list[tuple[object, ...]] = []
        audited: list[AuditRecord] = []
        for record_id, (_line, subject, dose) in zip(ids, batch, strict=True):
            rows.append((record_id, patient_ids[subject], dose.drug, dose.dose_ug,
                         dose.frequency, dose.route, dose.start_date, dose.end_date,
                         dose.source, dose.comment, dose.deviation_reason, created_at,
                         username, False, None, None, None, None, 1))
            audited.append(("record_dose", "dose_record", record_id,
                            [f for f in _dose_fields(dose) if f[2] is not None], "import",
                            subject))
        insert_rows(connection, table, _DOSE_COLUMNS, rows)
        audit.add_fields_many(audited)
        written += len(rows)
    return written


def _over_daily_limit(connection: Connection, study: StudyInfo, spool: _DoseSpool,
                      spans: dict[str, tuple[date, date]], patient_ids: dict[str, int],
                      today: date, doses_name: str) -> list[Problem]:
    """A problem for each new dose on whose dates the patient's valid records together,
    stored and new, exceed the plausible PEQ in one day (as a save checks one record).

    Read inside the writing transaction, after the new rows, so it sees exactly what
    would be committed: each patient's stored records over the new rows' dates, a few
    patients per query. Only when a patient has such a day are the spooled rows read
    again, to name the lines.
    """
    table = cast(Table, DoseRecordRow.__table__)
    limit = float(MAX_DAILY_PEQ_MG) + 1e-6
    over_days: dict[str, DailySeries] = {}  # only the patients with a day over the limit
    subjects = sorted(spans)
    for start in range(0, len(subjects), LIMIT_CHECK_PATIENTS):
        chunk = subjects[start:start + LIMIT_CHECK_PATIENTS]
        subject_of = {patient_ids[s]: s for s in chunk}
        first = min(spans[s][0] for s in chunk)
        last = max(spans[s][1] for s in chunk)
        records: dict[str, list[DoseRecord]] = {s: [] for s in chunk}
        for row in connection.execute(select(
                table.c.patient_id, table.c.drug, table.c.dose_ug, table.c.frequency,
                table.c.route, table.c.start_date, table.c.end_date).where(
                table.c.patient_id.in_(list(subject_of)), table.c.voided.is_(False),
                table.c.start_date <= last,
                or_(table.c.end_date.is_(None), table.c.end_date >= first))):
            records[subject_of[row[0]]].append(DoseRecord(*row[1:]))
        for subject in chunk:
            lo, hi = spans[subject]
            series = daily_series(records[subject], study.equivalence, lo, hi)
            window = series.actual[(lo - series.first_date).days:]
            if window.size and float(window.max()) > limit:
                over_days[subject] = series
    if not over_days:
        return []
    problems: list[Problem] = []
    for batch in spool.batches():
        for line, subject, dose in batch:
            over = over_days.get(subject)
            if over is None:
                continue
            begin = (dose.start_date - over.first_date).days
            window = over.actual[begin:(_last_date(dose, today) - over.first_date).days + 1]
            if window.size and float(window.max()) > limit:
                worst = begin + int(window.argmax())
                problems.append(Problem("dose_mg", daily_limit_message(
                    over.date_at(worst), float(over.actual[worst])), line, doses_name))
    return problems
