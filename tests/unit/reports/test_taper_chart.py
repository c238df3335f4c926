"""The taper charts plot the engine's numbers: read the artists' data back and compare."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from taper_app.reports.taper_chart import dashboard_figure, taper_figure
from taper_app.services.figures import analyse_all, analyse_patient
from taper_app.services.patients import amend_patient_schedule, enroll_patient, record_dose

AS_OF = date(2026, 7, 2)


@pytest.fixture
def patient(nurse, investigator, study):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-03-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    dose = {"drug": "prednisone", "frequency": "QD", "route": "PO", "source": "clinic"}
    record_dose(nurse, study, "101-001", {**dose, "dose_mg": "20", "start_date": "2026-03-01",
                                          "end_date": "2026-03-28"})
    # Days 29-35 missing (diary gap), then 18 mg: above the schedule's 16 mg.
    record_dose(nurse, study, "101-001", {**dose, "dose_mg": "18", "start_date": "2026-04-05",
                                          "end_date": "2026-04-30"})
    record_dose(nurse, study, "101-001", {**dose, "dose_mg": "10", "start_date": "2026-05-01"})
    record_dose(nurse, study, "101-001", {"drug": "methylprednisolone", "dose_mg": "500",
                                          "frequency": "ONCE", "route": "IV",
                                          "start_date": "2026-05-10"})
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "71", "dose_mg": "10", "reason": "Flare on two visits"})
    return analyse_patient(nurse.db, study, "101-001", AS_OF)


def _xy(line):
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_dose_panel_plots_actual_and_scheduled_series_of_the_engine(patient, study):
    _fig, art = taper_figure(patient, study.protocol.settings)
    x, y = _xy(art.actual)
    np.testing.assert_array_equal(x, patient.curves.study_days)
    np.testing.assert_allclose(y, patient.curves.actual, equal_nan=True)
    x, y = _xy(art.scheduled)
    np.testing.assert_allclose(y, patient.curves.scheduled)


def test_missing_days_are_gaps_in_the_line_never_zero(patient, study):
    _, art = taper_figure(patient, study.protocol.settings)
    x, y = _xy(art.actual)
    gap = (x >= 29) & (x <= 35)
    assert np.isnan(y[gap]).all()
    assert not (y[np.isfinite(y)] == 0).any()
    # and the gap is drawn as a hatched band
    hatched = [p for p in fig_axes(art)[0].patches if p.get_hatch() == "xxx"]
    assert hatched, "missing days need a hatched band"


def fig_axes(art):
    return art.actual.axes.figure.axes


def test_reduction_panel_plots_daily_and_window_reduction(patient, study):
    _, art = taper_figure(patient, study.protocol.settings)
    _, y = _xy(art.daily_reduction)
    np.testing.assert_allclose(y, patient.curves.reduction_pct, equal_nan=True)
    _, y = _xy(art.window_reduction)
    np.testing.assert_allclose(y, patient.curves.window_reduction_pct, equal_nan=True)
    last = np.asarray(art.window_reduction.get_ydata(), float)[-1]
    assert last == pytest.approx(patient.figures.window_reduction_pct)


def test_cumulative_panel_ends_at_the_reported_cumulative_dose(patient, study):
    _, art = taper_figure(patient, study.protocol.settings)
    _, cum = _xy(art.cumulative)
    _, sched = _xy(art.scheduled_cumulative)
    _, base = _xy(art.baseline_cumulative)
    assert cum[-1] == pytest.approx(patient.figures.cumulative_mg)
    assert sched[-1] == pytest.approx(patient.figures.scheduled_cumulative_mg)
    assert base[-1] - cum[-1] == pytest.approx(patient.figures.spared_mg)


def test_pulse_and_amendment_are_marked_with_their_text(patient, study):
    fig, _ = taper_figure(patient, study.protocol.settings)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "methylprednisolone 500 mg IV" in texts
    assert "Flare on two visits" in texts
    assert "amended from day 71" in texts


def test_dashboard_draws_one_line_per_patient_and_the_median(db, nurse, study, patient):
    analyses = analyse_all(db, study, AS_OF)
    fig = dashboard_figure(analyses, study.protocol.settings)
    ax = fig.axes[0]
    assert len(ax.lines) >= len(analyses) + 1
    labels = [line.get_label() for line in ax.lines]
    assert any(label.startswith("median") for label in labels)
