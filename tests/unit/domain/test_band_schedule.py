"""Band templates: the rule-based step-down of domain.md §4.1, worked by hand."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from taper_app.domain.schedule import (
    Band,
    BandTemplate,
    ScheduleStep,
    generate_schedule,
    round_to,
    scheduled_doses,
)

from .builders import STEPDOWN_A, STEPDOWN_SLOW

D = Decimal

def pairs(steps: list[ScheduleStep]) -> list[tuple[int, Decimal]]:
    return [(s.day, s.dose_mg) for s in steps]


def single_band(above, interval, *, step_mg=None, step_pct=None, start=1, round_to_mg="0.5",
                floor="0") -> BandTemplate:
    return BandTemplate("t", "t", start, (Band(D(above), interval, D(step_mg) if step_mg else None,
                                               D(step_pct) if step_pct else None),),
                        D(round_to_mg), D(floor))


def test_stepdown_a_from_20_mg_matches_the_hand_worked_schedule():
    # 20 -20% -> 16 (Day 29), 12.8 -> 13 (43), 10.4 -> 10.5 (57), 8.4 -> 8.5 but never below the
    # 10 mg band -> 10 (71); the 1 mg band then holds each dose 28 days: 9 (99) ... 0 (351).
    expected = [(29, D(16)), (43, D(13)), (57, D("10.5")), (71, D(10))]
    expected += [(99 + 28 * i, D(9 - i)) for i in range(10)]
    assert pairs(generate_schedule(STEPDOWN_A, D(20))) == expected
    assert expected[-1] == (351, D(0))


def test_stepdown_a_from_60_mg_uses_each_band_in_turn():
    expected = [(29, D(50)), (43, D(40)), (57, D(32)), (71, D("25.5")), (85, D("20.5")),
                (99, D("16.5")), (113, D(13)), (127, D("10.5")), (141, D(10))]
    expected += [(169 + 28 * i, D(9 - i)) for i in range(10)]
    assert pairs(generate_schedule(STEPDOWN_A, D(60))) == expected


def test_a_step_never_jumps_below_its_band():
    # 45 - 10 = 35, but the 10 mg step belongs to the band above 40: the step stops at 40.
    assert pairs(generate_schedule(STEPDOWN_A, D(45)))[:2] == [(29, D(40)), (43, D(32))]


def test_each_new_dose_is_held_for_the_interval_of_the_band_that_will_reduce_it():
    steps = pairs(generate_schedule(STEPDOWN_A, D(20)))
    # 10.5 is reduced by the 14-day band, 10 by the 28-day band.
    assert steps[3][0] - steps[2][0] == 14
    assert steps[4][0] - steps[3][0] == 28


def test_baseline_is_held_until_taper_start_day():
    steps = generate_schedule(STEPDOWN_A, D(20))
    days = np.arange(1, 30)
    s = scheduled_doses(steps, 20.0, days)
    assert (s[:28] == 20.0).all()
    assert s[28] == 16.0


def test_floor_stops_the_taper_at_the_floor_dose():
    expected = [(43, D("17.5")), (57, D(15)), (78, D(14)), (99, D(13)), (120, D(12)),
                (141, D(11)), (162, D(10)), (183, D(9)), (204, D(8)), (225, D(7)), (246, D(6)),
                (267, D(5))]
    assert pairs(generate_schedule(STEPDOWN_SLOW, D(20))) == expected


def test_a_step_never_goes_below_the_floor():
    t = single_band(0, 7, step_mg="3", floor="5")
    assert pairs(generate_schedule(t, D(7))) == [(1, D(5))]


def test_baseline_at_or_below_the_floor_gives_no_steps():
    assert generate_schedule(STEPDOWN_SLOW, D(5)) == []
    assert generate_schedule(STEPDOWN_SLOW, D(4)) == []


def test_baseline_below_every_band_gives_no_steps():
    t = single_band(10, 14, step_mg="1")
    assert generate_schedule(t, D(10)) == []
    assert generate_schedule(t, D(3)) == []


def test_baseline_must_be_positive():
    with pytest.raises(ValueError, match="baseline"):
        generate_schedule(STEPDOWN_A, D(0))


def test_round_to_mg_rounds_halves_up_in_a_percent_band():
    # 4.5 * 50% = 2.25 = 4.5 halves of 0.5: halves up gives 2.5 (banker's rounding would give 2).
    t = single_band(0, 7, step_pct="50")
    assert pairs(generate_schedule(t, D("4.5")))[0] == (1, D("2.5"))


def test_round_to_mg_rounds_halves_up_in_a_mg_band():
    # 10.25 - 1 = 9.25 -> 9.5 (halves up), not 9.
    t = single_band(0, 7, step_mg="1")
    assert pairs(generate_schedule(t, D("10.25")))[0] == (1, D("9.5"))


def test_round_to_mg_can_be_coarser_than_the_step():
    # 2.5 mg tablets: 20 - 10% = 18 -> 17.5, 17.5 - 10% = 15.75 -> 15, 13.5 -> 12.5, ...
    t = single_band(0, 14, step_pct="10", round_to_mg="2.5")
    assert [d for _, d in pairs(generate_schedule(t, D(20)))][:4] == [D("17.5"), D(15),
                                                                      D("12.5"), D(10)]


def test_when_rounding_gives_no_reduction_the_dose_falls_by_round_to_mg():
    # 4 - 10% = 3.6 rounds back to 4 (>= cur), so the next dose is 4 - 1 = 3; and so on.
    t = single_band(0, 7, step_pct="10", round_to_mg="1")
    assert pairs(generate_schedule(t, D(4))) == [(1, D(3)), (8, D(2)), (15, D(1)), (22, D(0))]


def test_the_no_reduction_fallback_also_respects_the_floor():
    t = single_band(0, 7, step_pct="10", round_to_mg="1", floor="3.5")
    assert pairs(generate_schedule(t, D(4))) == [(1, D("3.5"))]


def test_the_no_reduction_fallback_also_respects_the_band():
    t = single_band("3.8", 7, step_pct="1", round_to_mg="1")
    assert pairs(generate_schedule(t, D(4))) == [(1, D("3.8"))]


def test_band_of_a_dose_is_the_highest_band_strictly_below_it():
    assert STEPDOWN_A.band(D(41)).above_mg == 40
    assert STEPDOWN_A.band(D(40)).above_mg == 10
    assert STEPDOWN_A.band(D("10.001")).above_mg == 10
    assert STEPDOWN_A.band(D(10)).above_mg == 0
    assert STEPDOWN_A.band(D(0)) is None


def test_bands_may_be_listed_in_any_order():
    shuffled = BandTemplate(STEPDOWN_A.id, STEPDOWN_A.name, 29, tuple(reversed(STEPDOWN_A.bands)))
    assert generate_schedule(shuffled, D(60)) == generate_schedule(STEPDOWN_A, D(60))


def test_generated_steps_are_template_steps_not_amendments():
    assert all(s.amendment_seq is None for s in generate_schedule(STEPDOWN_A, D(20)))


def test_percent_band_doses_are_stored_to_the_microgram():
    t = single_band(0, 7, step_pct="33", round_to_mg="0.001")
    first = generate_schedule(t, D(10))[0]
    assert first.dose_mg == D("6.7")
    assert generate_schedule(t, D("7.777"))[0].dose_mg == D("5.211")


@pytest.mark.parametrize(("value", "step", "expected"), [
    ("12.8", "0.5", "13"),
    ("12.75", "0.5", "13"),
    ("12.74", "0.5", "12.5"),
    ("12.25", "0.5", "12.5"),
    ("3.75", "2.5", "5"),
    ("3.74", "2.5", "2.5"),
    ("7", "0", "7"),
])
def test_round_to_nearest_multiple_halves_up(value, step, expected):
    assert round_to(D(value), D(step)) == D(expected)


def test_scheduled_dose_is_baseline_before_the_first_step_and_the_last_step_after():
    steps = [ScheduleStep(8, D(15)), ScheduleStep(15, D(10))]
    s = scheduled_doses(steps, 20.0, np.array([-3, 1, 7, 8, 14, 15, 400]))
    assert s.tolist() == [20.0, 20.0, 20.0, 15.0, 15.0, 10.0, 10.0]


def test_scheduled_dose_without_steps_is_baseline():
    assert scheduled_doses([], 12.5, np.array([1, 100])).tolist() == [12.5, 12.5]
