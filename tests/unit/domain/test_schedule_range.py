"""S over a range of study days without building the range: the same values as per day."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from taper_app.domain.schedule import ScheduleStep, scheduled_doses, scheduled_values_between

step_lists = st.lists(
    st.tuples(st.integers(-30, 400), st.integers(0, 60_000)), max_size=8
).map(lambda pairs: [ScheduleStep(day, Decimal(ug) / 1000) for day, ug in sorted(pairs)])


@given(steps=step_lists, baseline=st.integers(1, 60_000), first=st.integers(-60, 420),
       length=st.integers(0, 500))
def test_values_over_a_range_are_the_per_day_values(steps: list[ScheduleStep], baseline: int,
                                                     first: int, length: int) -> None:
    last = first + length
    b = baseline / 1000
    days = np.arange(first, last + 1)
    per_day = scheduled_doses(steps, b, days[days != 0])
    values = scheduled_values_between(steps, b, first, last)
    assert set(values) == set(per_day.tolist())
    if per_day.size:
        assert min(values) == per_day.min() and max(values) == per_day.max()


def test_day_zero_does_not_exist_so_a_range_of_only_day_zero_has_no_values() -> None:
    steps = [ScheduleStep(1, Decimal(15))]
    assert scheduled_values_between(steps, 20.0, 0, 0) == []
    assert scheduled_values_between(steps, 20.0, -1, 0) == [20.0]
    assert set(scheduled_values_between(steps, 20.0, 0, 1)) == {15.0}


def test_a_step_on_the_last_day_counts_and_one_after_it_does_not() -> None:
    steps = [ScheduleStep(29, Decimal(16)), ScheduleStep(43, Decimal(13))]
    assert scheduled_values_between(steps, 20.0, 1, 29) == [20.0, 16.0]
    assert scheduled_values_between(steps, 20.0, 30, 42) == [16.0]
