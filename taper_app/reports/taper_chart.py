"""The taper charts as matplotlib Figures (no Qt): the window and the PDFs draw the same.

Colours follow the Okabe-Ito palette (readable with colour-blind vision) and every series
also differs by line style or hatch, so a grey printout still tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..domain.figures import FigureSettings
from ..domain.studyday import study_day
from ..services.figures import PatientAnalysis

ACTUAL = "#0072B2"      # blue
SCHEDULED = "#333333"   # near black, dashed
ABOVE = "#E69F00"       # orange, hatched ///
BELOW = "#56B4E9"       # sky blue, hatched \\\\
PULSE = "#D55E00"       # vermillion
TARGET = "#009E73"      # bluish green
BASELINE = "#999999"    # grey
MISSING = "#BBBBBB"


@dataclass(frozen=True)
class ChartArtists:
    """Named handles on what was drawn, so tests and the hover read-out can find them."""

    actual: object
    scheduled: object
    daily_reduction: object
    window_reduction: object
    cumulative: object
    scheduled_cumulative: object
    baseline_cumulative: object


def _date_axis(ax: object, analysis: PatientAnalysis) -> None:
    day1 = analysis.record.day1_date

    def label(x: float, _pos: int) -> str:
        day = round(x)
        offset = day - 1 if day > 0 else day
        return (day1 + timedelta(days=offset)).strftime("%d %b %y")

    top = ax.secondary_xaxis("top")  # type: ignore[attr-defined]
    top.xaxis.set_major_formatter(FuncFormatter(label))
    top.tick_params(labelsize=7, colors="#555555")


def taper_figure(analysis: PatientAnalysis, settings: FigureSettings,
                 figure: Figure | None = None) -> tuple[Figure, ChartArtists]:
    """Three panels sharing the study-day axis: dose, % reduction, cumulative dose."""
    fig = figure if figure is not None else Figure(figsize=(10, 7.5), layout="constrained")
    fig.clear()
    ax_dose, ax_red, ax_cum = fig.subplots(3, 1, sharex=True,
                                           gridspec_kw={"height_ratios": [3, 2, 2]})
    c = analysis.curves
    rec = analysis.record
    days = c.study_days
    baseline = float(rec.baseline_mg)

    # --- panel 1: actual vs scheduled daily dose
    actual_line, = ax_dose.step(days, c.actual, where="mid", color=ACTUAL, lw=1.8,
                                label="actual (mg PEQ/day)")
    sched_line, = ax_dose.step(days, c.scheduled, where="mid", color=SCHEDULED, lw=1.2,
                               ls="--", label="scheduled")
    above = c.deviation > 0
    below = c.deviation < 0
    if above.any():
        ax_dose.fill_between(days, c.scheduled, c.actual, where=above, step="mid",
                             facecolor=ABOVE, alpha=0.45, hatch="///", edgecolor=ABOVE, lw=0,
                             label="above schedule")
    if below.any():
        ax_dose.fill_between(days, c.actual, c.scheduled, where=below, step="mid",
                             facecolor=BELOW, alpha=0.45, hatch="\\\\\\", edgecolor=BELOW,
                             lw=0, label="below schedule")
    for n, (first, last) in enumerate(analysis.gaps):
        d0, d1 = study_day(first, rec.day1_date), study_day(last, rec.day1_date)
        for ax in (ax_dose, ax_red, ax_cum):
            ax.axvspan(d0 - 0.5, d1 + 0.5, facecolor="none", edgecolor=MISSING, hatch="xx",
                       lw=0, label="missing days" if (n == 0 and ax is ax_dose) else None)
    finite = c.actual[np.isfinite(c.actual)]
    pulses = [d for d in rec.valid_doses if d.frequency == "ONCE"
              and rec.day1_date <= d.start_date <= analysis.series.as_of]
    candidates = [baseline]
    if days.size:
        candidates.append(float(c.scheduled.max()))
    if finite.size:
        candidates.append(float(np.percentile(finite, 98)))  # a pulse must not flatten the rest
    regular_max = max(candidates)
    top = regular_max * 1.35 + 1
    ax_dose.set_ylim(0, top)
    for n, p in enumerate(pulses):
        day = study_day(p.start_date, rec.day1_date)
        ax_dose.plot([day], [top * 0.93], marker="v", ms=9, color=PULSE, ls="none",
                     label="one-off dose (pulse)" if n == 0 else None)
        ax_dose.annotate(f"{p.drug} {p.dose_mg} mg {p.route}", (day, top * 0.93),
                         xytext=(4, -2), textcoords="offset points", fontsize=7, color=PULSE,
                         va="top")
    last_day = float(days[-1]) if days.size else 1.0
    for a in rec.amendments:
        right_half = a.day > 0.6 * last_day
        reason = a.reason if len(a.reason) <= 48 else a.reason[:47] + "…"
        ax_dose.axvline(a.day, color=PULSE, lw=1, ls=":")
        ax_dose.annotate(f"amended from day {a.day}: {a.dose_mg} mg\n{reason}",
                         (a.day, top * 0.80), xytext=(-4 if right_half else 4, 0),
                         textcoords="offset points", fontsize=7, color="#7a3300", va="top",
                         ha="right" if right_half else "left")
    ax_dose.set_ylabel("mg PEQ / day")
    ax_dose.set_title(f"{rec.subject_id} (site {rec.site}) - baseline {rec.baseline_mg} mg/day, "
                      f"template {rec.template_id}", fontsize=10, loc="left")
    ax_dose.legend(loc="lower left", fontsize=7, ncols=3, framealpha=0.85)
    ax_dose.grid(alpha=0.3)

    # --- panel 2: % reduction from baseline
    daily_line, = ax_red.plot(days, c.reduction_pct, color=ACTUAL, lw=0.8, alpha=0.6,
                              label="daily % reduction")
    window_line, = ax_red.plot(days, c.window_reduction_pct, color=ACTUAL, lw=2.2,
                               label="28-day window % reduction")
    target_pct = float(settings.target_reduction_pct)
    ax_red.axhline(target_pct, color=TARGET, lw=1.2, ls="-.",
                   label=f"target {target_pct:g}% by day {settings.target_day}")
    ax_red.axvline(settings.target_day, color=TARGET, lw=1, ls=":")
    t = analysis.figures.target
    status = t.status.replace("_", " ")
    figure_text = "-" if t.window_reduction_pct is None else f"{t.window_reduction_pct:.1f}%"
    ax_red.annotate(f"day {t.day}: {status} ({figure_text})", (settings.target_day, target_pct),
                    xytext=(5, 6), textcoords="offset points", fontsize=8, color=TARGET)
    finite_red = c.reduction_pct[np.isfinite(c.reduction_pct)]
    low = min(-10.0, float(finite_red.min()) - 5) if finite_red.size else -10.0
    ax_red.set_ylim(max(low, -100.0), 105)
    ax_red.set_ylabel("% reduction")
    ax_red.legend(loc="lower right", fontsize=7, framealpha=0.85)
    ax_red.grid(alpha=0.3)

    # --- panel 3: cumulative dose
    covered = np.isfinite(c.actual)
    baseline_cum = np.cumsum(np.where(covered, baseline, 0.0))
    cum_line, = ax_cum.plot(days, c.cumulative, color=ACTUAL, lw=1.8, label="cumulative actual")
    sched_cum_line, = ax_cum.plot(days, c.scheduled_cumulative, color=SCHEDULED, lw=1.2,
                                  ls="--", label="cumulative scheduled")
    base_line, = ax_cum.plot(days, baseline_cum, color=BASELINE, lw=1.2, ls=":",
                             label="baseline continued")
    ax_cum.fill_between(days, c.cumulative, baseline_cum, where=baseline_cum >= c.cumulative,
                        facecolor=TARGET, alpha=0.15, label="steroid spared")
    spared = analysis.figures.spared_mg
    if days.size:
        words = f"spared {spared:,.1f} mg" if spared >= 0 else f"{-spared:,.1f} mg above baseline"
        ax_cum.annotate(words, (days[-1], (baseline_cum[-1]
                        + c.cumulative[-1]) / 2), xytext=(-5, 0), textcoords="offset points",
                        ha="right", fontsize=8, color="#00573f")
    ax_cum.set_ylabel("cumulative mg PEQ")
    ax_cum.set_xlabel("study day")
    ax_cum.legend(loc="upper left", fontsize=7, framealpha=0.85)
    ax_cum.grid(alpha=0.3)
    if days.size:
        ax_cum.set_xlim(min(0.5, float(days[0]) - 0.5), float(days[-1]) + 0.5)
    _date_axis(ax_dose, analysis)
    artists = ChartArtists(actual_line, sched_line, daily_line, window_line, cum_line,
                           sched_cum_line, base_line)
    return fig, artists


def dashboard_figure(analyses: Sequence[PatientAnalysis], settings: FigureSettings,
                     figure: Figure | None = None) -> Figure:
    """Every patient's 28-day window % reduction by study day; the median bold. Blinded."""
    fig = figure if figure is not None else Figure(figsize=(10, 5), layout="constrained")
    fig.clear()
    ax = fig.subplots()
    longest = max((a.curves.study_days.size for a in analyses), default=0)
    grid = np.full((len(analyses), longest), np.nan)
    for i, a in enumerate(analyses):
        values = a.curves.window_reduction_pct
        grid[i, : values.size] = values
        ax.plot(a.curves.study_days, values, color=ACTUAL, lw=0.6, alpha=0.35)
    if longest:
        counts = np.sum(np.isfinite(grid), axis=0)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(grid, axis=0)
        median[counts < 3] = np.nan
        ax.plot(np.arange(1, longest + 1), median, color="black", lw=2.5,
                label="median (3+ patients)")
    target_pct = float(settings.target_reduction_pct)
    ax.axhline(target_pct, color=TARGET, ls="-.", lw=1.2,
               label=f"target {target_pct:g}% by day {settings.target_day}")
    ax.axvline(settings.target_day, color=TARGET, ls=":", lw=1)
    ax.set_ylim(-50, 105)
    ax.set_xlabel("study day")
    ax.set_ylabel("28-day window % reduction")
    ax.set_title(f"% reduction from baseline, {len(analyses)} patients (thin: each patient)",
                 fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig
