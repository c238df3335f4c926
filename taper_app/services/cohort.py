"""Study-wide figures from every patient's summary: target attainment and data completeness,
overall and per site. The dashboard and the study PDF show these same numbers. Blinded:
nothing here groups by arm (the application never stores it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STATUSES = ("met", "not_met", "not_evaluable", "pending")
ALL_SITES = "All sites"


@dataclass(frozen=True)
class Attainment:
    """Target status counts for a group of patients (a site, or all of them)."""

    group: str
    patients: int
    counts: dict[str, int]

    def pct(self, status: str) -> float | None:
        return None if not self.patients else 100.0 * self.counts[status] / self.patients


@dataclass(frozen=True)
class Completeness:
    """Observed and missing days (Day 1 to the as-of date) summed over a group's patients."""

    group: str
    patients: int
    observed_days: int
    missing_days: int
    patients_with_gaps: int

    @property
    def expected_days(self) -> int:
        return self.observed_days + self.missing_days

    @property
    def observed_pct(self) -> float | None:
        total = self.expected_days
        return None if not total else 100.0 * self.observed_days / total


def _groups(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    sites = sorted({s["site"] for s in summaries})
    return [(ALL_SITES, list(summaries))] + [
        (f"Site {site}", [s for s in summaries if s["site"] == site]) for site in sites]


def attainment(summaries: Sequence[dict[str, Any]]) -> list[Attainment]:
    """Overall first, then per site in site order."""
    out = []
    for name, group in _groups(summaries):
        counts = Counter(s["target"]["status"] for s in group)
        out.append(Attainment(name, len(group), {k: counts.get(k, 0) for k in STATUSES}))
    return out


def completeness(summaries: Sequence[dict[str, Any]]) -> list[Completeness]:
    out = []
    for name, group in _groups(summaries):
        out.append(Completeness(name, len(group), sum(s["observed_days"] for s in group),
                                sum(s["missing_days"] for s in group),
                                sum(1 for s in group if s["missing_days"] > 0)))
    return out
