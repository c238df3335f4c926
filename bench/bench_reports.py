"""Time the PDF reports on a synthetic study: one patient's report and the whole-study report.

    python bench/bench_reports.py [--patients 150] [--runs 5] [--keep DIR]

Prints the median and the spread (min-max) of a few runs of each. No pass/fail: compare
runs on the same machine. The study is built once per invocation (deterministic data).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import build_synthetic_study
from taper_app.services.reporting import Report, cohort_report, patient_report
from taper_app.services.study import load_study

TODAY = date(2026, 7, 2)
PRINTED = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: list[float]
    pages: int
    size: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def line(self) -> str:
        lo, hi = min(self.seconds), max(self.seconds)
        return (f"{self.name:<34} median {self.median:7.3f} s   spread {lo:.3f}-{hi:.3f} s   "
                f"({len(self.seconds)} runs, {self.pages} pages, {self.size / 1024:.0f} KiB)")


def _time(name: str, runs: int, build: Callable[[], Report]) -> tuple[Timing, Report]:
    seconds = []
    report = None
    for _ in range(runs):
        start = time.perf_counter()
        report = build()
        seconds.append(time.perf_counter() - start)
    assert report is not None
    return Timing(name, seconds, report.pages, len(report.pdf)), report


def run(patients: int, runs: int, folder: Path, out: TextIO = sys.stdout) -> list[Timing]:
    start = time.perf_counter()
    synthetic = build_synthetic_study(folder / "synthetic.sqlite", patients, TODAY)
    print(f"built a synthetic study of {patients} patients in "
          f"{time.perf_counter() - start:.1f} s", file=out)
    db = synthetic.db
    try:
        study = load_study(db)
        subject = synthetic.subjects[len(synthetic.subjects) // 2]
        single, single_pdf = _time(f"patient report ({subject})", runs,
                                   lambda: patient_report(db, study, subject, TODAY,
                                                          printed_at=PRINTED))
        cohort, cohort_pdf = _time(f"study report ({patients} patients)", runs,
                                   lambda: cohort_report(db, study, TODAY, printed_at=PRINTED))
        (folder / "patient.pdf").write_bytes(single_pdf.pdf)
        (folder / "cohort.pdf").write_bytes(cohort_pdf.pdf)
    finally:
        db.dispose()
    for timing in (single, cohort):
        print(timing.line(), file=out)
    return [single, cohort]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the study and the PDFs in DIR (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.patients, args.runs, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="taper-bench-") as tmp:
            run(args.patients, args.runs, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
