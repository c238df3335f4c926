"""The patient's dosing calendar (domain.md §8): each day's dose of one drug and its tablets.

Pure and exact: doses are ``Fraction``s of mg until they are shown; a day's dose comes from
the stored schedule steps, so the calendar and the figures (``S(d)``) cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from math import gcd, lcm

from .equivalence import per_day
from .schedule import ScheduleStep
from .studyday import study_day

#: Above this many smallest units a dose is not searched for tablets (it would take seconds
#: and no patient takes it: 2,000 mg in 1 mg tablets is 2,000 units).
MAX_UNITS = 200_000

#: Times a day for the frequencies a schedule step may have; QOD and QW are once on the
#: days they are taken.
TIMES_A_DAY = {"QD": 1, "BID": 2, "TID": 3, "QID": 4, "QOD": 1, "QW": 1}
#: Days between the days a dose is taken (1: every day).
EVERY_N_DAYS = {"QOD": 2, "QW": 7}
TIMES_WORDS = {1: "once a day", 2: "twice a day", 3: "3 times a day", 4: "4 times a day"}
EVERY_WORDS = {2: "every other day", 7: "once a week"}

ASK_NURSE = "ask your study nurse"


# ---------------------------------------------------------------- tablets

@dataclass(frozen=True)
class Tablets:
    """Tablets that add up to one dose: ``(mg per tablet, how many)``, largest first.

    No items means no tablets (a dose of zero).
    """

    items: tuple[tuple[Decimal, int], ...]

    @property
    def count(self) -> int:
        return sum(n for _mg, n in self.items)

    @property
    def total_mg(self) -> Decimal:
        return sum((mg * n for mg, n in self.items), Decimal(0))

    def text(self) -> str:
        """As the calendar CSV has it: ``2 x 5 mg + 1 x 2.5 mg`` (empty for none)."""
        return " + ".join(f"{n} x {format_mg(mg)} mg" for mg, n in self.items)

    def words(self) -> list[str]:
        """One plain line per strength, for the printed sheet: ``2 tablets of 5 mg``."""
        return [f"{n} tablet{'s' if n != 1 else ''} of {format_mg(mg)} mg"
                for mg, n in self.items]


def format_mg(mg: Decimal | Fraction) -> str:
    """An exact mg amount as plain text: 2.5, 10, 0.75 (never 2.50 or 1E+1)."""
    value = mg if isinstance(mg, Decimal) else exact_decimal(mg)
    if value is None:
        raise ValueError(f"{mg} mg has no exact decimal form")
    value = value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    return f"{value:f}"


def exact_decimal(value: Fraction, places: int = 3) -> Decimal | None:
    """``value`` as a Decimal of at most ``places`` decimals, if it is one exactly."""
    scaled = value * 10 ** places
    if scaled.denominator != 1:
        return None
    exact = Decimal(scaled.numerator).scaleb(-places)
    return exact.quantize(Decimal(1)) if exact == exact.to_integral() else exact.normalize()


def fewest_tablets(dose_mg: Decimal | Fraction,
                   strengths: Sequence[Decimal]) -> Tablets | None:
    """The fewest tablets adding up to exactly ``dose_mg``, or None when none do.

    Ties go to fewer distinct strengths, then to larger tablets (comparing the tablets from
    the largest down). Zero is no tablets. Strengths must be > 0.
    """
    dose = Fraction(dose_mg)
    if dose < 0:
        raise ValueError("a dose cannot be negative")
    if dose == 0:
        return Tablets(())
    sizes = tuple(sorted({Fraction(s) for s in strengths}, reverse=True))
    if not sizes:
        return None
    if sizes[-1] <= 0:
        raise ValueError("tablet strengths must be more than 0 mg")
    # Whole units: the common denominator, then the greatest common divisor of everything.
    scale = lcm(dose.denominator, *(s.denominator for s in sizes))
    amount = int(dose * scale)
    units = [int(s * scale) for s in sizes]
    step = gcd(*units)
    if amount % step:
        return None
    amount //= step
    units = [u // step for u in units]
    if amount > MAX_UNITS:
        return None
    counts = _fewest(tuple(units), amount)
    if counts is None:
        return None
    as_given = {Fraction(s): s for s in strengths}
    return Tablets(tuple((as_given[s], n) for s, n in zip(sizes, counts, strict=True) if n))


@lru_cache(maxsize=4096)
def _fewest(units: tuple[int, ...], amount: int) -> tuple[int, ...] | None:
    """Counts per size (sizes largest first) by the tablet rule, or None."""
    n = len(units)
    inf = amount + 1
    # need[i][x]: the fewest tablets making x from sizes i.. (inf: impossible).
    need = [[inf] * (amount + 1) for _ in range(n + 1)]
    need[n][0] = 0
    for i in range(n - 1, -1, -1):
        u, row, below = units[i], need[i], need[i + 1]
        for x in range(amount + 1):
            a = below[x]
            if x >= u and row[x - u] + 1 < a:
                a = row[x - u] + 1
            row[x] = a
    fewest = need[0][amount]
    if fewest >= inf:
        return None
    # Every way to make the amount with that many tablets; then the tie rules.
    ways: list[tuple[int, ...]] = []

    def walk(i: int, x: int, left: int, counts: tuple[int, ...]) -> None:
        if i == n:
            if x == 0 and left == 0:
                ways.append(counts)
            return
        for k in range(min(x // units[i], left), -1, -1):
            if need[i + 1][x - k * units[i]] == left - k:
                walk(i + 1, x - k * units[i], left - k, (*counts, k))

    walk(0, amount, fewest, ())

    def rank(counts: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        # Larger tablets first: the tablets from the largest down, compared one by one.
        tablets = tuple(-u for u, k in zip(units, counts, strict=True) for _ in range(k))
        return sum(1 for k in counts if k), tablets

    return min(ways, key=rank)


# ---------------------------------------------------------------- the calendar

@dataclass(frozen=True)
class Regimen:
    """What the schedule says to take from some day: a PEQ dose ``times`` a day, on every
    ``every``-th day counted from ``from_day`` (``every`` 1: each day)."""

    per_administration_peq_mg: Decimal
    times: int
    every: int
    from_day: int
    daily_peq_mg: Decimal

    def taken_on(self, day: int) -> bool:
        return (day - self.from_day) % self.every == 0


def regimen_on(steps: Sequence[ScheduleStep], baseline_mg: Decimal, day: int) -> Regimen:
    """The step in force on study day ``day`` (the last one on or before it; B before any)."""
    current: ScheduleStep | None = None
    for step in steps:
        if step.day <= day:
            current = step
        else:
            break
    if current is None:
        return Regimen(baseline_mg, 1, 1, day, baseline_mg)
    frequency = current.frequency.upper()
    if frequency not in TIMES_A_DAY:
        raise ValueError(f"a schedule step cannot be {frequency!r}")
    if current.administered_mg is None:
        # A step with no dose as written takes its daily dose spread over the day's times.
        per = Fraction(current.dose_mg) / per_day(frequency)
        administered = exact_decimal(per) or current.dose_mg
    else:
        administered = current.administered_mg
    return Regimen(administered, TIMES_A_DAY[frequency], EVERY_N_DAYS.get(frequency, 1),
                   current.day, current.dose_mg)


@dataclass(frozen=True)
class CalendarDay:
    """One line of the calendar: what to take of the calendar's drug that day."""

    date: date
    study_day: int
    #: S(d), the scheduled daily PEQ the figures use (a QOD step's is half its dose).
    scheduled_peq_mg: Decimal
    #: mg of the drug to take that day in all (0: none); exact unless ``exact`` is False,
    #: when it is the nearest microgram and only shown to say that it cannot be given.
    dose_mg: Decimal
    exact: bool
    #: Times that day (2 for twice a day), each of ``dose_mg / times``; 0 on a day off.
    times: int
    #: Tablets for one of those times; None when no tablets make it exactly.
    tablets: Tablets | None
    #: The regimen changes today (a new dose, or a new frequency).
    new_dose: bool
    #: 1 when the dose is taken every day; 2 every other day (QOD), 7 once a week.
    every: int = 1

    @property
    def none(self) -> bool:
        """Nothing to take today: a day between every-other-day doses, or a 0 mg step."""
        return self.times == 0 or self.dose_mg == 0

    @property
    def makeable(self) -> bool:
        return self.tablets is not None

    @property
    def per_time_mg(self) -> Decimal:
        return self.dose_mg / self.times if self.times else Decimal(0)

    def note(self) -> str:
        """The day's words for the CSV (and the sheet): new dose, none, ask the nurse."""
        words = []
        if self.new_dose:
            words.append("new dose from today")
        if self.none:
            words.append("none today")
        elif self.tablets is None:
            words.append(f"{ASK_NURSE}: no tablets make this dose exactly")
        elif self.times > 1:
            words.append(f"{format_mg(self.per_time_mg)} mg {TIMES_WORDS[self.times]}")
        if self.every in EVERY_WORDS and not self.none:
            words.append(EVERY_WORDS[self.every])
        return "; ".join(words)


