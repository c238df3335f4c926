"""The tablet rule (domain.md §8): fewest tablets, exact; ties to fewer distinct strengths,
then larger tablets. Checked against a brute-force search over the default strengths."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from itertools import combinations_with_replacement

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain.calendar import Tablets, fewest_tablets
from taper_app.domain.protocol import DEFAULT_TABLETS

D = Decimal


def brute_force(dose: Decimal, strengths: tuple[Decimal, ...],
                most: int) -> tuple[Decimal, ...] | None:
    """Every multiset of up to ``most`` tablets that adds up to ``dose``; the best by the
    rule, as the tablets largest first. None if none does."""
    best: tuple[tuple[int, int, tuple[Decimal, ...]], tuple[Decimal, ...]] | None = None
    sizes = sorted(strengths, reverse=True)
    for count in range(1, most + 1):
        for combo in combinations_with_replacement(sizes, count):
            if sum(combo, D(0)) != dose:
                continue
            tablets = tuple(sorted(combo, reverse=True))
            key = (count, len(set(combo)), tuple(-t for t in tablets))
            if best is None or key < best[0]:
                best = (key, tablets)
        if best is not None:
            return best[1]  # fewer tablets always wins: no need to look further
    return None


def as_list(t: Tablets) -> tuple[Decimal, ...]:
    return tuple(mg for mg, n in t.items for _ in range(n))


# Doses in quarter milligrams up to 60 mg (every dose a taper meets, and many it does not)
# for each drug with default strengths; the search bound covers the worst case found.
DRUGS = sorted(DEFAULT_TABLETS)


@settings(max_examples=400, deadline=None)
@given(drug=st.sampled_from(DRUGS), quarters=st.integers(min_value=1, max_value=240))
def test_the_rule_equals_a_brute_force_search_over_the_default_strengths(drug, quarters):
    strengths = DEFAULT_TABLETS[drug]
    dose = D(quarters) / 4
    expected = brute_force(dose, strengths, most=9)
    found = fewest_tablets(dose, strengths)
    if expected is None:
        # nothing up to 9 tablets: then nothing at all, or more than 9 (checked exactly)
        assert found is None or found.count > 9
        if found is not None:
            assert found.total_mg == dose
        return
    assert found is not None
    assert as_list(found) == expected
    assert found.total_mg == dose


@pytest.mark.parametrize("drug", DRUGS)
def test_every_dose_in_tenths_of_a_milligram_up_to_30_mg_agrees_with_brute_force(drug):
    strengths = DEFAULT_TABLETS[drug]
    for tenths in range(1, 301):
        dose = D(tenths) / 10
        expected = brute_force(dose, strengths, most=7)
        found = fewest_tablets(dose, strengths)
        if expected is not None:
            assert found is not None and as_list(found) == expected, (drug, dose)
        elif found is not None:
            assert found.count > 7 and found.total_mg == dose, (drug, dose)


@pytest.mark.parametrize(("dose", "text"), [
    ("20", "1 x 20 mg"),
    ("17.5", "1 x 10 mg + 1 x 5 mg + 1 x 2.5 mg"),
    ("12.5", "1 x 10 mg + 1 x 2.5 mg"),
    ("7.5", "1 x 5 mg + 1 x 2.5 mg"),
    ("4", "4 x 1 mg"),                    # 2.5 + 1 + ... cannot make 4: four 1 mg tablets
    ("3.5", "1 x 2.5 mg + 1 x 1 mg"),
    ("100", "2 x 50 mg"),
    ("0", ""),
])
def test_prednisone_examples(dose, text):
    tablets = fewest_tablets(D(dose), DEFAULT_TABLETS["prednisone"])
    assert tablets is not None
    assert tablets.text() == text


def test_a_dose_no_tablets_make_says_so_never_a_nearby_dose():
    assert fewest_tablets(D("0.5"), DEFAULT_TABLETS["prednisone"]) is None
    assert fewest_tablets(D("7.3"), DEFAULT_TABLETS["prednisone"]) is None
    assert fewest_tablets(D(3), DEFAULT_TABLETS["methylprednisolone"]) is None
    assert fewest_tablets(D(5), ()) is None           # no strengths for the drug at all
    assert fewest_tablets(Fraction(1, 3), (D(1),)) is None


def test_ties_go_to_fewer_distinct_strengths_then_larger_tablets():
    # 6 from {1, 2, 3, 4}: 4+2 and 3+3 both take two tablets; 3+3 is one strength.
    assert fewest_tablets(D(6), (D(1), D(2), D(3), D(4))).text() == "2 x 3 mg"
    # 5 from {1, 2, 3, 4}: 4+1 and 3+2, both two strengths: the larger tablet first wins.
    assert fewest_tablets(D(5), (D(1), D(2), D(3), D(4))).text() == "1 x 4 mg + 1 x 1 mg"
    # dexamethasone 2.5: 2+0.5 and 1.5+1 both two tablets, two strengths: 2+0.5.
    assert fewest_tablets(D("2.5"), DEFAULT_TABLETS["dexamethasone"]).text() == \
        "1 x 2 mg + 1 x 0.5 mg"


def test_words_are_plain():
    tablets = fewest_tablets(D("12.5"), DEFAULT_TABLETS["prednisone"])
    assert tablets.words() == ["1 tablet of 10 mg", "1 tablet of 2.5 mg"]
    assert fewest_tablets(D(15), (D(5),)).words() == ["3 tablets of 5 mg"]


def test_exact_fractions_are_accepted():
    # 1.125 mg dexamethasone is 7.5 mg prednisone: 0.75 + ... no 0.375: not makeable
    assert fewest_tablets(Fraction(9, 8), DEFAULT_TABLETS["dexamethasone"]) is None
    assert fewest_tablets(Fraction(3, 2), DEFAULT_TABLETS["dexamethasone"]).text() == \
        "1 x 1.5 mg"
