"""Reading a patient's record into plain objects (never live ORM rows) for every view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import Any, overload

import numpy as np
from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from ..domain.doses import NO_END, DoseColumns
from ..domain.schedule import ScheduleStep
from ..domain.units import ug_to_mg
from ..results import AmendmentView, DoseRecordView, PatientRecord
from ..storage.models import Amendment, DoseRecordRow, Patient, ScheduleStepRow
from ..storage.reading import Converter, plain_rows, result_converters
from .errors import NotFound

__all__ = ["AmendmentView", "DoseRecordView", "DoseRecords", "PatientRecord", "StudyRecords",
           "dose_view", "find_patient_row", "load_all_patients", "load_patient",
           "read_all_patients"]


class DoseRecords(Sequence[DoseRecordView]):
    """A patient's dose records from a bulk read: the driver's rows, made into views the
    first time anything looks at them.

    Figures for the whole study (``summary``, the window's list) read the records' columns
    straight from the rows (:class:`StudyRecords`) and never look at the views: making a
    hundred thousand views cost more than the figures. Equal to the tuple of its views, as
    :func:`load_patient` gives them.
    """

    __slots__ = ("_make", "_rows", "_views")

    def __init__(self, rows: list[tuple[Any, ...]],
                 make: Callable[[list[tuple[Any, ...]]], list[DoseRecordView]]) -> None:
        self._rows: list[tuple[Any, ...]] | None = rows
        self._make = make
        self._views: tuple[DoseRecordView, ...] | None = None

    def _all(self) -> tuple[DoseRecordView, ...]:
        # Safe from two threads at once: the views are set before the rows are let go, and
        # each attribute is read once. Both threads may make them: equal tuples.
        rows = self._rows
        if rows is None:
            views = self._views
            assert views is not None  # set before the rows were let go
            return views
        views = self._views = tuple(self._make(rows))
        self._rows = None
        return views

    def __len__(self) -> int:
        rows = self._rows
        return len(rows) if rows is not None else len(self._all())

    @overload
    def __getitem__(self, index: int) -> DoseRecordView: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[DoseRecordView, ...]: ...

    def __getitem__(self, index: int | slice) -> DoseRecordView | tuple[DoseRecordView, ...]:
        return self._all()[index]

    def __iter__(self) -> Iterator[DoseRecordView]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DoseRecords | tuple):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"DoseRecords({self._all()!r})"


def dose_view(r: DoseRecordRow) -> DoseRecordView:
    return DoseRecordView(r.id, r.drug, r.dose_ug, r.frequency, r.route, r.start_date,
                          r.end_date, r.source, r.comment, r.deviation_reason, r.created_by,
                          r.created_at, r.voided, r.void_reason, r.voided_by, r.voided_at,
                          r.replaces_id, r.version)


# Reading plain columns rather than ORM entities: a patient with three years of daily diary
# records has a thousand rows, and building (then discarding) an ORM object per row cost
# several times more than the figures computed from them.
_DOSE_COLUMNS = tuple(getattr(DoseRecordRow, name) for name in DoseRecordView._fields)
_STEP_COLUMNS = (ScheduleStepRow.patient_id, ScheduleStepRow.id, ScheduleStepRow.day,
                 ScheduleStepRow.dose_ug, ScheduleStepRow.amendment_id,
                 ScheduleStepRow.frequency, ScheduleStepRow.administered_ug)
_AMENDMENT_COLUMNS = (Amendment.patient_id, Amendment.id, Amendment.seq, Amendment.day,
                      Amendment.dose_ug, Amendment.reason, Amendment.created_by,
                      Amendment.created_at, Amendment.withdrawn_at, Amendment.withdrawn_by,
                      Amendment.withdraw_reason)
_PATIENT_COLUMNS = (Patient.id, Patient.subject_id, Patient.site_code, Patient.day1_date,
                    Patient.baseline_ug, Patient.template_id, Patient.kit_number, Patient.notes,
                    Patient.version, Patient.end_date, Patient.disposition,
                    Patient.end_reason)

_StepRow = tuple[int, int, int, int, "int | None", str, "int | None"]
_AmendmentRow = tuple[int, int, int, int, int, str, str, datetime, "datetime | None",
                      "str | None", "str | None"]


class _StepMg(dict[int, Decimal]):
    """``ug_to_mg`` of each distinct step dose once in a read (schedules share a few dose
    levels); one per read, so nothing outlives it."""

    def __missing__(self, ug: int) -> Decimal:
        mg = self[ug] = ug_to_mg(ug)
        return mg


def _assemble(p: Sequence[Any], steps: Iterable[_StepRow], amendments: Iterable[_AmendmentRow],
              doses: Sequence[DoseRecordView], step_mg: _StepMg | None = None) -> PatientRecord:
    """One record from a patient's columns and its rows (doses already in (start, id) order)."""
    amendment_list = sorted(amendments, key=lambda a: a[2])
    seq_of = {a[1]: a[2] for a in amendment_list}
    current = sorted(steps, key=lambda s: (s[2], s[1]))
    (pid, subject_id, site, day1, baseline_ug, template_id, kit_number, notes, version,
     end_date, disposition, end_reason) = p
    mg_of = _StepMg() if step_mg is None else step_mg
    return PatientRecord(
        id=pid, subject_id=subject_id, site=site, day1_date=day1,
        baseline_ug=baseline_ug, template_id=template_id, kit_number=kit_number,
        notes=notes, version=version,
        steps=tuple(ScheduleStep(s[2], mg_of[s[3]], seq_of.get(s[4]) if s[4] else None,
                                 s[5], None if s[6] is None else mg_of[s[6]])
                    for s in current),
        amendments=tuple(AmendmentView(a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10])
                         for a in amendment_list),
        doses=doses, end_date=end_date, disposition=disposition, end_reason=end_reason,
    )


