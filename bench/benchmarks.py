"""Every benchmark of docs/performance.md, each beside a baseline measured in the same run.

In-process: patient switch, saving a dose, ``summary --json``, the PDFs. In subprocesses
(``bench/drivers.py``): cold start of the window and peak memory, since both are about a
fresh process.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from taper_app import cli
from taper_app.domain.figures import TaperCurves
from taper_app.reports.taper_chart import TaperChart
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.patients import record_dose
from taper_app.services.reporting import cohort_report, patient_report
from taper_app.services.study import StudyInfo, load_study
from taper_app.storage.engine import Database
from taper_app.ui.rows import history_rows, load_patient_row  # no Qt: the window's own loads

from .drivers import READ_QUERIES
from .measure import Result, child_env, paired, repeat, timed

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DRIVERS = BENCH / "drivers.py"


# ---------------------------------------------------------------- patient switch

#: The chart as the window holds it: one figure, its size on a 1366x768 laptop screen.
WINDOW_FIGSIZE, WINDOW_DPI = (9, 5), 100


def window_chart() -> TaperChart:
    """The Charts tab's chart as the window makes it: one figure of the window's size on
    one Agg canvas (``FigureCanvasQTAgg`` is a ``FigureCanvasAgg`` underneath), kept for
    the whole session."""
    chart = TaperChart(Figure(figsize=WINDOW_FIGSIZE, dpi=WINDOW_DPI), fixed_margins=True)
    FigureCanvasAgg(chart.figure)
    chart.fit_margins()
    return chart


def switch_patient(db: Database, study: StudyInfo, chart: TaperChart, subject: str,
                   as_of: date) -> Figure:
    """What selecting a patient costs in the window: its row and history (the Doses tab),
    then the Charts tab's one TaperChart redrawn in place for the new patient and its
    canvas drawn in full (what ``FigureCanvasQTAgg.draw`` does)."""
    row = load_patient_row(db, study, subject, as_of)
    history_rows(study, row.record, as_of)
    chart.draw(row.analysis, study.protocol.settings)
    chart.figure.canvas.draw()
    return chart.figure


def bare_draw(curves: TaperCurves, baseline_mg: float) -> Figure:
    """The baseline: a plain new Figure of the same size, the same panels and lines from
    the same arrays, drawn the same way."""
    fig = Figure(figsize=WINDOW_FIGSIZE, dpi=WINDOW_DPI, layout="constrained")
    ax_dose, ax_red, ax_cum = fig.subplots(3, 1, sharex=True)
    days = curves.study_days
    ax_dose.step(days, curves.actual, where="mid")
    ax_dose.step(days, curves.scheduled, where="mid")
    ax_red.plot(days, curves.reduction_pct)
    ax_red.plot(days, curves.window_reduction_pct)
    ax_cum.plot(days, curves.cumulative)
    ax_cum.plot(days, curves.scheduled_cumulative)
    ax_cum.plot(days, np.cumsum(np.where(np.isfinite(curves.actual), baseline_mg, 0.0)))
    FigureCanvasAgg(fig).draw()
    return fig


def bench_switch(db: Database, subject: str, other: str, as_of: date, runs: int) -> Result:
    """Switch to ``subject`` from ``other`` (so every run really changes the patient)."""
    study = load_study(db)
    row = load_patient_row(db, study, subject, as_of)
    curves, baseline = row.analysis.curves, float(row.record.baseline_mg)
    chart = window_chart()

    def switch() -> float:
        switch_patient(db, study, chart, other, as_of)  # the patient shown before
        return timed(lambda: switch_patient(db, study, chart, subject, as_of))

    values, bases = paired(switch, lambda: timed(lambda: bare_draw(curves, baseline)), runs)
    return Result(f"patient switch ({subject}: {len(row.record.doses)} records, "
                  f"{curves.study_days.size} days)", values,
                  baseline_name="bare matplotlib draw of the same arrays", baseline=bases,
                  target=0.100, target_ratio=2.0,
                  note="load_patient_row + history_rows + the window's TaperChart redrawn "
                       "in place on an Agg canvas of the window's size")


def bench_window_switch(path: Path, subject: str, other: str, as_of: date,
                        runs: int) -> list[Result]:
    """The same switch in the real window (a subprocess, offscreen): what a user waits for,
    on the Doses tab (the history table) and on the Charts tab (the chart drawn)."""
    _elapsed, report = _driver("window-switch", str(path), as_of.isoformat(), subject, other,
                               str(runs))
    return [Result(f"patient switch in the window, {tab} tab ({subject}: "
                   f"{report['records']} records)", report[key],
                   baseline_name="bare matplotlib draw of the same arrays",
                   baseline=report[f"{key} baseline"], target=0.100, target_ratio=2.0,
                   note="subprocess, offscreen: the signed-in main window selects the patient "
                        f"after another on its {tab} tab, until every event is handled "
                        "(load, figures, detail pane, history table, signatures"
                        + (", chart drawn and painted)" if key == "charts" else ")"))
            for tab, key in (("Doses", "doses"), ("Charts", "charts"))]


# ---------------------------------------------------------------- saving a dose

def _bare_insert(path: Path, n: int) -> None:
    """The floor for one durable save: a dose row and an audit row in one sqlite3 transaction."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("BEGIN IMMEDIATE")
        con.execute("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, "
                    "patient_id INTEGER, drug TEXT, dose_ug INTEGER, start_date TEXT)")
        con.execute("CREATE TABLE IF NOT EXISTS bench_floor_audit (id INTEGER PRIMARY KEY, "
                    "entity_id TEXT, field TEXT, new_value TEXT, row_hash TEXT)")
        cur = con.execute("INSERT INTO bench_floor (patient_id, drug, dose_ug, start_date) "
                          "VALUES (1, 'prednisone', 5000, ?)", (f"2026-01-{n % 28 + 1:02d}",))
        con.execute("INSERT INTO bench_floor_audit (entity_id, field, new_value, row_hash) "
                    "VALUES (?, 'dose_mg', '5', ?)", (str(cur.lastrowid), "0" * 64))
        con.execute("COMMIT")
    finally:
        con.close()


