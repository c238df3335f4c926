"""The schedule preview chart: scheduled dose (mg PEQ/day) against study day.

A plain matplotlib ``Figure`` (no pyplot, no Qt): the window shows it through its Qt
canvas, and a PDF report can draw the same figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from matplotlib.figure import Figure

from ..domain.schedule import ScheduleStep

#: Days drawn after the last step, so its dose reads as a level and not a point.
TAIL_DAYS = 28
LINE_COLOUR = "#1565c0"
AMENDED_COLOUR = "#e65100"


def schedule_points(steps: Sequence[ScheduleStep], baseline_mg: Decimal,
                    tail_days: int = TAIL_DAYS) -> tuple[list[int], list[float]]:
    """Corner points of the schedule's step line from Day 1: baseline until the first step,
    then each step's dose from its day (drawn with ``where="post"``)."""
    ordered = sorted(steps, key=lambda s: s.day)
    days: list[int] = []
    doses: list[float] = []
    if not ordered or ordered[0].day > 1:
        days.append(1)
        doses.append(float(baseline_mg))
    for step in ordered:
        days.append(step.day)
        doses.append(float(step.dose_mg))
    days.append(days[-1] + tail_days)
    doses.append(doses[-1])
    return days, doses


def schedule_figure(width_in: float = 4.2, height_in: float = 2.4, dpi: int = 100) -> Figure:
    """An empty chart, sized for a dialog; fill it with :func:`draw_schedule`."""
    figure = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    draw_schedule(figure, [], None)
    return figure


def draw_schedule(figure: Figure, steps: Sequence[ScheduleStep], baseline_mg: Decimal | None,
                  title: str | None = None, highlight_seq: int | None = None) -> None:
    """Redraw ``figure`` with the schedule; with no baseline, an empty chart that says why.

    Steps made by amendments are marked with dots: all of them, or with ``highlight_seq``
    only those of that amendment (the one being previewed).
    """
    figure.clear()
    ax = figure.add_subplot()
    ax.set_xlabel("study day", fontsize=8)
    ax.set_ylabel("mg PEQ/day", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e0e0e0", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if baseline_mg is None:
        ax.text(0.5, 0.5, "enter a baseline dose to see the schedule", ha="center",
                va="center", fontsize=8, color="#757575", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    days, doses = schedule_points(steps, baseline_mg)
    ax.step(days, doses, where="post", color=LINE_COLOUR, linewidth=1.6)
    if highlight_seq is None:
        amended = [s for s in steps if s.amendment_seq is not None]
        label = "amended"
    else:
        amended = [s for s in steps if s.amendment_seq == highlight_seq]
        label = f"amendment {highlight_seq}"
    if amended:
        ax.plot([s.day for s in amended], [float(s.dose_mg) for s in amended], "o",
                color=AMENDED_COLOUR, markersize=4, label=label)
        ax.legend(fontsize=7, frameon=False, loc="upper right")
    ax.set_xlim(1, days[-1])
    ax.set_ylim(0, max(doses) * 1.1 or 1)
    if title:
        ax.set_title(title, fontsize=9)
