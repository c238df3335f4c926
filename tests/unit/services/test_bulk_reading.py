"""Reading every patient at once (the list, ``summary --json``) gives exactly what reading
one patient, the ORM and the per-patient figures give, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import column, select, table
from sqlalchemy.exc import DBAPIError

from taper_app.domain.doses import NO_END, DoseColumns, DoseRecord, daily_series_many
from taper_app.services import records as records_module
from taper_app.services.figures import analyse, analyse_all, summary
from taper_app.services.patients import (
    amend_patient_schedule,
    correct_dose,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.records import (
    DoseRecords,
    DoseRecordView,
    dose_view,
    load_all_patients,
    load_patient,
    read_all_patients,
)
from taper_app.storage.models import DoseRecordRow
from taper_app.storage.reading import plain_rows
from taper_app.storage.uow import UnitOfWork

AS_OF = date(2026, 7, 2)


def _enroll(ctx, study, subject, site, day1, baseline="20"):
    enroll_patient(ctx, study, {"subject_id": subject, "site": site, "day1_date": day1,
                                "baseline_mg": baseline, "template_id": "stepdown-a"})


def _dose(ctx, study, subject, drug, mg, start, end="", frequency="QD", route="PO"):
    return record_dose(ctx, study, subject, {
        "drug": drug, "dose_mg": mg, "frequency": frequency, "route": route,
        "start_date": start, "end_date": end}).record_id


@pytest.fixture
def cohort(nurse, investigator, study):
    """Three patients at two sites: dates across month and year ends, ongoing and ended
    records, a pulse, a voided and a corrected record, an amended schedule, no records."""
    _enroll(nurse, study, "101-002", "101", "2025-12-30")
    _enroll(nurse, study, "101-001", "101", "2026-01-31", baseline="12.5")
    _enroll(nurse, study, "102-001", "102", "2026-02-27")
    _dose(nurse, study, "101-002", "prednisone", "20", "2025-12-30", "2026-01-31")
    _dose(nurse, study, "101-002", "prednisolone", "17.5", "2026-02-01", "2026-02-28")
    _dose(nurse, study, "101-002", "methylprednisolone", "500", "2026-01-01",
          frequency="ONCE", route="IV")
    _dose(nurse, study, "101-002", "dexamethasone", "0.75", "2026-03-01")  # ongoing
    wrong = _dose(nurse, study, "101-001", "prednisone", "125", "2026-01-31", "2026-02-10")
    correct_dose(investigator, study, wrong, "typed 125 for 12.5", {
        "drug": "prednisone", "dose_mg": "12.5", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-31", "end_date": "2026-02-10"})
    voided = _dose(nurse, study, "101-001", "hydrocortisone", "20", "2026-02-11",
                   "2026-02-20", frequency="BID")
    void_dose(investigator, voided, "entered for the wrong patient")
    _dose(nurse, study, "101-001", "prednisone", "10", "2026-02-11")
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "60", "dose_mg": "7.5", "reason": "flare"})
    return ["101-001", "101-002", "102-001"]


def test_every_dose_view_equals_the_orm_row_read_through_sqlalchemy(db, cohort):
    with UnitOfWork(db, write=False) as uow:
        orm = {r.id: dose_view(r) for r in uow.session.scalars(select(DoseRecordRow))}
        records = load_all_patients(uow.session)
        one = {s: load_patient(uow.session, s) for s in cohort}
    views = [d for r in records for d in r.doses]
    assert len(views) == len(orm) == 8
    for view in views:
        assert view == orm[view.id]
        assert type(view) is DoseRecordView
        assert type(view.start_date) is date and type(view.created_at) is datetime
        assert type(view.voided) is bool
        assert view.end_date is None or type(view.end_date) is date
        assert view.voided_at is None or type(view.voided_at) is datetime
    assert [r.subject_id for r in records] == cohort
    for record in records:
        assert record == one[record.subject_id]
        assert [(d.start_date, d.id) for d in record.doses] == sorted(
            (d.start_date, d.id) for d in record.doses)
    assert sum(d.voided for d in views) == 2  # the corrected one and the voided one
    assert any(d.voided_at is not None and d.void_reason for d in views)
    assert records[2].doses == ()


def test_sites_limit_the_bulk_read(db, cohort):
    with UnitOfWork(db, write=False) as uow:
        records = load_all_patients(uow.session, frozenset({"102"}))
    assert [r.subject_id for r in records] == ["102-001"]


@pytest.mark.parametrize("as_of", [date(2025, 12, 1), date(2026, 1, 31), date(2026, 2, 15),
                                   AS_OF, date(2027, 1, 1)])
def test_all_patients_at_once_equal_each_patient_alone(db, study, cohort, as_of):
    with UnitOfWork(db, write=False) as uow:
        records = load_all_patients(uow.session)
    together = analyse_all(db, study, as_of)
    for record, bulk in zip(records, together, strict=True):
        alone = analyse(study, record, as_of)
        assert bulk.record == alone.record
        assert bulk.figures == alone.figures
        assert bulk.series.first_date == alone.series.first_date
        assert bulk.gaps == alone.gaps
        for name in ("actual", "covered"):
            a, b = getattr(bulk.series, name), getattr(alone.series, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        for name in bulk.curves.__dataclass_fields__:
            a, b = getattr(bulk.curves, name), getattr(alone.curves, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    rows = summary(db, study, as_of)
    assert rows == [summary(db, study, as_of, s)[0] for s in cohort]


def test_plain_rows_are_the_drivers_values_in_the_same_transaction(db, nurse, study):
    _enroll(nurse, study, "101-001", "101", "2026-01-05")
    with UnitOfWork(db, write=False) as uow:
        rows = plain_rows(uow.session.connection(),
                          select(DoseRecordRow.id).where(DoseRecordRow.patient_id == 10**6))
        assert rows == []
        patients = plain_rows(uow.session.connection(),
                              select(column("subject_id")).select_from(table("patient")))
    assert patients == [("101-001",)]


def test_plain_rows_refuse_parameters_that_need_conversion(db):
    with UnitOfWork(db, write=False) as uow, pytest.raises(TypeError):
        plain_rows(uow.session.connection(),
                   select(DoseRecordRow.id).where(DoseRecordRow.start_date == date(2026, 1, 1)))


def test_plain_rows_report_a_driver_error_as_sqlalchemy_does(db):
    with UnitOfWork(db, write=False) as uow, pytest.raises(DBAPIError) as caught:
        plain_rows(uow.session.connection(),
                   select(column("x")).select_from(table("no_such_table")))
    assert "no_such_table" in str(caught.value)


def test_the_bulk_reads_dose_columns_are_the_columns_of_its_records(db, cohort):
    """The study's figures read the dose columns made from the driver rows: they must be
    what the records' own fields give, record for record, patient after patient."""
    with UnitOfWork(db, write=False) as uow:
        read = read_all_patients(uow.session)
        without = read_all_patients(uow.session, dose_columns=False)  # reports, exports
    assert without.dose_columns is None and without.records == read.records
    views = [d for r in read.records for d in r.doses]
    expected = DoseColumns.of(views)
    got = read.dose_columns
    assert len(got) == len(views) == 8
    for name in ("start", "end", "dose_ug", "voided"):
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype and a.tolist() == b.tolist(), name
    assert list(got.drug) == list(expected.drug)
    assert list(got.frequency) == list(expected.frequency)
    assert NO_END in got.end.tolist()  # the ongoing dexamethasone
    assert got.voided.sum() == 2


