"""Prednisone equivalence: conversion factors, frequencies and routes (domain.md §2-3)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

#: mg prednisone per mg of drug (anti-inflammatory potency, the standard table).
STANDARD_FACTORS: dict[str, Fraction] = {
    "prednisone": Fraction(1),
    "prednisolone": Fraction(1),
    "methylprednisolone": Fraction(5, 4),
    "triamcinolone": Fraction(5, 4),
    "hydrocortisone": Fraction(1, 4),
    "cortisone": Fraction(1, 5),
    "dexamethasone": Fraction(20, 3),
    "betamethasone": Fraction(25, 3),
    "deflazacort": Fraction(5, 6),
}

#: Administrations per day for each frequency code. ONCE is handled apart: one date only.
PER_DAY: dict[str, Fraction] = {
    "QD": Fraction(1),
    "BID": Fraction(2),
    "TID": Fraction(3),
    "QID": Fraction(4),
    "QOD": Fraction(1, 2),
    "QW": Fraction(1, 7),
    "ONCE": Fraction(1),
}
FREQUENCIES: tuple[str, ...] = tuple(PER_DAY)
ROUTES: tuple[str, ...] = ("PO", "IV", "IM", "SC")
SOURCES: tuple[str, ...] = ("clinic", "diary")

#: Steroids that exist but are out of the taper's scope: named so the message says why.
OUT_OF_SCOPE = ("budesonide", "fluticasone", "beclomethasone", "mometasone", "clobetasol")


class UnknownDrugError(ValueError):
    """A drug name that is not in the equivalence table."""


class EquivalenceTable:
    """The study's conversion table: the standard factors, possibly overridden per drug."""

    def __init__(self, overrides: Mapping[str, Fraction] | None = None) -> None:
        self._factors = dict(STANDARD_FACTORS)
        for name, factor in (overrides or {}).items():
            if factor <= 0:
                raise ValueError(f"equivalence factor for {name} must be > 0")
            self._factors[name.strip().lower()] = Fraction(factor)

    @property
    def drugs(self) -> tuple[str, ...]:
        return tuple(self._factors)

    def normalise(self, drug: str) -> str:
        """The table's spelling of ``drug`` (matched case-insensitively), or an error."""
        key = drug.strip().lower()
        if key in self._factors:
            return key
        if any(key.startswith(name) for name in OUT_OF_SCOPE):
            raise UnknownDrugError(f"{drug!r} is not converted: inhaled, topical and budesonide "
                                   "steroids are out of scope for the taper")
        known = ", ".join(self._factors)
        raise UnknownDrugError(f"unknown drug {drug!r}; expected one of: {known}")

    def factor(self, drug: str) -> Fraction:
        return self._factors[self.normalise(drug)]

    def as_dict(self) -> dict[str, Fraction]:
        return dict(self._factors)


def per_day(frequency: str) -> Fraction:
    """Administrations per day of a frequency code (ONCE counts as one, on its date)."""
    try:
        return PER_DAY[frequency.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown frequency {frequency!r}; expected one of: "
                         f"{', '.join(FREQUENCIES)}") from None
