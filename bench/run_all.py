"""Run every benchmark beside its baseline and write docs/performance.md.

    python bench/run_all.py            full sizes (150 and 1,000 patients x 3 years)
    python bench/run_all.py --quick    tiny sizes, one or two runs (a smoke test)

Synthetic studies are generated once and cached in bench/.cache/ (see bench/synthetic.py);
benchmarks that write use a private copy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchmarks as b
from bench.bench_import import bench_import
from bench.measure import Result, machine
from bench.synthetic import CACHE, TrialShape, cached_study, generation_seconds
from taper_app.storage.engine import open_database

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "bench" / "findings.md"  # hand-written profile notes, appended as they are
AS_OF = date(2026, 7, 2)
THREE_YEARS = 1095


@dataclass(frozen=True)
class Plan:
    """Sizes and run counts; ``quick`` is the smoke test's, full is docs/performance.md's."""

    small: TrialShape
    large: TrialShape
    switch_runs: int
    save_runs: int
    summary_runs: int
    large_summary_runs: int
    pdf_runs: int
    diary_pdf_runs: int
    cohort_runs: int
    startup_runs: int
    memory_runs: int
    #: Rows of each doses.csv imported (bench/bench_import.py) and runs of each.
    import_rows: tuple[int, ...] = ()
    import_runs: tuple[int, ...] = ()


FULL = Plan(TrialShape(150, THREE_YEARS, daily_every=10),
            TrialShape(1000, THREE_YEARS, daily_every=10),
            switch_runs=9, save_runs=15, summary_runs=7, large_summary_runs=5, pdf_runs=5,
            diary_pdf_runs=3, cohort_runs=3, startup_runs=5, memory_runs=3,
            import_rows=(100_000, 300_000), import_runs=(3, 1))
QUICK = Plan(TrialShape(6, 60, daily_every=3), TrialShape(10, 60, daily_every=3),
             switch_runs=1, save_runs=1, summary_runs=1, large_summary_runs=1, pdf_runs=1,
             diary_pdf_runs=1, cohort_runs=1, startup_runs=1, memory_runs=1,
             import_rows=(300, 900), import_runs=(1, 1))


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def run(plan: Plan, folder: Path, out: TextIO = sys.stdout,
        cache: Path = CACHE) -> tuple[list[Result], dict[str, float], dict[str, str]]:
    """Every benchmark; returns the results, the window's start-up phases and generation times."""
    generated: dict[str, str] = {}
    paths = {}
    for label, shape in (("small", plan.small), ("large", plan.large)):
        start = time.perf_counter()
        cached, subjects = cached_study(shape, AS_OF, cache)
        took = time.perf_counter() - start
        seconds = generation_seconds(cached)
        generated[shape.name] = (f"generated in {took:.0f} s" if took > 1 or seconds is None
                                 else f"reused from the cache (generated in {seconds:.0f} s)")
        copy = folder / f"{label}-{cached.name}"
        shutil.copyfile(cached, copy)
        paths[label] = (copy, subjects)
        _say(out, f"study {shape.name}: {generated[shape.name]}")
    small, small_subjects = paths["small"]
    large, _ = paths["large"]
    daily_subject = small_subjects[0]  # every daily_every-th patient keeps a daily diary
    typical_subject = small_subjects[1]
    results: list[Result] = []

    def add(result: Result) -> None:
        results.append(result)
        _say(out, line(result))

    db = open_database(small)
    try:
        add(b.bench_switch(db, daily_subject, typical_subject, AS_OF, plan.switch_runs))
        add(b.bench_summary(small, AS_OF, plan.summary_runs, "3 years"
                            if plan.small.days == THREE_YEARS else f"{plan.small.days} days"))
        add(b.bench_patient_pdf(db, typical_subject, AS_OF, plan.pdf_runs,
                                folder / "patient.pdf"))
        add(b.bench_patient_pdf(db, daily_subject, AS_OF, plan.diary_pdf_runs, target=None))
        add(b.bench_cohort_pdf(db, AS_OF, plan.cohort_runs, folder / "cohort.pdf"))
        add(b.bench_save(db, small, daily_subject, AS_OF, plan.save_runs))
    finally:
        db.dispose()
    add(b.bench_summary(large, AS_OF, plan.large_summary_runs, "3 years"
                        if plan.large.days == THREE_YEARS else f"{plan.large.days} days"))
    for switch in b.bench_window_switch(small, daily_subject, typical_subject, AS_OF,
                                        plan.switch_runs):
        add(switch)
    startups, phases = b.bench_startup(small, AS_OF, plan.startup_runs)
    for startup in startups:
        add(startup)
    add(b.bench_memory(large, AS_OF, plan.memory_runs))
    for imported in bench_import(folder / "import", plan.import_rows, plan.import_runs):
        add(imported)
    return results, phases, generated