def test_bulk_read_doses_are_made_only_when_looked_at_and_equal_their_tuple(db, cohort):
    with UnitOfWork(db, write=False) as uow:
        read = read_all_patients(uow.session)
        one = load_patient(uow.session, "101-002")
    doses = read.records[1].doses
    assert isinstance(doses, DoseRecords) and isinstance(one.doses, tuple)
    assert len(doses) == 4 and doses._views is None  # counted from the rows
    assert doses == one.doses and one.doses == doses
    assert (doses != one.doses) is False
    assert hash(doses) == hash(one.doses)
    assert doses[0] == one.doses[0] and doses[-2:] == one.doses[-2:]
    assert list(doses) == list(one.doses) and len(doses) == 4
    assert read.records[1] == one
    assert read.records[2].doses == () and not read.records[2].doses
    assert doses != list(one.doses)  # a tuple's equality: a list is not equal


def test_the_study_figures_do_not_make_the_views(db, study, cohort, monkeypatch):
    made = []
    real = records_module._view_builder

    def counting(converters):
        make = real(converters)
        return lambda rows: made.append(len(rows)) or make(rows)

    monkeypatch.setattr(records_module, "_view_builder", counting)
    rows = summary(db, study, AS_OF)
    assert [r["subject_id"] for r in rows] == cohort
    assert made == []
    analyse_all(db, study, AS_OF)[1].record.doses[0]  # looked at: made then, once
    assert made == [4]


def test_daily_series_many_refuses_columns_of_other_records(study):
    with pytest.raises(ValueError, match="1 dose columns for 0 records"):
        daily_series_many([[]], study.equivalence, [AS_OF], AS_OF, DoseColumns.of([
            DoseRecord("prednisone", 5000, "QD", "PO", AS_OF)]))


class _OtherThreadFirst(DoseRecords):
    """Records whose first read of the rows finds another thread has just made the views
    (the interleaving of the window's worker and GUI threads, made to happen)."""

    __slots__ = ("_raced",)

    def __init__(self, rows, make):
        super().__init__(rows, make)
        self._raced = False

    @property
    def _rows(self):
        if not self._raced:
            self._raced = True
            DoseRecords._all(self)  # the other thread, start to end
        return DoseRecords._rows.__get__(self)

    @_rows.setter
    def _rows(self, value):
        DoseRecords._rows.__set__(self, value)


def test_doses_made_by_another_thread_meanwhile_are_still_there():
    rows = [("row", 1), ("row", 2)]
    for look in (list, len, lambda d: d[1], lambda d: tuple(d) == (1, 2)):
        doses = _OtherThreadFirst(rows, lambda rs: [r[1] for r in rs])
        assert look(doses) in ([1, 2], 2, True)
        assert list(doses) == [1, 2] and len(doses) == 2