def bench_save(db: Database, path: Path, subject: str, as_of: date, runs: int) -> Result:
    study = load_study(db)
    nurse = ServiceContext(db, Actor("nurse", "Nora Nurse (synthetic)", "nurse"),
                           lambda: datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC),
                           lambda: as_of)
    fields = {"drug": "prednisone", "dose_mg": "5", "frequency": "QD", "route": "PO",
              "start_date": as_of.isoformat(), "end_date": as_of.isoformat(),
              "source": "diary", "comment": "benchmark"}
    counter = iter(range(10**6))
    values, bases = paired(
        lambda: timed(lambda: record_dose(nurse, study, subject, fields)),
        lambda: timed(lambda: _bare_insert(path, next(counter))), runs)
    return Result(f"save one dose with its audit rows ({subject})", values,
                  baseline_name="sqlite3: one dose row + one audit row, one transaction",
                  baseline=bases, target=0.020,
                  note="services.patients.record_dose; WAL, synchronous=FULL")


# ---------------------------------------------------------------- summary --json



def read_rows(path: Path) -> int:
    """The baseline: the rows ``summary`` needs, read with the plain sqlite3 module."""
    con = sqlite3.connect(path)
    try:
        return sum(len(con.execute(q).fetchall()) for q in READ_QUERIES)
    finally:
        con.close()


def summary_json(path: Path, as_of: date) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = cli.run(["summary", "--json", "--db", str(path), "--as-of", as_of.isoformat()],
                     out=out, err=err)
    if status != 0:
        raise RuntimeError(f"summary failed ({status}): {err.getvalue()}")
    return out.getvalue()


def bench_summary(path: Path, as_of: date, runs: int, label: str) -> Result:
    patients = len(json.loads(summary_json(path, as_of)))
    rows = read_rows(path)
    values, bases = paired(lambda: timed(lambda: summary_json(path, as_of)),
                           lambda: timed(lambda: read_rows(path)), runs)
    return Result(f"summary --json, {patients} patients ({label}, {rows:,} rows)", values,
                  baseline_name="sqlite3: read the same rows", baseline=bases,
                  target_ratio=3.0, note="cli.run in-process: open, load study, figures, JSON")


# ---------------------------------------------------------------- PDFs

PRINTED = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)