def _fmt(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def line(r: Result) -> str:
    lo, hi = min(r.values), max(r.values)
    text = f"{r.name}: median {_fmt(r.median, r.unit)} ({_fmt(lo, r.unit)}-{_fmt(hi, r.unit)})"
    if r.baseline_median is not None:
        text += f", baseline {_fmt(r.baseline_median, r.unit)}, ratio {r.ratio:.2f}"
    return text + f" [{r.verdict}]"


def _target(r: Result) -> str:
    parts = []
    if r.target is not None:
        parts.append(f"< {_fmt(r.target, r.unit)}")
    if r.target_ratio is not None:
        parts.append(f"ratio < {r.target_ratio:g}")
    return ", ".join(parts) or "-"


def markdown(results: list[Result], phases: dict[str, float], info: dict[str, str],
             plan_name: str, plan: Plan, generated: dict[str, str], wall: float) -> str:
    rows = []
    for r in results:
        lo, hi = min(r.values), max(r.values)
        base = ("-" if r.baseline_median is None else
                f"{_fmt(r.baseline_median, r.unit)} ({_fmt(min(r.baseline), r.unit)}-"
                f"{_fmt(max(r.baseline), r.unit)})")
        spread = r.ratio_spread
        ratio = "-" if r.ratio is None else (
            f"{r.ratio:.2f}" + (f" ({spread[0]:.2f}-{spread[1]:.2f})" if spread else ""))
        rows.append(f"| {r.name} | {_fmt(r.median, r.unit)} | {_fmt(lo, r.unit)}-"
                    f"{_fmt(hi, r.unit)} | {len(r.values)} | {r.baseline_name or '-'} | "
                    f"{base} | {ratio} | {_target(r)} | **{r.verdict}** |")
    notes = [f"- **{r.name}**: {r.note}" for r in results if r.note]
    sizes = ("--quick, tiny sizes: not figures to quote" if plan_name == "quick"
             else "full sizes")
    phase_lines = [f"| {k} | {v * 1000:.0f} ms |" for k, v in phases.items()]
    return "\n".join([
        "# Performance",
        "",
        f"Generated by `python bench/run_all.py` ({sizes}). Do not edit by hand: run the"
        " command again.",
        "",
        "Every figure is the median of several runs with the spread (min-max); where there is a"
        " baseline it was measured in the same run, alternating with the measured work, and the"
        " ratio is median / baseline median (in brackets: min-max of the per-run ratios).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Data",
        "",
        f"- small study: {plan.small.patients} patients, up to {plan.small.days} days of records"
        f" each, every {plan.small.daily_every}th patient a daily diary (one record per day)",
        f"- large study: {plan.large.patients} patients, up to {plan.large.days} days, every "
        f"{plan.large.daily_every}th patient a daily diary",
        "- as of 2026-07-02; generated by `bench/synthetic.py` (deterministic), cached in"
        " `bench/.cache/`: " + "; ".join(f"{k}: {v}" for k, v in generated.items()),
        "",
        "## Results",
        "",
        "| benchmark | median | spread | runs | baseline | baseline median | ratio | target |"
        " verdict |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "### What each measures",
        "",
        *notes,
        "",
        "### Cold start, phases (median, from the driver's first line)",
        "",
        "| phase | at |",
        "|---|---|",
        *phase_lines,
        "",
        f"Whole command: {wall:.0f} s.",
        "",
        FINDINGS.read_text(encoding="utf-8") if FINDINGS.exists() else "",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    info = machine()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="taper-bench-") as tmp:
        results, phases, generated = run(plan, Path(tmp), cache=args.cache)
    wall = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(results, phases, info, "quick" if args.quick else "full",
                                 plan, generated, wall), encoding="utf-8")
    print(f"wrote {args.out} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
