"""The report benchmark still runs (at a tiny size, so it never rots); no timing is asserted."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

from bench.bench_reports import run


def test_benchmark_runs_on_a_tiny_synthetic_study(tmp_path: Path) -> None:
    out = io.StringIO()
    timings = run(patients=3, runs=1, folder=tmp_path, out=out)
    assert [t.name.split(" (")[0] for t in timings] == ["patient report", "study report"]
    assert all(len(t.seconds) == 1 and t.pages >= 1 for t in timings)
    printed = out.getvalue()
    assert "built a synthetic study of 3 patients" in printed
    assert printed.count("median") == 2
    cohort = " ".join(p.extract_text() for p in PdfReader(tmp_path / "cohort.pdf").pages)
    assert all(subject in cohort for subject in ("101-001", "102-001", "103-001"))
