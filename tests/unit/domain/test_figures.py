"""Every figure of domain.md §5, worked by hand on small patients."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from taper_app.domain.figures import DeviationEpisode, FigureSettings, deviation_episodes

from .builders import dose, figures_as_of, schedule

# --- One worked patient ---------------------------------------------------------------------
#
# B = 20 mg/day; schedule 20 until Day 7, 15 from Day 8, 10 from Day 15.
# Run-in Days -3..-1 at 30 mg (kept, never counted). Days 1-7: 20; Days 8-12: 15;
# Days 13-14 missing; Day 15 on: 10 (ongoing), plus a 500 mg IV methylprednisolone pulse on
# Day 16 (625 mg PEQ); a wrong 40 mg record on Days 1-20 was voided. As of Day 20:
#   observed n = 7 + 5 + 6 = 18, missing = 2
#   cumulative = 7*20 + 5*15 + 10 + 635 + 4*10 = 900
#   scheduled cumulative over observed days = 7*20 + 5*15 + 6*10 = 275
#   cumulative reduction = 100 * (1 - 900 / (20 * 18)) = -150 %, spared = 360 - 900 = -540
#   window (Days 1..20, clipped at Day 1): mean = 900 / 18 = 50 -> 100 * (20 - 50) / 20 = -150 %
#   daily reduction at Day 20 = 100 * (20 - 10) / 20 = 50 %
#   deviation: Day 16 above (635 > 10), one episode.
WORKED_STEPS = schedule((8, 15), (15, 10))
WORKED_RECORDS = [
    dose("prednisone", "30", -3, -1),
    dose("prednisone", "20", 1, 7),
    dose("prednisone", "15", 8, 12),
    dose("prednisone", "10", 15),
    dose("methylprednisolone", "500", 16, frequency="ONCE", route="IV"),
    dose("prednisone", "40", 1, 20, voided=True),
]


@pytest.fixture
def worked():
    return figures_as_of(WORKED_RECORDS, 20, 20, WORKED_STEPS,
                         FigureSettings(target_dose_mg=Decimal(10)))


def test_worked_patient_counts_observed_and_missing_days(worked):
    assert worked.as_of_day == 20
    assert worked.observed_days == 18
    assert worked.missing_days == 2


def test_worked_patient_cumulative_dose_counts_the_pulse_and_not_the_run_in(worked):
    assert worked.cumulative_mg == pytest.approx(900.0)


def test_worked_patient_scheduled_cumulative_counts_only_observed_days(worked):
    assert worked.scheduled_cumulative_mg == pytest.approx(275.0)


def test_worked_patient_cumulative_reduction_and_spared_can_be_negative(worked):
    assert worked.cumulative_reduction_pct == pytest.approx(-150.0)
    assert worked.spared_mg == pytest.approx(-540.0)


def test_worked_patient_window_reduction_uses_observed_days_since_day1(worked):
    assert worked.window_reduction_pct == pytest.approx(-150.0)


def test_worked_patient_daily_reduction_on_the_as_of_day(worked):
    assert worked.actual_mg == pytest.approx(10.0)
    assert worked.scheduled_mg == pytest.approx(10.0)
    assert worked.reduction_pct == pytest.approx(50.0)


def test_worked_patient_pulse_day_is_one_deviation_above(worked):
    assert worked.deviation_days_above == 1
    assert worked.deviation_days_below == 0
    assert worked.episodes == (DeviationEpisode("above", 16, 16),)
    assert worked.last_status == "on_schedule"


def test_worked_patient_reaches_the_target_dose_on_day_15(worked):
    assert worked.days_to_target_dose == 15


def test_worked_patient_target_is_pending_before_day_183(worked):
    assert worked.target.status == "pending"
    assert worked.target.day == 183
    assert worked.target.window_reduction_pct == pytest.approx(-150.0)


# --- Daily reduction ------------------------------------------------------------------------

def test_daily_reduction_is_percent_of_baseline():
    f = figures_as_of([dose("prednisone", "15", 1)], 20, 5)
    assert f.reduction_pct == pytest.approx(25.0)


def test_daily_reduction_is_none_when_the_as_of_day_is_missing():
    f = figures_as_of([dose("prednisone", "15", 1, 4)], 20, 5)
    assert f.actual_mg is None
    assert f.reduction_pct is None
    assert f.last_status == "missing"


def test_daily_reduction_of_a_recorded_zero_is_100_percent():
    f = figures_as_of([dose("prednisone", "0", 1)], 20, 5)
    assert f.actual_mg == 0.0
    assert f.reduction_pct == pytest.approx(100.0)


# --- Missing days are not zeros ------------------------------------------------------------

def test_missing_day_is_not_counted_as_zero():
    # Days 1-5 at 10 mg, Days 6-10 missing: the mean of what was taken is 10 mg, not 5 mg.
    f = figures_as_of([dose("prednisone", "10", 1, 5)], 20, 10)
    assert f.observed_days == 5
    assert f.missing_days == 5
    assert f.cumulative_mg == pytest.approx(50.0)
    assert f.cumulative_reduction_pct == pytest.approx(50.0)
    assert f.spared_mg == pytest.approx(50.0)


def test_a_zero_dose_record_is_an_observed_day_that_lowers_the_figures():
    f = figures_as_of([dose("prednisone", "10", 1, 5), dose("prednisone", "0", 6, 10)], 20, 10)
    assert f.observed_days == 10
    assert f.missing_days == 0
    assert f.cumulative_mg == pytest.approx(50.0)
    assert f.cumulative_reduction_pct == pytest.approx(75.0)


def test_days_after_the_last_record_are_missing():
    f = figures_as_of([dose("prednisone", "10", 1, 30)], 10, 40)
    assert f.as_of_day == 40
    assert f.observed_days == 30
    assert f.missing_days == 10


def test_voided_record_changes_no_figure():
    base = [dose("prednisone", "10", 1, 20)]
    plain = figures_as_of(base, 20, 20)
    with_void = figures_as_of([*base, dose("prednisone", "60", 5, 9, voided=True)], 20, 20)
    assert with_void == plain


# --- 28-day window --------------------------------------------------------------------------

def test_window_covers_only_the_28_days_ending_at_as_of():
    # Days 1-12 at 40 mg, Days 13-40 at 10 mg: the window (13..40) sees only the 10 mg days.
    records = [dose("prednisone", "40", 1, 12), dose("prednisone", "10", 13)]
    f = figures_as_of(records, 20, 40)
    assert f.window_reduction_pct == pytest.approx(50.0)


def test_window_mean_is_over_observed_days_only():
    # Window Days 13..40: 14 observed days at 10 mg and 14 missing days.
    records = [dose("prednisone", "40", 1, 12), dose("prednisone", "10", 27, 40)]
    f = figures_as_of(records, 20, 40)
    assert f.window_reduction_pct == pytest.approx(50.0)


def test_window_with_13_observed_days_has_no_reduction():
    records = [dose("prednisone", "40", 1, 12), dose("prednisone", "10", 28, 40)]
    f = figures_as_of(records, 20, 40)
    assert f.window_reduction_pct is None


def test_window_with_exactly_14_observed_days_has_a_reduction():
    f = figures_as_of([dose("prednisone", "15", 1)], 20, 14)
    assert f.window_reduction_pct == pytest.approx(25.0)


def test_window_is_clipped_at_day1_so_day_13_has_too_few_days():
    f = figures_as_of([dose("prednisone", "15", 1)], 20, 13)
    assert f.window_reduction_pct is None


def test_window_never_reaches_into_the_run_in():
    # 30 run-in days and 10 days from Day 1: only 10 days count, fewer than 14.
    f = figures_as_of([dose("prednisone", "15", -30)], 20, 10)
    assert f.window_reduction_pct is None


# --- Cumulative figures ---------------------------------------------------------------------

def test_cumulative_dose_sums_every_drug_in_prednisone_equivalents():
    records = [dose("prednisone", "10", 1, 10), dose("dexamethasone", "0.75", 1, 10),
               dose("hydrocortisone", "10", 1, 10, frequency="BID")]
    f = figures_as_of(records, 20, 10)
    assert f.cumulative_mg == pytest.approx(10 * (10 + 5 + 5))


def test_scheduled_cumulative_skips_missing_days():
    steps = schedule((6, 10))
    f = figures_as_of([dose("prednisone", "20", 1, 3), dose("prednisone", "10", 8, 10)], 20, 10,
                      steps)
    assert f.scheduled_cumulative_mg == pytest.approx(3 * 20 + 3 * 10)


def test_cumulative_reduction_and_spared_on_schedule_qod():
    f = figures_as_of([dose("prednisone", "20", 1, 10, frequency="QOD")], 20, 10)
    assert f.cumulative_mg == pytest.approx(100.0)
    assert f.cumulative_reduction_pct == pytest.approx(50.0)
    assert f.spared_mg == pytest.approx(100.0)


def test_cumulative_reduction_is_none_when_no_day_is_observed():
    f = figures_as_of([], 20, 10)
    assert f.observed_days == 0
    assert f.missing_days == 10
    assert f.cumulative_mg == 0.0
    assert f.cumulative_reduction_pct is None
    assert f.spared_mg == 0.0


def test_as_of_before_day1_has_no_counted_day_and_no_cumulative_reduction():
    f = figures_as_of([dose("prednisone", "25", -20)], 20, -3)
    assert f.as_of_day == -3
    assert f.observed_days == 0
    assert f.missing_days == 0
    assert f.cumulative_mg == 0.0
    assert f.cumulative_reduction_pct is None
    assert f.actual_mg is None
    assert f.reduction_pct is None
    assert f.window_reduction_pct is None
    assert f.scheduled_mg == 20.0
    assert f.target.status == "pending"
    assert f.target.window_reduction_pct is None


# --- Deviations -----------------------------------------------------------------------------

def test_dose_on_schedule_is_not_a_deviation():
    f = figures_as_of([dose("prednisone", "20", 1, 7), dose("prednisone", "15", 8)], 20, 14,
                      schedule((8, 15)))
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)
    assert f.episodes == ()


def test_staying_on_baseline_after_a_step_is_a_deviation_above():
    f = figures_as_of([dose("prednisone", "20", 1)], 20, 14, schedule((8, 15)))
    assert f.deviation_days_above == 7
    assert f.episodes == (DeviationEpisode("above", 8, 14),)
    assert f.last_status == "above"


def test_tapering_faster_than_scheduled_is_a_deviation_below():
    f = figures_as_of([dose("prednisone", "10", 1)], 20, 5)
    assert f.deviation_days_below == 5
    assert f.episodes == (DeviationEpisode("below", 1, 5),)


# Hydrocortisone (factor 1/4) gives PEQ doses finer than a microgram: 44.002 mg is 11.0005 mg.
@pytest.mark.parametrize(("hydrocortisone_mg", "above", "below"), [
    ("44", 0, 0),          # 11 mg PEQ, exactly S + tol: not above
    ("44.002", 0, 0),      # 11.0005: within the 0.001 mg rounding allowance
    ("44.008", 1, 0),      # 11.002: beyond the allowance
    ("36", 0, 0),          # 9 mg PEQ, exactly S - tol: not below
    ("35.998", 0, 0),      # 8.9995
    ("35.992", 0, 1),      # 8.998
])
def test_tolerance_mg_and_the_rounding_allowance_decide_a_deviation(hydrocortisone_mg, above,
                                                                      below):
    settings = FigureSettings(tolerance_mg=Decimal(1))
    f = figures_as_of([dose("hydrocortisone", hydrocortisone_mg, 1, 1)], 10, 1,
                      settings=settings)
    assert (f.deviation_days_above, f.deviation_days_below) == (above, below)


@pytest.mark.parametrize(("scheduled", "hydrocortisone_mg"), [
    ("10", "40.002"),      # 10.0005 mg PEQ
    ("10", "39.998"),      # 9.9995
    ("7.5", "30.003"),     # 7.50075
])
def test_a_difference_within_0_001_mg_is_not_a_deviation_without_tolerance(scheduled,
                                                                           hydrocortisone_mg):
    f = figures_as_of([dose("hydrocortisone", hydrocortisone_mg, 1, 1)], scheduled, 1)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)


def test_dexamethasone_rounding_to_the_scheduled_microgram_is_not_a_deviation():
    # 4 mg dexamethasone is 26.6667 mg PEQ; a schedule stored to the microgram says 26.667.
    f = figures_as_of([dose("dexamethasone", "4", 1, 3)], "26.667", 3)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)


@pytest.mark.parametrize("scheduled", ["10", "20", "64.5", "0.75", "1999.999"])
def test_an_exact_0_001_mg_difference_is_within_the_rounding_allowance_at_any_dose(scheduled):
    over = str(Decimal(scheduled) + Decimal("0.001"))
    under = str(Decimal(scheduled) - Decimal("0.001"))
    records = [dose("prednisone", over, 1, 1), dose("prednisone", under, 2, 2)]
    f = figures_as_of(records, scheduled, 2)
    assert (f.deviation_days_above, f.deviation_days_below) == (0, 0)


def test_missing_days_are_never_deviations():
    f = figures_as_of([dose("prednisone", "20", 1, 2)], 20, 14, schedule((2, 10)))
    assert f.deviation_days_above == 1
    assert f.observed_days == 2


def test_deviation_episodes_end_at_a_missing_day_and_at_a_change_of_direction():
    # S = B = 10 throughout. Days: 1-3 above, 4 missing, 5 above, 6-7 below, 8 on, 9 above.
    records = [
        dose("prednisone", "12", 1, 3),
        dose("prednisone", "12", 5, 5),
        dose("prednisone", "8", 6, 7),
        dose("prednisone", "10", 8, 8),
        dose("prednisone", "12", 9, 9),
    ]
    f = figures_as_of(records, 10, 9)
    assert f.episodes == (
        DeviationEpisode("above", 1, 3),
        DeviationEpisode("above", 5, 5),
        DeviationEpisode("below", 6, 7),
        DeviationEpisode("above", 9, 9),
    )
    assert f.deviation_days_above == 5
    assert f.deviation_days_below == 2
    assert [e.days for e in f.episodes] == [3, 1, 2, 1]


def test_deviation_episodes_of_a_plain_array():
    assert deviation_episodes(np.array([0, 1, 1, -1, 0, -1], dtype=np.int8)) == [
        DeviationEpisode("above", 2, 3),
        DeviationEpisode("below", 4, 4),
        DeviationEpisode("below", 6, 6),
    ]
    assert deviation_episodes(np.array([], dtype=np.int8)) == []


# --- Days to target dose --------------------------------------------------------------------

def test_days_to_target_dose_is_the_first_day_at_or_below_the_target():
    records = [dose("prednisone", "20", 1, 9), dose("prednisone", "7.5", 10, 12),
               dose("prednisone", "10", 13)]
    f = figures_as_of(records, 20, 20, settings=FigureSettings(target_dose_mg=Decimal("7.5")))
    assert f.days_to_target_dose == 10


def test_days_to_target_dose_is_none_until_the_target_is_reached():
    f = figures_as_of([dose("prednisone", "10", 1)], 20, 20,
                      settings=FigureSettings(target_dose_mg=Decimal("7.5")))
    assert f.days_to_target_dose is None


def test_days_to_target_dose_is_none_when_the_protocol_sets_no_target_dose():
    f = figures_as_of([dose("prednisone", "0", 1)], 20, 20)
    assert f.days_to_target_dose is None


def test_days_to_target_dose_ignores_the_run_in_and_missing_days():
    records = [dose("prednisone", "5", -10, -1), dose("prednisone", "20", 1, 3),
               dose("prednisone", "7", 6)]
    f = figures_as_of(records, 20, 10, settings=FigureSettings(target_dose_mg=Decimal("7.5")))
    assert f.days_to_target_dose == 6


def test_days_to_target_dose_allows_the_rounding_of_0_001_mg():
    # 30.002 mg hydrocortisone is 7.5005 mg PEQ.
    f = figures_as_of([dose("hydrocortisone", "30.002", 1)], 20, 3,
                      settings=FigureSettings(target_dose_mg=Decimal("7.5")))
    assert f.days_to_target_dose == 1


# --- Reduction target (§5.1) ----------------------------------------------------------------

def test_target_met_when_the_window_at_target_day_reaches_the_target_reduction():
    f = figures_as_of([dose("prednisone", "10", 1)], 20, 183)
    assert f.target.status == "met"
    assert f.target.day == 183
    assert f.target.window_reduction_pct == pytest.approx(50.0)


def test_target_not_met_when_the_window_at_target_day_is_below_the_target():
    f = figures_as_of([dose("prednisone", "12", 1)], 20, 183)
    assert f.target.status == "not_met"
    assert f.target.window_reduction_pct == pytest.approx(40.0)


def test_target_not_evaluable_with_fewer_than_14_observed_days_in_the_window():
    # Window Days 156..183: only Days 171..183 (13 days) are observed.
    records = [dose("prednisone", "10", 1, 150), dose("prednisone", "10", 171, 183)]
    f = figures_as_of(records, 20, 183)
    assert f.target.status == "not_evaluable"
    assert f.target.window_reduction_pct is None


def test_target_is_pending_before_the_target_day_and_shows_the_figure_so_far():
    f = figures_as_of([dose("prednisone", "15", 1)], 20, 100)
    assert f.target.status == "pending"
    assert f.target.window_reduction_pct == pytest.approx(25.0)


def test_target_status_after_the_target_day_is_judged_at_the_target_day():
    records = [dose("prednisone", "10", 1, 183), dose("prednisone", "20", 184)]
    f = figures_as_of(records, 20, 250)
    assert f.target.status == "met"
    assert f.target.window_reduction_pct == pytest.approx(50.0)
    assert f.window_reduction_pct == pytest.approx(0.0)


def test_target_settings_come_from_the_protocol():
    settings = FigureSettings(target_reduction_pct=Decimal(30), target_day=84)
    f = figures_as_of([dose("prednisone", "13", 1)], 20, 84, settings=settings)
    assert f.target.day == 84
    assert f.target.reduction_pct == Decimal(30)
    assert f.target.status == "met"


def test_target_met_when_the_exact_window_reduction_equals_the_target_despite_float_sums():
    # A mean of exactly 10 mg from doses that are not exact binary fractions.
    records = [dose("prednisone", "9.9", d, d) if d % 2 else dose("prednisone", "10.1", d, d)
               for d in range(156, 184)]
    f = figures_as_of(records, 20, 183)
    assert f.target.status == "met"
