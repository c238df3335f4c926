"""The schedule preview chart (reports/schedule_chart.py): a plain matplotlib figure."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from taper_app.domain.schedule import ScheduleStep
from taper_app.reports import schedule_chart
from taper_app.reports.schedule_chart import draw_schedule, schedule_figure, schedule_points


def steps(*pairs: tuple[int, str], seq: int | None = None) -> list[ScheduleStep]:
    return [ScheduleStep(day, Decimal(mg), seq) for day, mg in pairs]


def test_the_line_holds_the_baseline_until_the_first_step():
    days, doses = schedule_points(steps((29, "16"), (43, "13")), Decimal(20))
    assert days == [1, 29, 43, 71] and doses == [20.0, 16.0, 13.0, 13.0]


def test_a_step_on_day_1_replaces_the_baseline():
    days, doses = schedule_points(steps((1, "10")), Decimal(20))
    assert days == [1, 29] and doses == [10.0, 10.0]


def test_the_figure_draws_the_schedule_and_marks_amendments():
    figure = schedule_figure()
    draw_schedule(figure, steps((29, "16")) + steps((50, "20"), seq=1), Decimal(20))
    [ax] = figure.axes
    line, amended = ax.get_lines()
    assert list(line.get_ydata()) == [20.0, 16.0, 20.0, 20.0]
    assert list(amended.get_xdata()) == [50]
    figure.canvas.draw()  # renders without a window (Agg)


def test_without_a_baseline_the_chart_says_what_it_needs():
    figure = schedule_figure()
    [ax] = figure.axes
    assert "baseline" in ax.texts[0].get_text()


def test_the_chart_module_imports_no_qt():
    tree = ast.parse(Path(schedule_chart.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("Qt" in (m or "") or "PySide" in (m or "") or "pyplot" in (m or "")
                   for m in imported)
