"""The taper charts plot the engine's numbers: read the artists' data back and compare."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest
from matplotlib.figure import Figure

from taper_app.reports.taper_chart import TaperChart, dashboard_figure, taper_figure
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


def one_dose_patient(nurse, study, subject: str, day1: str, *, baseline: str,
                     dose: str) -> None:
    """A patient at site 101 on stepdown-a with one ongoing daily prednisone record from
    Day 1."""
    enroll_patient(nurse, study, {"subject_id": subject, "site": "101", "day1_date": day1,
                                  "baseline_mg": baseline, "template_id": "stepdown-a"})
    record_dose(nurse, study, subject, {"drug": "prednisone", "frequency": "QD", "route": "PO",
                                        "dose_mg": dose, "start_date": day1})


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


def gap_band_days(ax) -> list[tuple[int, int]]:
    """The (first, last) study days of each hatched missing-days rectangle on ``ax``, each
    spanning the panel's full height (days are drawn as day ± 0.5). A rectangle per gap
    (files) or every gap in one band (the window)."""
    spans = []
    for band in ax.patches:
        if band.get_hatch() != "xxx":
            continue
        assert band.get_data_transform() == ax.get_xaxis_transform()  # x days, y axes
        path = band.get_patch_transform().transform_path(band.get_path())
        for polygon in path.to_polygons():
            xs, ys = polygon[:, 0], polygon[:, 1]
            assert ys.min() == 0 and ys.max() == 1
            spans.append((round(float(xs.min()) + 0.5), round(float(xs.max()) - 0.5)))
    return sorted(spans)


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


# ---------------------------------------------------------------- every point of the chart

def _study_days(first: date, last: date, day1: date) -> tuple[int, int]:
    from taper_app.domain.studyday import study_day

    return study_day(first, day1), study_day(last, day1)


def _shaded_days(collection) -> set[int]:
    """The study days a deviation collection covers (each polygon spans day ± 0.5)."""
    days: set[int] = set()
    for path in collection.get_paths():
        xs = path.vertices[:, 0]
        days |= set(range(round(float(xs.min()) + 0.5), round(float(xs.max()) - 0.5) + 1))
    return days


def _deviation_collections(fig):
    from matplotlib.collections import PolyCollection

    ax = fig.axes[0]
    return {c.get_label(): c for c in ax.collections if isinstance(c, PolyCollection)
            and c.get_label() in ("above schedule", "below schedule")}


def test_deviation_days_are_shaded_exactly_above_and_below(patient, study):
    fig, _ = taper_figure(patient, study.protocol.settings)
    shaded = _deviation_collections(fig)
    days = patient.curves.study_days
    above = set(days[patient.curves.deviation > 0].tolist())
    below = set(days[patient.curves.deviation < 0].tolist())
    assert above and below  # the fixture has both: 18 mg on 16, 10 mg on 13 before day 71
    assert _shaded_days(shaded["above schedule"]) == above
    assert _shaded_days(shaded["below schedule"]) == below
    assert len(above) == patient.figures.deviation_days_above
    assert len(below) == patient.figures.deviation_days_below
    # told apart without colour: different hatches
    assert shaded["above schedule"].get_hatch() != shaded["below schedule"].get_hatch()


def test_a_single_deviation_day_is_shaded_too(nurse, study):
    enroll_patient(nurse, study, {"subject_id": "101-009", "site": "101",
                                  "day1_date": "2026-06-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    dose = {"drug": "prednisone", "frequency": "QD", "route": "PO"}
    record_dose(nurse, study, "101-009", {**dose, "dose_mg": "20", "start_date": "2026-06-01",
                                          "end_date": "2026-06-09"})
    record_dose(nurse, study, "101-009", {**dose, "dose_mg": "25", "start_date": "2026-06-10",
                                          "end_date": "2026-06-10"})
    record_dose(nurse, study, "101-009", {**dose, "dose_mg": "20", "start_date": "2026-06-11",
                                          "end_date": "2026-06-20"})
    analysis = analyse_patient(nurse.db, study, "101-009", date(2026, 6, 20))
    fig, _ = taper_figure(analysis, study.protocol.settings)
    assert _shaded_days(_deviation_collections(fig)["above schedule"]) == {10}


def test_every_gap_is_a_hatched_band_on_all_three_panels(patient, study):
    fig, art = taper_figure(patient, study.protocol.settings)
    gaps = [_study_days(first, last, patient.record.day1_date) for first, last in patient.gaps]
    assert gaps == [(29, 35)]
    for ax in fig.axes[:3]:
        assert gap_band_days(ax) == gaps
    window = TaperChart(Figure(), fixed_margins=True)  # the window: every gap in one band
    window.draw(patient, study.protocol.settings)
    for ax in window.figure.axes[:3]:
        assert gap_band_days(ax) == gaps
    # and in the lines the gap is NaN, never zero: daily dose and daily reduction
    for line in (art.actual, art.daily_reduction):
        x, y = _xy(line)
        assert np.isnan(y[(x >= 29) & (x <= 35)]).all()
        assert np.isfinite(y[(x < 29) | (x > 35)]).all()


def test_a_lone_observed_day_between_gaps_gets_a_mark(nurse, study):
    enroll_patient(nurse, study, {"subject_id": "101-010", "site": "101",
                                  "day1_date": "2026-06-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    dose = {"drug": "prednisone", "frequency": "QD", "route": "PO"}
    for start, end in (("2026-06-01", "2026-06-05"), ("2026-06-08", "2026-06-08"),
                       ("2026-06-11", "2026-06-15")):
        record_dose(nurse, study, "101-010", {**dose, "dose_mg": "20", "start_date": start,
                                              "end_date": end})
    analysis = analyse_patient(nurse.db, study, "101-010", date(2026, 6, 15))
    fig, _ = taper_figure(analysis, study.protocol.settings)
    lone = [line for line in fig.axes[0].lines if line.get_label() == "_lone day"]
    assert len(lone) == 1
    assert list(lone[0].get_xdata()) == [8] and list(lone[0].get_ydata()) == [20.0]


def test_the_schedule_ahead_runs_to_the_target_day_from_the_stored_schedule(patient, study):
    from taper_app.domain.schedule import scheduled_doses

    settings = study.protocol.settings
    _, art = taper_figure(patient, settings)
    x, y = _xy(art.schedule_ahead)
    last = int(patient.curves.study_days[-1])
    assert x[0] == last and x[-1] == settings.target_day
    np.testing.assert_allclose(y, scheduled_doses(patient.record.steps,
                                                  float(patient.record.baseline_mg),
                                                  x.astype(int)))
    assert y[0] == patient.curves.scheduled[-1]


def test_target_line_is_labelled_with_its_percent_day_and_pending_status(patient, study):
    settings = study.protocol.settings
    fig, _ = taper_figure(patient, settings)
    red = fig.axes[1]
    horizontal = [line for line in red.lines if line.get_label() == "protocol target"]
    assert [list(line.get_ydata()) for line in horizontal] == [[50.0, 50.0]]
    texts = " ".join(t.get_text() for t in red.texts)
    assert "target ≥ 50 % by day 183" in texts
    assert patient.figures.target.status == "pending"
    so_far = patient.figures.target.window_reduction_pct
    assert f"pending: 28-day {so_far:.1f} % on day 124" in texts


def test_the_status_at_the_target_day_is_marked_when_it_is_known(nurse, study):
    one_dose_patient(nurse, study, "101-011", "2025-12-01", baseline="20", dose="8")
    analysis = analyse_patient(nurse.db, study, "101-011", AS_OF)
    target = analysis.figures.target
    assert target.status == "met" and target.window_reduction_pct == pytest.approx(60.0)
    fig, _ = taper_figure(analysis, study.protocol.settings)
    red = fig.axes[1]
    assert "day 183: met (60.0 %)" in " ".join(t.get_text() for t in red.texts)
    [marker] = [line for line in red.lines if line.get_marker() == "D"]
    assert list(marker.get_xdata()) == [183]
    assert list(marker.get_ydata()) == [pytest.approx(target.window_reduction_pct)]


def test_the_spared_area_is_between_baseline_continued_and_actual_and_labelled(patient, study):
    fig, art = taper_figure(patient, study.protocol.settings)
    cum_ax = fig.axes[2]
    spared = [c for c in cum_ax.collections if c.get_label() == "steroid spared"]
    assert len(spared) == 1
    _, base = _xy(art.baseline_cumulative)
    _, cum = _xy(art.cumulative)
    # at the last day the shaded region reaches from the actual to the baseline continued,
    # and that height is the spared figure
    vertices = np.concatenate([p.vertices for p in spared[0].get_paths()])
    at_end = vertices[np.isclose(vertices[:, 0], 124), 1]
    assert at_end.min() == pytest.approx(cum[-1]) and at_end.max() == pytest.approx(base[-1])
    assert at_end.max() - at_end.min() == pytest.approx(patient.figures.spared_mg)
    texts = " ".join(t.get_text() for t in cum_ax.texts)
    assert f"steroid spared (shaded): {patient.figures.spared_mg:,.1f} mg by day 124" in texts
    legend = [t.get_text() for t in cum_ax.get_legend().get_texts()]
    assert "steroid spared" in legend and "baseline continued" in legend


def test_the_pulse_is_a_marker_and_its_day_total_is_the_engines(patient, study):
    fig, _ = taper_figure(patient, study.protocol.settings)
    dose_ax = fig.axes[0]
    markers = [line for line in dose_ax.lines if line.get_marker() == "v"
               and line.get_label().startswith("_")]
    assert [list(m.get_xdata()) for m in markers] == [[71]]
    total = patient.curves.actual[70]  # day 71: 500 mg methylprednisolone x 1.25 + 10 mg
    assert total == pytest.approx(635.0)
    texts = " ".join(t.get_text() for t in dose_ax.texts)
    assert "day 71: 635 mg PEQ (off scale)" in texts
    assert dose_ax.get_ylim()[1] < total  # the pulse does not flatten the taper


def test_amendments_are_marked_on_every_panel(patient, study):
    fig, _ = taper_figure(patient, study.protocol.settings)
    for ax in fig.axes[:3]:
        verticals = [line for line in ax.lines if list(line.get_xdata()) == [71, 71]]
        assert verticals, ax


def test_redrawing_in_place_shows_only_the_new_patient(patient, nurse, study):
    from matplotlib.figure import Figure

    from taper_app.reports.taper_chart import TaperChart

    one_dose_patient(nurse, study, "101-002", "2026-05-01", baseline="10", dose="10")
    other = analyse_patient(nurse.db, study, "101-002", AS_OF)
    figure = Figure()
    chart = TaperChart(figure, fixed_margins=True)
    axes = list(figure.axes)
    chart.draw(patient, study.protocol.settings)
    art = chart.draw(other, study.protocol.settings)
    assert list(figure.axes) == axes  # the same axes, drawn again
    _, y = _xy(art.actual)
    np.testing.assert_allclose(y, other.curves.actual)
    fresh, _ = taper_figure(other, study.protocol.settings)
    for mine, theirs in zip(figure.axes[:3], fresh.axes[:3], strict=True):
        assert len(mine.patches) == len(theirs.patches) == 0  # no gaps left over
        assert sorted(t.get_text() for t in mine.texts) == sorted(
            t.get_text() for t in theirs.texts)
        assert len(mine.collections) == len(theirs.collections)
    figure.canvas.draw()


def test_the_hover_read_out_gives_the_engines_numbers(patient):
    from taper_app.reports.taper_chart import day_readout

    r = day_readout(patient, 40.2)
    assert r is not None and r.day == 40 and r.date == date(2026, 4, 9)
    assert r.actual_mg == patient.curves.actual[39] == 18.0
    assert r.scheduled_mg == patient.curves.scheduled[39]
    assert r.reduction_pct == pytest.approx(patient.curves.reduction_pct[39])
    assert r.window_reduction_pct == pytest.approx(patient.curves.window_reduction_pct[39])
    gap = day_readout(patient, 30)
    assert gap is not None and gap.actual_mg is None and gap.reduction_pct is None
    assert day_readout(patient, 0.2) is None
    assert day_readout(patient, 124.4) is not None and day_readout(patient, 125) is None


def test_the_chart_module_imports_no_qt():
    import ast
    from pathlib import Path

    from taper_app.reports import taper_chart

    tree = ast.parse(Path(taper_chart.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("qt" in (m or "").lower() or "PySide" in (m or "") or "pyplot" in (m or "")
                   for m in imported)


@pytest.mark.parametrize("as_of", [date(2026, 6, 30), date(2026, 7, 2)])
def test_a_patient_without_figures_yet_draws_an_empty_chart(nurse, study, as_of):
    """Before Day 1 (no study days) or on Day 1 with nothing recorded (one missing day)."""
    from matplotlib.figure import Figure

    from taper_app.reports.taper_chart import TaperChart, day_readout

    enroll_patient(nurse, study, {"subject_id": "101-012", "site": "101",
                                  "day1_date": "2026-07-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    analysis = analyse_patient(nurse.db, study, "101-012", as_of)
    chart = TaperChart(Figure(), fixed_margins=True)
    art = chart.draw(analysis, study.protocol.settings)
    _, y = _xy(art.actual)
    assert y.size == analysis.curves.study_days.size and np.isnan(y).all()
    x, _ = _xy(art.schedule_ahead)
    assert x[-1] == study.protocol.settings.target_day
    assert day_readout(analysis, 1) is None or day_readout(analysis, 1).actual_mg is None
    chart.figure.canvas.draw()


def _render(chart, analyses, settings, corners=None):
    for analysis in analyses:
        chart.draw(analysis, settings)
        if corners is not None:
            for snapshot, corner in zip(chart.legends, corners, strict=True):
                snapshot.corner = corner
                snapshot.legend.set_loc(corner)
        chart.figure.canvas.draw()
    return np.asarray(chart.figure.canvas.buffer_rgba())[..., :3].astype(int)


def test_legends_drawn_from_their_pixels_look_as_drawn_for_real(patient, nurse, study):
    """In the window the legends are put back from their first pixels: the chart must look
    the same as one drawn from scratch, and the data next to the legends must be new."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from taper_app.reports.taper_chart import TaperChart

    one_dose_patient(nurse, study, "101-002", "2026-01-10", baseline="10", dose="12")
    other = analyse_patient(nurse.db, study, "101-002", AS_OF)
    settings = study.protocol.settings

    def chart() -> TaperChart:
        figure = Figure(figsize=(7.2, 4.5), dpi=100)
        FigureCanvasAgg(figure)
        made = TaperChart(figure, fixed_margins=True)
        made.fit_margins()
        return made

    switched = chart()
    reused = _render(switched, [patient, other], settings)
    corners = [s.corner for s in switched.legends]
    fresh = chart()
    drawn = _render(fresh, [other], settings, corners)  # the first draw is always real
    height = drawn.shape[0]
    near_legends = np.zeros(drawn.shape[:2], bool)
    for snapshot in fresh.legends:
        frame = snapshot.legend.legendPatch.get_window_extent()
        near_legends[int(height - frame.y1) - 2:int(height - frame.y0) + 3,
                     int(frame.x0) - 2:int(frame.x1) + 3] = True
        box = (slice(int(height - frame.y1), int(height - frame.y0)),
               slice(int(frame.x0), int(frame.x1)))
        # the same picture, up to where within a pixel the text falls (half a pixel moves
        # every anti-aliased edge): compare it blurred
        a, b = reused[box], drawn[box]
        h, w = (a.shape[0] // 4) * 4, (a.shape[1] // 4) * 4
        blur = [m[:h, :w].reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3)) for m in (a, b)]
        assert np.abs(blur[0] - blur[1]).mean() < 10
    assert (reused[~near_legends] == drawn[~near_legends]).all()
    assert not (_render(chart(), [patient], settings) == drawn).all()  # not a blank test