def find_patient_row(session: Session, subject_id: str) -> Patient:
    patient = session.scalars(select(Patient).where(Patient.subject_id == subject_id)).first()
    if patient is None:
        raise NotFound(f"no patient {subject_id!r}")
    return patient


#: Columns whose driver value SQLAlchemy converts on some backend (SQLite: ISO date text,
#: 0/1), by their index in a dose view.
_CONVERTED = tuple(DoseRecordView._fields.index(name) for name in
                   ("start_date", "end_date", "created_at", "voided", "voided_at"))
#: (start date, id) of a ``(patient_id, *view columns)`` row: the order of a patient's doses.
_START_AND_ID = itemgetter(1 + DoseRecordView._fields.index("start_date"), 1)


class _Converted(dict[Any, Any]):
    """Each distinct driver value converted once (``memo[text]``): a diary repeats the same
    dates and entry times across many rows, and the converted values are immutable."""

    def __init__(self, convert: Converter | None) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: Any) -> Any:
        converted = self[value] = value if self.convert is None else self.convert(value)
        return converted


def _view_builder(converters: Sequence[Converter | None],
                  ) -> Callable[[list[tuple[Any, ...]]], list[DoseRecordView]]:
    """A function making views of ``(patient_id, *view columns)`` driver rows, converted as
    SQLAlchemy would (each distinct value once, for all the rows it is given)."""
    extra = [DoseRecordView._fields[i] for i, c in enumerate(converters)
             if c is not None and i not in _CONVERTED]
    if extra:  # a backend that converts more than dates and booleans: say so, not skip it
        raise NotImplementedError(f"dose columns {extra} need conversion on this backend")
    new = tuple.__new__
    if all(converters[i] is None for i in _CONVERTED):  # PostgreSQL: values as they come
        return lambda rows: [new(DoseRecordView, r[1:]) for r in rows]
    start, end, created, voided, voided_at = (_Converted(converters[i]) for i in _CONVERTED)

    def views(rows: list[tuple[Any, ...]]) -> list[DoseRecordView]:
        # One comprehension with the five conversions spelled out: a fraction of the cost
        # of SQLAlchemy's result processing and Row objects for the same rows.
        return [new(DoseRecordView, (r[1], r[2], r[3], r[4], r[5], start[r[6]], end[r[7]],
                                     r[8], r[9], r[10], r[11], created[r[12]], voided[r[13]],
                                     r[14], r[15], voided_at[r[16]], r[17], r[18]))
                for r in rows]

    return views


def _dose_rows_by_patient(session: Session, patient_id: int | None = None,
                          ) -> tuple[dict[int, list[tuple[Any, ...]]], list[Converter | None]]:
    """Every dose record's driver row ``(patient_id, *view columns)`` (of one patient, or
    all), grouped by patient in (start date, id) order, and the columns' converters."""
    stmt = select(DoseRecordRow.patient_id, *_DOSE_COLUMNS)
    if patient_id is not None:
        stmt = stmt.where(DoseRecordRow.patient_id == patient_id)
    session.flush()  # the connection below does not autoflush: records added in this unit count
    connection: Connection = session.connection()
    by_patient: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in plain_rows(connection, stmt):
        by_patient[row[0]].append(row)
    # Each patient's rows sorted here, not by ORDER BY: the driver's values sort as the
    # database would (ISO date text on SQLite, dates on PostgreSQL; ids are unique), and
    # SQLite's sort of a hundred thousand rows cost more than reading them.
    for rows in by_patient.values():
        rows.sort(key=_START_AND_ID)
    return by_patient, result_converters(connection, _DOSE_COLUMNS)


#: Where the daily series' fields are in a ``(patient_id, *view columns)`` driver row.
_FIELD = {name: 1 + DoseRecordView._fields.index(name)
          for name in ("start_date", "end_date", "drug", "frequency", "dose_ug", "voided")}


class _Ordinals(dict[Any, int]):
    """``date.toordinal`` of each distinct driver date value, converted once; None (no
    end date) is ``NO_END``."""

    def __init__(self, convert: Converter | None) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: Any) -> int:
        if value is None:
            ordinal = NO_END
        else:
            ordinal = (value if self.convert is None else self.convert(value)).toordinal()
        self[value] = ordinal
        return ordinal


