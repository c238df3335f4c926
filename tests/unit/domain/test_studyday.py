"""Study-day arithmetic: Day 1 is the first dose and there is no Day 0 (domain.md §1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain.studyday import date_of_day, study_day, week_end_day

DAY1 = date(2026, 3, 10)


def test_day1_date_is_study_day_1():
    assert study_day(DAY1, DAY1) == 1


def test_day_after_day1_is_study_day_2():
    assert study_day(DAY1 + timedelta(days=1), DAY1) == 2


def test_day_before_day1_is_study_day_minus_1_because_there_is_no_day_0():
    assert study_day(DAY1 - timedelta(days=1), DAY1) == -1


def test_study_days_before_day1_are_negative_counts_of_days():
    assert study_day(date(2026, 3, 1), DAY1) == -9


def test_study_day_counts_across_a_leap_day():
    assert study_day(date(2028, 3, 1), date(2028, 2, 28)) == 3


def test_month_6_default_target_day_is_183_days_from_day1():
    assert study_day(DAY1 + timedelta(days=182), DAY1) == 183


def test_date_of_day_is_the_inverse_for_positive_and_negative_days():
    assert date_of_day(1, DAY1) == DAY1
    assert date_of_day(2, DAY1) == DAY1 + timedelta(days=1)
    assert date_of_day(-1, DAY1) == DAY1 - timedelta(days=1)


def test_date_of_day_0_is_refused():
    with pytest.raises(ValueError, match="no study day 0"):
        date_of_day(0, DAY1)


def test_week_n_ends_on_day_7n():
    assert week_end_day(1) == 7
    assert week_end_day(26) == 182


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(min_value=-2000, max_value=2000))
def test_study_day_is_never_0_and_round_trips_through_date_of_day(offset):
    d = DAY1 + timedelta(days=offset)
    day = study_day(d, DAY1)
    assert day != 0
    assert (day > 0) == (d >= DAY1)
    assert date_of_day(day, DAY1) == d
