"""Small builders shared by the domain tests: dates by study day, dose records and figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from taper_app.domain.doses import DailySeries, DoseRecord, daily_series
from taper_app.domain.equivalence import EquivalenceTable
from taper_app.domain.figures import FigureSettings, PatientFigures, compute_figures
from taper_app.domain.schedule import Band, BandTemplate, ScheduleStep, TableStep, TableTemplate
from taper_app.domain.studyday import date_of_day
from taper_app.domain.units import mg_to_ug

D = Decimal

# The four templates of resources/protocols/example-iim.toml (the first and third are the
# interfaces.md example), built directly so schedule tests do not depend on the parser.
STEPDOWN_A = BandTemplate(
    id="stepdown-a", name="Band step-down from Day 29", taper_start_day=29,
    bands=(Band(D(40), 14, step_mg=D(10)), Band(D(10), 14, step_pct=D(20)),
           Band(D(0), 28, step_mg=D(1))),
)
STEPDOWN_SLOW = BandTemplate(
    id="stepdown-slow", name="Slow band step-down to 5 mg from Day 43", taper_start_day=43,
    bands=(Band(D(15), 14, step_mg=D("2.5")), Band(D(5), 21, step_mg=D(1))),
    floor_mg=D(5),
)
TABLE_12WK = TableTemplate("table-12wk", "Published 12-week table", (
    TableStep(15, D(15)), TableStep(43, D(10)), TableStep(71, D(5), "QOD")))
FRACTION_26WK = TableTemplate("fraction-26wk", "Fractions of baseline over 26 weeks", (
    TableStep(29, fraction=D("0.8")), TableStep(57, fraction=D("0.6")),
    TableStep(99, fraction=D("0.5")), TableStep(141, fraction=D("0.4"))))

#: Every patient in these tests starts on this date unless a test says otherwise (a Monday).
DAY1 = date(2026, 1, 5)
STANDARD = EquivalenceTable()


def on(day: int, day1: date = DAY1) -> date:
    """The calendar date of study day ``day``."""
    return date_of_day(day, day1)


def dose(drug: str, mg: str | int | float | Decimal, first_day: int, last_day: int | None = None,
         frequency: str = "QD", route: str = "PO", voided: bool = False,
         day1: date = DAY1) -> DoseRecord:
    """A dose record from study day ``first_day`` to ``last_day`` (None: ongoing)."""
    end = None if last_day is None else on(last_day, day1)
    return DoseRecord(drug, mg_to_ug(mg), frequency, route, on(first_day, day1), end, voided)


def schedule(*pairs: tuple[int, str | int | float]) -> list[ScheduleStep]:
    """Schedule steps from ``(study day, daily PEQ mg)`` pairs."""
    return [ScheduleStep(day, Decimal(str(mg))) for day, mg in pairs]


def series_as_of(records: Iterable[DoseRecord], as_of_day: int,
                 day1: date = DAY1) -> DailySeries:
    return daily_series(list(records), STANDARD, day1, on(as_of_day, day1))


def figures_as_of(records: Iterable[DoseRecord], baseline: str | int | float, as_of_day: int,
                  steps: Sequence[ScheduleStep] = (),
                  settings: FigureSettings | None = None,
                  day1: date = DAY1) -> PatientFigures:
    """Every figure for one patient as of study day ``as_of_day`` (never today's date)."""
    return compute_figures(series_as_of(records, as_of_day, day1), list(steps),
                           Decimal(str(baseline)), settings or FigureSettings())


def follow(steps: Sequence[ScheduleStep], baseline: Decimal, last_day: int,
           drug: str = "prednisone") -> list[DoseRecord]:
    """Records of a patient who takes exactly the scheduled dose every day, Day 1 to last_day.

    Baseline is taken until the first step; the last step's record is ongoing.
    """
    records: list[DoseRecord] = []
    ordered = sorted(steps, key=lambda s: s.day)
    if not ordered or ordered[0].day > 1:
        first = ordered[0].day - 1 if ordered else None
        records.append(dose(drug, baseline, 1, first))
    for i, step in enumerate(ordered):
        last = ordered[i + 1].day - 1 if i + 1 < len(ordered) else None
        if last is not None and last < max(step.day, 1):
            continue
        records.append(dose(drug, step.dose_mg, max(step.day, 1), last))
    return [r for r in records if r.start_date <= on(last_day)]
