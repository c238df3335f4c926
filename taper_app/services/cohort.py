"""Study-wide figures from every patient's summary: target attainment and data completeness,
overall and per site. The dashboard and the study PDF show these same numbers. Blinded:
nothing here groups by arm (the application never stores it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..results import ALL_SITES, STATUSES, Attainment, Completeness

#: The statuses of patients whose target day has come (domain.md §5.1).
REACHED = ("met", "not_met", "not_evaluable")

__all__ = ["ALL_SITES", "REACHED", "STATUSES", "Attainment", "Completeness", "attainment",
           "completeness"]


def _groups(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    sites = sorted({s["site"] for s in summaries})
    return [(ALL_SITES, list(summaries))] + [
        (f"Site {site}", [s for s in summaries if s["site"] == site]) for site in sites]


def attainment(summaries: Sequence[dict[str, Any]]) -> list[Attainment]:
    """Overall first, then per site in site order."""
    out = []
    for name, group in _groups(summaries):
        counts = Counter(s["target"]["status"] for s in group)
        by_status = {k: counts.get(k, 0) for k in STATUSES}
        # Met of reached: the share not diluted by patients who cannot have met it yet.
        reached = sum(by_status[k] for k in REACHED)
        out.append(Attainment(name, len(group), by_status, reached,
                              None if not reached else 100.0 * by_status["met"] / reached))
    return out


def completeness(summaries: Sequence[dict[str, Any]]) -> list[Completeness]:
    out = []
    for name, group in _groups(summaries):
        out.append(Completeness(name, len(group), sum(s["observed_days"] for s in group),
                                sum(s["missing_days"] for s in group),
                                sum(1 for s in group if s["missing_days"] > 0)))
    return out