def _dose_columns(rows: list[tuple[Any, ...]],
                  converters: Sequence[Converter | None]) -> DoseColumns:
    """The daily series' columns straight from driver rows, converted as SQLAlchemy would
    convert them (each distinct date once), without making a view per row."""
    def column(name: str) -> Iterator[Any]:
        return map(itemgetter(_FIELD[name]), rows)

    def converter(name: str) -> Converter | None:
        return converters[_FIELD[name] - 1]

    n = len(rows)
    ordinals = _Ordinals(converter("start_date"))
    end_ordinals = ordinals if converter("end_date") is converter("start_date") \
        else _Ordinals(converter("end_date"))
    to_bool = converter("voided")
    voided = column("voided") if to_bool is None else map(to_bool, column("voided"))
    return DoseColumns(
        start=np.fromiter(map(ordinals.__getitem__, column("start_date")), np.int64, n),
        end=np.fromiter(map(end_ordinals.__getitem__, column("end_date")), np.int64, n),
        drug=list(column("drug")),
        frequency=list(column("frequency")),
        dose_ug=np.fromiter(column("dose_ug"), np.int64, n),
        voided=np.fromiter(voided, np.bool_, n))


def load_patient(session: Session, subject_id: str) -> PatientRecord:
    p = session.execute(select(*_PATIENT_COLUMNS).where(
        Patient.subject_id == subject_id)).first()
    if p is None:
        raise NotFound(f"no patient {subject_id!r}")
    pid = p[0]
    steps = session.execute(select(*_STEP_COLUMNS).where(
        ScheduleStepRow.patient_id == pid, ScheduleStepRow.superseded_by_id.is_(None),
        ScheduleStepRow.retired_by_id.is_(None)))
    amendments = session.execute(select(*_AMENDMENT_COLUMNS).where(
        Amendment.patient_id == pid))
    by_patient, converters = _dose_rows_by_patient(session, pid)
    doses = _view_builder(converters)(by_patient.get(pid, []))
    return _assemble(p, steps, amendments, tuple(doses))


def _plain(connection: Connection, stmt: Select[*tuple[Any, ...]],
           columns: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``stmt``'s rows through :func:`plain_rows`, each column converted as SQLAlchemy would."""
    rows = plain_rows(connection, stmt)
    converters = result_converters(connection, columns)
    if all(c is None for c in converters):
        return rows
    convert = [c or _unchanged for c in converters]
    return [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows]


def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True, eq=False)
class StudyRecords:
    """Every patient's record from one bulk read, and the columns of all their dose records
    (patient after patient, in the records' order) for the study's figures."""

    records: list[PatientRecord]
    dose_columns: DoseColumns | None  # None when not asked for


def read_all_patients(session: Session, sites: frozenset[str] | None = None, *,
                      dose_columns: bool = True) -> StudyRecords:
    """Every patient (of ``sites``, or all) in subject order, in four queries in all;
    with the dose columns for the figures unless ``dose_columns`` is false."""
    stmt = select(*_PATIENT_COLUMNS).order_by(Patient.subject_id)
    if sites is not None:
        stmt = stmt.where(Patient.site_code.in_(sorted(sites)))
    session.flush()  # plain reads do not autoflush: what this unit of work added counts
    connection = session.connection()  # driver rows: no ORM or Row machinery per row
    patients = _plain(connection, stmt, _PATIENT_COLUMNS)
    steps: dict[int, list[_StepRow]] = defaultdict(list)
    for s in _plain(connection, select(*_STEP_COLUMNS).where(
            ScheduleStepRow.superseded_by_id.is_(None),
            ScheduleStepRow.retired_by_id.is_(None)), _STEP_COLUMNS):
        steps[s[0]].append(s)
    amendments: dict[int, list[_AmendmentRow]] = defaultdict(list)
    for a in _plain(connection, select(*_AMENDMENT_COLUMNS), _AMENDMENT_COLUMNS):
        amendments[a[0]].append(a)
    dose_rows, converters = _dose_rows_by_patient(session)
    views = _view_builder(converters)
    step_mg = _StepMg()
    records = [_assemble(p, steps[p[0]], amendments[p[0]],
                         DoseRecords(dose_rows.get(p[0], []), views), step_mg)
               for p in patients]
    # Subject order by code point, as SQLite sorts: a server's collation may differ
    # ("101-A" vs "101-a", hyphens ignored), and summary --json must not depend on it.
    records.sort(key=lambda r: r.subject_id)
    if not dose_columns:
        return StudyRecords(records, None)
    flat = list(chain.from_iterable(dose_rows.get(r.id, ()) for r in records))
    return StudyRecords(records, _dose_columns(flat, converters))


def load_all_patients(session: Session,
                      sites: frozenset[str] | None = None) -> list[PatientRecord]:
    """Every patient (of ``sites``, or all) in subject order, in four queries in all."""
    return read_all_patients(session, sites, dose_columns=False).records