# ---------------------------------------------------------------- public API only

def _window_chart(figsize=(7.2, 4.5)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    chart = TaperChart(figure, fixed_margins=True)
    chart.fit_margins()
    return chart


def _pixels(chart):
    chart.figure.canvas.draw()
    return np.asarray(chart.figure.canvas.buffer_rgba())[..., :3].astype(int)


def test_the_window_chart_replaces_no_matplotlib_method(patient, nurse, study):
    """The window's chart draws through matplotlib's own Figure, Axis and Legend draws:
    nothing is patched on an instance, and the legends are animated artists blitted back
    (the second draw puts back their kept pixels)."""
    settings = study.protocol.settings
    chart = _window_chart()
    chart.draw(patient, settings)
    patched = [obj for obj in (chart.figure, *chart.figure.axes,
                               *(axis for ax in chart.figure.axes
                                 for axis in (ax.xaxis, ax.yaxis)),
                               *(s.legend for s in chart.legends))
               if "draw" in vars(obj)]
    assert patched == []
    assert all(s.legend.get_animated() for s in chart.legends)
    _pixels(chart)
    assert [s.reused for s in chart.legends] == [0, 0, 0]  # the first draw is real
    second = _pixels(chart)
    assert [s.reused for s in chart.legends] == [1, 1, 1]
    assert (_pixels(chart) == second).all()  # from the kept pixels: the same every time
    for snapshot in chart.legends:
        snapshot.legend.set_visible(False)
    assert not (_pixels(chart) == second).all()  # not a blank test: the legends are drawn


def test_files_draw_the_real_legends_and_text(patient, study):
    """A saved file is drawn by matplotlib alone: the legends once each, as text."""
    chart = _window_chart()
    chart.draw(patient, study.protocol.settings)
    _pixels(chart)
    out = io.BytesIO()
    chart.figure.savefig(out, format="svg")
    svg = out.getvalue()
    assert b"study day (dates on top)" in svg
    assert svg.count(b"baseline continued") == 1 and svg.count(b"28-day window") == 1
    assert [s.reused for s in chart.legends] == [0, 0, 0]
    fig, _ = taper_figure(patient, study.protocol.settings)
    assert "draw" not in vars(fig)

