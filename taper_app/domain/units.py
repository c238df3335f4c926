"""Exact milligram quantities: parsing, integer micrograms, and report rounding."""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

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


#: The one form of a milligram amount in text: ASCII digits, an optional point and at most
#: three decimals (1 microgram). No sign, exponent, underscore, thousands separator or
#: other script's digits: ``1e3``, ``1_0``, ``-0`` and ``١٠`` are what Python's own
#: number parsers accept, and never what a person meant to type as a dose.
PLAIN_MG_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
#: A decimal comma as the forms take it: one or two decimals (three would read as a
#: thousands separator).
DECIMAL_COMMA_RE = re.compile(r"[0-9]+,[0-9]{1,2}")
MAX_DECIMALS = 3
#: Digits before the point beyond which an amount is refused unread (MAX_MG has 10).
_MAX_WHOLE_DIGITS = 9
_FORMAT = ("write digits with an optional decimal point and at most 3 decimals, "
           "such as 7.5")


def _shown(text: str) -> str:
    """The text for a message: quoted, and cut short when it is long."""
    return repr(text if len(text) <= 24 else text[:20] + "…")


def decimal_point(text: str) -> str:
    """A form's decimal comma as a point ("7,5" -> "7.5"); anything else as it was."""
    stripped = text.strip()
    return stripped.replace(",", ".") if DECIMAL_COMMA_RE.fullmatch(stripped) else text


def parse_mg_text(text: str) -> Decimal:
    """Read a milligram amount typed or held in a file: the strict form of PLAIN_MG_RE,
    after trimming spaces. Refuses anything else with a message saying what is wrong."""
    t = text.strip()
    if not t:
        raise QuantityError("is empty: write the amount in mg, such as 7.5")
    match = PLAIN_MG_RE.fullmatch(t)
    if match is None:
        raise QuantityError(_why_not_plain(t))
    whole, decimals = match.group(1), match.group(2) or ""
    if len(whole.lstrip("0")) > _MAX_WHOLE_DIGITS:
        raise QuantityError(f"{_shown(t)} is far too large to be an amount in mg")
    if len(decimals.rstrip("0")) > MAX_DECIMALS:
        raise QuantityError(f"{t} has more than 3 decimals (finer than 1 microgram)")
    return Decimal(t)  # safe now: ASCII digits of bounded size, one optional point


def _why_not_plain(t: str) -> str:
    """What is wrong with text that is not a plain amount, in the words a person needs."""
    shown = _shown(t)
    if any(ch.isdigit() and not ch.isascii() for ch in t):
        return f"{shown} has digits other than 0-9: type the amount with 0-9"
    if t[0] in "-\u2212":
        rest = t[1:].strip()
        if PLAIN_MG_RE.fullmatch(rest) and Decimal(rest) != 0:
            return f"{t if len(t) <= 24 else shown} is negative"
        return f"{shown} has a minus sign: an amount in mg is never negative"
    if t[0] == "+":
        return f"{shown} has a plus sign: {_FORMAT}"
    if "_" in t:
        return f"{shown} has an underscore: write digits only (10, not 1_0)"
    if "," in t:
        return (f"{shown} has a comma: write the decimals after a point (7.5; a form also "
                "takes 7,5 with 1 or 2 decimals), and no thousands separator")
    if re.fullmatch(r"[0-9.]*[0-9][eE][-+]?[0-9]+", t):
        return f"{shown} has an exponent: write the amount out in digits (1000, not 1e3)"
    if re.search(r"[0-9]", t) and re.fullmatch(r"[0-9.\s]+", t):
        return f"{shown} is not a number: {_FORMAT}"
    return f"{shown} is not a number"


def parse_mg(value: str | int | float | Decimal) -> Decimal:
    """Read a milligram amount exactly; at most three decimals (1 microgram).

    Text goes through :func:`parse_mg_text` (the one strict form). Numbers (a protocol
    file's TOML values, the program's own Decimals) are taken as they are: floats through
    their shortest text form, so 2.5 stays 2.5; a negative number is the caller's to refuse.
    """
    if isinstance(value, bool):
        raise QuantityError("not a number")
    if isinstance(value, str):
        return parse_mg_text(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    try:
        mg = Decimal(value)
        finite = mg.is_finite()
        huge = finite and abs(mg) >= MAX_MG
        exact = finite and not huge and mg == mg.quantize(Decimal("0.001"),
                                                          rounding=ROUND_HALF_UP)
    except (ArithmeticError, ValueError, TypeError):  # decimal's signals are ArithmeticErrors
        raise QuantityError(f"{value!r} is not an amount in mg") from None
    if not finite:
        raise QuantityError(f"{value!r} is not a finite number")
    if huge:
        raise QuantityError(f"{value} is far too large to be an amount in mg")
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


@functools.lru_cache(maxsize=4096, typed=True)
def format_mg(ug: int) -> str:
    """Micrograms as plain milligram text without exponent: 2500 -> '2.5', 20000 -> '20'.

    Remembered (a pure function of an integer): an import audits every dose's amount."""
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
