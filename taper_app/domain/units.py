"""Exact milligram quantities: parsing, integer micrograms, and report rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

UG_PER_MG = 1000
#: No milligram amount in this application comes near this; larger text is refused early.
MAX_MG = Decimal(10) ** 9
#: Comparisons between doses allow this much rounding (domain.md §5) ...
MG_TOLERANCE = 0.001
#: ... plus float noise, so an exact 0.001 mg difference is within it at any dose
#: (20.001 - 20 is 0.0010000000000012 in binary floating point).
MG_COMPARE = MG_TOLERANCE + 1e-9


class QuantityError(ValueError):
    """A text or number that is not a valid milligram quantity."""


def parse_mg(value: str | int | float | Decimal) -> Decimal:
    """Read a milligram amount exactly; at most three decimals (1 microgram).

    Floats are read through their shortest text form, so 2.5 stays 2.5.
    """
    if isinstance(value, bool):
        raise QuantityError("not a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        mg = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise QuantityError(f"{value!r} is not a number") from None
    if not mg.is_finite():
        raise QuantityError(f"{value!r} is not a finite number")
    if abs(mg) >= MAX_MG:
        raise QuantityError(f"{value} is far too large to be a dose in mg")
    try:
        exact = mg == mg.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # an exponent beyond what Decimal can quantize
        raise QuantityError(f"{value!r} is not a dose in mg") from None
    if not exact:
        raise QuantityError(f"{value} has more than 3 decimals (finer than 1 microgram)")
    return mg


def mg_to_ug(mg: Decimal | str | int | float) -> int:
    """Milligrams to integer micrograms, exactly."""
    return int(parse_mg(mg) * UG_PER_MG)


def ug_to_mg(ug: int) -> Decimal:
    """Integer micrograms to an exact Decimal of milligrams, normalised (2500 -> 2.5)."""
    mg = Decimal(ug) / UG_PER_MG
    return mg.quantize(Decimal(1)) if mg == mg.to_integral() else mg.normalize()


def format_mg(ug: int) -> str:
    """Micrograms as plain milligram text without exponent: 2500 -> '2.5', 20000 -> '20'."""
    return f"{ug_to_mg(ug):f}"


#: Significant digits a computed figure keeps before it is rounded for a report: beyond
#: them is the noise of float sums (a tenth of a trillionth), not the figure.
SIGNIFICANT_DIGITS = 12


def round_half_up(value: float, places: int) -> float:
    """Round a computed figure for reporting (mg to 0.001, % to 0.1), halves away from zero.

    The float noise of sums is taken off first (to 12 significant digits): an exact 49.95 %
    computed as 49.949999999999996 is reported as 50.0 %, as the definition rounds it
    (domain/definitions.py), not as 49.9 %.
    """
    q = Decimal(1).scaleb(-places)
    exact = Decimal(repr(value))
    if exact.is_finite() and exact:
        noise = min(exact.adjusted() - SIGNIFICANT_DIGITS + 1, -places - 1)
        exact = exact.quantize(Decimal(1).scaleb(noise), rounding=ROUND_HALF_EVEN)
    rounded = float(exact.quantize(q, rounding=ROUND_HALF_UP))
    return rounded + 0.0  # never -0.0
