"""The table models: checked by Qt's model tester, sorted by value, rows as objects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.ui.formatting import flags_label, mg, pct
from taper_app.ui.models import (
    ROW_ROLE,
    SORT_ROLE,
    AmendmentsModel,
    DoseHistoryModel,
    PatientTableModel,
    ScheduleStepsModel,
    ValueSortProxy,
    sort_ranks,
    sorts_before,
)
from taper_app.ui.qt import QColor, Qt
from taper_app.ui.rows import history_rows, load_patient_rows
from tests.conftest import TODAY

from .conftest import DAY1, dose, enroll


@pytest.fixture
def loaded(db, study, nurse, investigator):
    from taper_app.services.patients import amend_patient_schedule, void_dose

    enroll(nurse, study, "101-001", DAY1)
    enroll(nurse, study, "101-002", DAY1, baseline="7.5", template="table-12wk")
    first = dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "16", DAY1 + timedelta(days=28))
    dose(nurse, study, "101-001", "500", TODAY, drug="methylprednisolone", frequency="ONCE")
    void_dose(nurse, first, "wrong patient")
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "50", "dose_mg": "20", "reason": "flare"})
    return load_patient_rows(db, study, TODAY)


def test_the_patient_model_passes_the_model_tester(qtmodeltester, loaded):
    model = PatientTableModel()
    model.set_rows(loaded)
    qtmodeltester.check(model, force_py=False)
    proxy = ValueSortProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=False)


def test_the_history_model_passes_the_model_tester(qtmodeltester, loaded, study):
    model = DoseHistoryModel()
    model.set_rows(history_rows(study, loaded[0].record, TODAY))
    qtmodeltester.check(model, force_py=False)


def test_the_schedule_models_pass_the_model_tester(qtmodeltester, loaded):
    record = loaded[0].record
    steps = ScheduleStepsModel()
    steps.set_schedule(record.steps, record.day1_date)
    qtmodeltester.check(steps, force_py=False)
    amendments = AmendmentsModel()
    amendments.set_rows(list(record.amendments))
    qtmodeltester.check(amendments, force_py=False)


def test_the_models_pass_the_python_model_tester_too(qtmodeltester, loaded):
    model = PatientTableModel()
    model.set_rows(loaded)
    qtmodeltester.check(model, force_py=True)


def test_rows_are_objects_and_sort_values_are_values(loaded):
    model = PatientTableModel()
    model.set_rows(loaded)
    index = model.index(0, PatientTableModel.DOSE)
    assert index.data(ROW_ROLE) is loaded[0]
    assert index.data(SORT_ROLE) == loaded[0].summary["actual_mg"] == 641.0
    assert index.data() == "641"
    assert model.index(0, PatientTableModel.STUDY_DAY).data(SORT_ROLE) == 60
    missing = model.index(1, PatientTableModel.DOSE)
    assert missing.data(SORT_ROLE) is None and missing.data() == "–"
    status = model.index(1, PatientTableModel.STATUS)
    assert status.data() == "missing · to sign"
    assert isinstance(status.data(Qt.ItemDataRole.BackgroundRole), QColor)


def test_empty_values_sort_last_then_stay_put(loaded):
    model = PatientTableModel()
    model.set_rows(loaded)
    proxy = ValueSortProxy()
    proxy.setSourceModel(model)
    proxy.sort(PatientTableModel.DOSE, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, PatientTableModel.DOSE).data() for r in range(2)] == ["641", "–"]


def test_upsert_replaces_a_row_or_inserts_it_in_subject_order(loaded, qtbot):
    model = PatientTableModel()
    model.set_rows([loaded[1]])
    with qtbot.waitSignal(model.rowsInserted):
        assert model.upsert(loaded[0]) == 0
    with qtbot.waitSignal(model.dataChanged):
        assert model.upsert(loaded[1]) == 1
    assert [r.subject_id for r in model.rows()] == ["101-001", "101-002"]


def test_voided_rows_are_struck_through_and_say_why(loaded, study):
    model = DoseHistoryModel()
    model.set_rows(history_rows(study, loaded[0].record, TODAY))
    voided = next(i for i, r in enumerate(model.rows()) if r.dose.voided)
    assert model.index(voided, DoseHistoryModel.DRUG).data(
        Qt.ItemDataRole.FontRole).strikeOut()
    assert model.index(voided, DoseHistoryModel.NOTE).data() == "VOIDED: wrong patient"
    assert "Voided by nurse" in model.index(voided, 0).data(Qt.ItemDataRole.ToolTipRole)
    pulse = model.index(0, DoseHistoryModel.END)
    assert pulse.data() == "once"
    assert model.index(0, DoseHistoryModel.PEQ).data() == "625"


@pytest.mark.parametrize(("value", "text"), [
    (None, "–"), (20.0, "20"), (12.5, "12.5"), (7.125, "7.125"), (0.0, "0"), (1234.567,
                                                                              "1234.567")])
def test_milligrams_read_without_noise(value, text):
    assert mg(value) == text


def test_percentages_read_to_a_tenth():
    assert (pct(None), pct(50.0), pct(-12.25)) == ("–", "50.0", "-12.2")


def test_the_today_column_lists_every_flag_most_urgent_first():
    assert flags_label(("above", "missing", "pulse", "reason", "signature")) == (
        "above · missing · pulse · no reason · to sign")
    assert flags_label(()) == "on schedule"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False),
                          st.text("ab", max_size=2)), max_size=25))
def test_ranks_order_values_exactly_as_the_pairwise_rule(values):
    """The proxy compares cached places; they must say what comparing the values says."""
    ranks = sort_ranks(values)
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if type(a) is type(b) or a is None or b is None or {type(a), type(b)} <= {int, float}:
                assert (ranks[i] < ranks[j]) == sorts_before(a, b), (a, b)


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.lists(st.integers(-3, 3), max_size=30),
    st.lists(st.text("ab", max_size=2), max_size=30),
    st.lists(st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 1)), max_size=30),
    st.lists(st.dates(date(2026, 1, 1), date(2026, 1, 5)), max_size=30),
    st.lists(st.decimals(-2, 2, places=1, allow_nan=False), max_size=30),
    st.lists(st.tuples(st.dates(date(2026, 1, 1), date(2026, 1, 3)), st.integers(1, 3)),
             max_size=30),
    st.lists(st.tuples(st.integers(1, 2), st.one_of(st.none(), st.integers(1, 2))),
             max_size=12),
    st.lists(st.one_of(st.datetimes(datetime(2026, 1, 1), datetime(2026, 1, 2)),
                       st.datetimes(datetime(2026, 1, 1), datetime(2026, 1, 2),
                                    timezones=st.just(UTC))), max_size=8),
))
def test_ranks_of_values_of_one_kind_are_the_ranks_of_the_rule(values):
    """One kind of value (numbers, text, dates: a history's column) is ranked with plain
    comparisons; the ranks must be what comparing each pair by the rule gives."""
    ranks = sort_ranks(values)
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert (ranks[i] < ranks[j]) == sorts_before(a, b), (a, b)
    assert sorted(set(ranks)) == list(range(len(set(ranks))))  # dense: 0, 1, 2...


def test_the_proxy_sorts_again_when_a_row_changes_in_place(loaded, db, study, qtbot):
    """upsert replaces a row without a reset: the proxy's cached places must not outlive
    it (the list updates one patient in place after a save)."""
    earlier = load_patient_rows(db, study, DAY1 + timedelta(days=8))
    model = PatientTableModel()
    # 101-002 as of Day 9, 101-001 as of Day 60: by text, "60" would come before "9"
    model.set_rows([loaded[0], earlier[1]])
    proxy = ValueSortProxy()
    proxy.setSourceModel(model)
    proxy.sort(PatientTableModel.STUDY_DAY, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, 0).data() for r in range(2)] == ["101-002", "101-001"]
    later = load_patient_rows(db, study, TODAY + timedelta(days=20))
    with qtbot.waitSignal(model.dataChanged):
        model.upsert(later[1])  # 101-002 as of Day 80
    assert [proxy.index(r, PatientTableModel.STUDY_DAY).data(SORT_ROLE)
            for r in range(2)] == [60, 80]
    assert [proxy.index(r, 0).data() for r in range(2)] == ["101-001", "101-002"]


def test_a_model_sorts_its_own_rows_as_the_proxy_would(loaded, study, qtbot):
    """The history table sorts in the model (no proxy): the same order as a proxy gives,
    new rows arrive in that order, and a selected row stays selected through a re-sort."""
    from taper_app.ui.qt import QTableView

    history = history_rows(study, loaded[0].record, TODAY)
    by_proxy = DoseHistoryModel()
    by_proxy.set_rows(history)
    model = DoseHistoryModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)
    for column in (DoseHistoryModel.START, DoseHistoryModel.PEQ, DoseHistoryModel.DRUG):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            view.sortByColumn(column, order)
            model.set_rows(history)  # a patient's records arriving: ties in their order
            proxy = ValueSortProxy()  # a proxy over the same records, sorted afresh
            proxy.setSourceModel(by_proxy)
            proxy.sort(column, order)
            assert [model.row_object(r) for r in range(model.rowCount())] == [
                proxy.row_object(r) for r in range(proxy.rowCount())], (column, order)
    pulse = next(r for r, row in enumerate(model.rows()) if row.dose.frequency == "ONCE")
    view.selectRow(pulse)
    view.sortByColumn(DoseHistoryModel.START, Qt.SortOrder.AscendingOrder)
    [selected] = view.selectionModel().selectedRows()
    assert model.row_object(selected.row()).dose.frequency == "ONCE"