def bench_patient_pdf(db: Database, subject: str, as_of: date, runs: int,
                      out: Path | None = None, target: float | None = 1.0) -> Result:
    study = load_study(db)
    pages = 0

    def build() -> None:
        nonlocal pages
        report = patient_report(db, study, subject, as_of, printed_at=PRINTED)
        pages = report.pages
        if out is not None:
            out.write_bytes(report.pdf)

    values = repeat(build, runs)
    return Result(f"patient PDF ({subject}, {pages} pages)", values, target=target,
                  note="services.reporting.patient_report")


def bench_cohort_pdf(db: Database, as_of: date, runs: int, out: Path | None = None) -> Result:
    study = load_study(db)
    pages = 0

    def build() -> None:
        nonlocal pages
        report = cohort_report(db, study, as_of, printed_at=PRINTED)
        pages = report.pages
        if out is not None:
            out.write_bytes(report.pdf)

    values = repeat(build, runs, warmup=0)
    return Result(f"study PDF ({pages} pages)", values,
                  note="services.reporting.cohort_report")


# ---------------------------------------------------------------- subprocesses

def _env() -> dict[str, str]:
    return child_env(ROOT, QT_QPA_PLATFORM="offscreen")


def _driver(*args: str, timeout: float = 600) -> tuple[float, dict[str, float]]:
    """Run a driver; wall time from launch to its ``READY`` line, and what it reported."""
    with tempfile.TemporaryFile(mode="w+") as err:  # a file: a chatty child cannot block
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(DRIVERS), *args], stdout=subprocess.PIPE,
                                stderr=err, text=True, env=_env(), cwd=ROOT)
        assert proc.stdout is not None
        elapsed = None
        report: dict[str, float] = {}
        for line in proc.stdout:
            if line.startswith("READY") and elapsed is None:
                elapsed = time.perf_counter() - start
            elif line.startswith("REPORT "):
                report = json.loads(line[len("REPORT "):])
        proc.wait(timeout=timeout)
        if proc.returncode != 0 or elapsed is None:
            err.seek(0)
            raise RuntimeError(f"driver {args} failed ({proc.returncode}): {err.read()[-2000:]}")
    return elapsed, report


def bench_startup(path: Path, as_of: date, runs: int) -> tuple[list[Result], dict[str, float]]:
    """Cold start, twice over the same runs: to the main window shown (issue 9's measure:
    the window is up and usable, its patient list loading off the GUI thread), and to the
    patient list loaded, each beside the bare window from the same paired runs."""
    phases: list[dict[str, float]] = []
    bare_phases: list[dict[str, float]] = []

    def app() -> float:
        elapsed, report = _driver("startup", str(path), as_of.isoformat())
        phases.append(report)
        return elapsed

    def bare() -> float:
        elapsed, report = _driver("startup-bare")
        bare_phases.append(report)
        return elapsed

    values, bases = paired(app, bare, runs)
    measured = phases[-len(values):]  # the warm-up run is left out, as in ``paired``
    bare_measured = bare_phases[-len(bases):]
    median_phases = {k: float(np.median([p[k] for p in measured if k in p]))
                     for k in measured[-1]} if measured else {}
    bare_shown = [p["window shown"] for p in bare_measured]
    shown = Result("cold start to the main window shown (150 patients)",
                   [p["window shown"] for p in measured],
                   baseline_name="bare QApplication + empty QMainWindow shown, the same "
                                 "libraries", baseline=bare_shown, target_ratio=1.5,
                   note="subprocess, offscreen; imports, open, sign in, window built and "
                        "shown (its list loads off the GUI thread); from the first line")
    listed = Result("cold start to the main window with its patient list", values,
                    baseline_name="bare QApplication + empty QMainWindow, the same libraries",
                    baseline=bases, target_ratio=1.5,
                    note="subprocess, offscreen; signed in; until the first list load is "
                         "shown; whole process wall time")
    return [shown, listed], median_phases


def bench_memory(path: Path, as_of: date, runs: int) -> Result:
    values, bases = [], []
    for _ in range(runs):
        values.append(_driver("memory", str(path), as_of.isoformat())[1]["peak_rss_mb"])
        bases.append(_driver("memory-bare", str(path))[1]["peak_rss_mb"])
    return Result("peak memory: open the study, compute summary --json", values, unit="MB",
                  baseline_name="the same imports, the same rows read with sqlite3",
                  baseline=bases, target=400.0,
                  note="peak resident memory (VmHWM) of a fresh subprocess")
