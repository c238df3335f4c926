"""The actual daily dose A(d) built from dose records (domain.md §3)."""

from __future__ import annotations

import math

import numpy as np

from taper_app.domain.doses import missing_gaps

from .builders import dose, on, series_as_of


def values(series) -> list[float]:
    """A(d) from Day 1 as plain floats (NaN where missing)."""
    actual, _ = series.from_day1()
    return [float(x) for x in actual]


def test_a_qd_record_contributes_its_dose_on_every_date_it_covers():
    assert values(series_as_of([dose("prednisone", "20", 1, 3)], 3)) == [20.0, 20.0, 20.0]


def test_missing_day_is_nan_not_zero():
    series = series_as_of([dose("prednisone", "20", 1, 2), dose("prednisone", "20", 4, 5)], 5)
    a = values(series)
    assert a[:2] == [20.0, 20.0]
    assert math.isnan(a[2])
    assert a[3:] == [20.0, 20.0]
    assert not series.from_day1()[1][2]


def test_a_zero_dose_record_is_an_observed_zero_not_a_missing_day():
    series = series_as_of([dose("prednisone", "0", 1, 3)], 3)
    _, covered = series.from_day1()
    assert values(series) == [0.0, 0.0, 0.0]
    assert covered.all()


def test_overlapping_records_add_up():
    records = [dose("prednisone", "10", 1, 5), dose("prednisolone", "2.5", 3, 4)]
    assert values(series_as_of(records, 5)) == [10.0, 10.0, 12.5, 12.5, 10.0]


def test_methylprednisolone_500_mg_iv_pulse_is_625_mg_peq_on_top_of_maintenance():
    records = [
        dose("prednisone", "20", 1, 5),
        dose("methylprednisolone", "500", 3, frequency="ONCE", route="IV"),
    ]
    assert values(series_as_of(records, 5)) == [20.0, 20.0, 645.0, 20.0, 20.0]


def test_a_pulse_alone_is_625_mg_peq_on_its_date():
    pulse = dose("methylprednisolone", "500", 2, frequency="ONCE", route="IV")
    a = values(series_as_of([dose("prednisone", "0", 1, 3), pulse], 3))
    assert a == [0.0, 625.0, 0.0]


def test_once_record_covers_only_its_start_date_even_when_figures_are_months_later():
    pulse = dose("methylprednisolone", "1000", 2, frequency="ONCE", route="IV")
    series = series_as_of([pulse], 90)
    actual, covered = series.from_day1()
    assert covered.sum() == 1
    assert float(actual[1]) == 1250.0


def test_once_record_ignores_an_end_date_it_should_not_have():
    pulse = dose("methylprednisolone", "500", 2, 10, frequency="ONCE", route="IV")
    _, covered = series_as_of([pulse], 10).from_day1()
    assert covered.sum() == 1


def test_qod_record_counts_half_its_dose_on_every_day_of_its_range():
    assert values(series_as_of([dose("prednisone", "5", 1, 4, frequency="QOD")], 4)) == [2.5] * 4


def test_qw_record_counts_a_seventh_of_its_dose_every_day():
    a = values(series_as_of([dose("prednisone", "35", 1, 14, frequency="QW")], 14))
    assert a == [5.0] * 14


def test_voided_record_does_not_count():
    records = [dose("prednisone", "10", 1, 3), dose("prednisone", "40", 1, 3, voided=True)]
    assert values(series_as_of(records, 3)) == [10.0, 10.0, 10.0]


def test_a_day_covered_only_by_a_voided_record_is_missing():
    records = [dose("prednisone", "10", 1, 1), dose("prednisone", "10", 2, 2, voided=True)]
    assert math.isnan(values(series_as_of(records, 2))[1])


def test_ongoing_record_covers_every_date_up_to_as_of():
    a = values(series_as_of([dose("prednisone", "7.5", 1)], 40))
    assert a == [7.5] * 40


def test_ongoing_record_stops_at_as_of_not_later():
    series = series_as_of([dose("prednisone", "7.5", 1)], 10)
    assert len(series.actual) == 10
    assert series.as_of == on(10)


def test_record_ending_after_as_of_is_cut_at_as_of():
    assert len(values(series_as_of([dose("prednisone", "5", 1, 100)], 7))) == 7


def test_record_starting_after_as_of_is_not_counted_yet():
    records = [dose("prednisone", "10", 1, 5), dose("prednisone", "99", 6)]
    assert values(series_as_of(records, 5)) == [10.0] * 5


def test_records_before_day1_are_kept_in_the_series_with_negative_study_days():
    records = [dose("prednisone", "25", -3, -1), dose("prednisone", "20", 1, 2)]
    series = series_as_of(records, 2)
    assert series.first_date == on(-3)
    assert [int(d) for d in series.study_days] == [-3, -2, -1, 1, 2]
    assert [float(x) for x in series.actual] == [25.0, 25.0, 25.0, 20.0, 20.0]
    assert values(series) == [20.0, 20.0]


def test_a_run_in_record_that_continues_past_day1_counts_from_day1():
    series = series_as_of([dose("prednisone", "25", -5, 2)], 3)
    a = values(series)
    assert a[:2] == [25.0, 25.0]
    assert math.isnan(a[2])


def test_as_of_before_day1_gives_no_day1_onward_days():
    series = series_as_of([dose("prednisone", "25", -10)], -2)
    actual, covered = series.from_day1()
    assert actual.size == 0 and covered.size == 0
    assert [float(x) for x in series.actual] == [25.0] * 9


def test_many_small_contributions_leave_no_float_residue():
    records = [dose("dexamethasone", "0.1", 1, 30)] + [
        dose("hydrocortisone", "0.3", d, d) for d in range(1, 31)]
    a = np.array(values(series_as_of(records, 30)))
    expected = 0.1 * 20 / 3 + 0.3 / 4
    assert np.allclose(a, expected, rtol=0, atol=1e-9)


def test_missing_gaps_are_the_runs_of_uncovered_days_from_day1():
    records = [dose("prednisone", "10", 1, 2), dose("prednisone", "10", 5, 6),
               dose("prednisone", "10", 9, 9)]
    assert missing_gaps(series_as_of(records, 12)) == [
        (on(3), on(4)), (on(7), on(8)), (on(10), on(12))]


def test_missing_gaps_ignore_the_run_in():
    records = [dose("prednisone", "10", -9, -8), dose("prednisone", "10", 1, 3)]
    assert missing_gaps(series_as_of(records, 3)) == []