@dataclass(frozen=True)
class Calendar:
    drug: str
    first_date: date
    last_date: date
    strengths: tuple[Decimal, ...]
    days: tuple[CalendarDay, ...]

    @property
    def days_to_ask(self) -> tuple[CalendarDay, ...]:
        """Days whose dose no tablets make: the nurse is warned before printing."""
        return tuple(d for d in self.days if not d.none and d.tablets is None)


def build_calendar(steps: Sequence[ScheduleStep], baseline_mg: Decimal, day1: date,
                   first_date: date, days: int, drug: str, factor: Fraction,
                   strengths: Sequence[Decimal]) -> Calendar:
    """The calendar of ``drug`` for ``days`` days from ``first_date``.

    ``factor`` is the drug's mg prednisone per mg; ``steps`` the stored schedule (after
    amendments, in day order). A dose of the drug is the PEQ dose divided by the factor.
    """
    if days < 1:
        raise ValueError("a calendar covers at least one day")
    if factor <= 0:
        raise ValueError("an equivalence factor must be more than 0")
    ordered = sorted(steps, key=lambda s: s.day)
    strengths = tuple(sorted(set(strengths), reverse=True))
    previous_day = study_day(first_date - timedelta(days=1), day1)
    before = regimen_on(ordered, baseline_mg, previous_day)
    out = []
    for offset in range(days):
        d = first_date + timedelta(days=offset)
        day = study_day(d, day1)
        regimen = regimen_on(ordered, baseline_mg, day)
        changed = (regimen.per_administration_peq_mg, regimen.times, regimen.every) != (
            before.per_administration_peq_mg, before.times, before.every)
        before = regimen
        times = regimen.times if regimen.taken_on(day) else 0
        per_time = Fraction(regimen.per_administration_peq_mg) / factor if times else Fraction(0)
        total = per_time * times
        exact_total = exact_decimal(total)
        exact = exact_total is not None and exact_decimal(per_time) is not None
        if exact_total is None:  # shown only to say it cannot be given: to the microgram
            exact_total = (Decimal(total.numerator) / Decimal(total.denominator)).quantize(
                Decimal("0.001"), rounding=ROUND_HALF_UP)
        out.append(CalendarDay(
            date=d, study_day=day, scheduled_peq_mg=regimen.daily_peq_mg,
            dose_mg=exact_total, exact=exact, times=times,
            tablets=fewest_tablets(per_time, strengths) if exact else None,
            every=regimen.every, new_dose=changed))
    return Calendar(drug, first_date, first_date + timedelta(days=days - 1), strengths,
                    tuple(out))
