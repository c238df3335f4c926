"""Prednisone-equivalent conversion and frequencies (domain.md §2 and §3)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from taper_app.domain.doses import daily_peq_mg
from taper_app.domain.equivalence import (
    STANDARD_FACTORS,
    EquivalenceTable,
    UnknownDrugError,
    per_day,
)

from .builders import dose

TABLE = EquivalenceTable()

#: domain.md §2: the amount of each drug that is equivalent to 5 mg prednisone.
EQUIVALENT_TO_5_MG_PREDNISONE = {
    "prednisone": "5",
    "prednisolone": "5",
    "methylprednisolone": "4",
    "triamcinolone": "4",
    "hydrocortisone": "20",
    "cortisone": "25",
    "dexamethasone": "0.75",
    "betamethasone": "0.6",
    "deflazacort": "6",
}


@pytest.mark.parametrize(("drug", "mg"), sorted(EQUIVALENT_TO_5_MG_PREDNISONE.items()))
def test_each_drug_in_the_table_converts_its_equivalent_amount_to_exactly_5_mg(drug, mg):
    assert daily_peq_mg(dose(drug, mg, 1), TABLE) == 5


@pytest.mark.parametrize(("drug", "factor"), [
    ("prednisone", Fraction(1)),
    ("prednisolone", Fraction(1)),
    ("methylprednisolone", Fraction(5, 4)),
    ("triamcinolone", Fraction(5, 4)),
    ("hydrocortisone", Fraction(1, 4)),
    ("cortisone", Fraction(1, 5)),
    ("dexamethasone", Fraction(20, 3)),
    ("betamethasone", Fraction(25, 3)),
    ("deflazacort", Fraction(5, 6)),
])
def test_factor_is_the_exact_ratio_of_the_standard_table(drug, factor):
    assert TABLE.factor(drug) == factor


def test_the_standard_table_has_exactly_the_nine_drugs_of_the_contract():
    assert set(STANDARD_FACTORS) == set(EQUIVALENT_TO_5_MG_PREDNISONE)


@pytest.mark.parametrize("spelling", ["Prednisone", "PREDNISONE", "  prednisone ", "pReDnIsOnE"])
def test_drug_names_are_matched_case_insensitively(spelling):
    assert TABLE.normalise(spelling) == "prednisone"
    assert TABLE.factor(spelling) == 1


def test_methylprednisolone_in_capitals_converts_like_lower_case():
    assert daily_peq_mg(dose("MethylPrednisolone", "500", 1, frequency="ONCE"), TABLE) == 625


@pytest.mark.parametrize("drug", ["aspirin", "prednisone acetate", "pred", "", "methotrexate"])
def test_unknown_drug_is_rejected_never_converted_with_factor_1(drug):
    with pytest.raises(UnknownDrugError, match="unknown drug"):
        TABLE.factor(drug)


@pytest.mark.parametrize("drug", ["budesonide", "Budesonide", "BUDESONIDE", "fluticasone",
                                  "beclomethasone", "mometasone", "clobetasol"])
def test_budesonide_and_inhaled_or_topical_steroids_are_rejected_as_out_of_scope(drug):
    with pytest.raises(UnknownDrugError, match="out of scope"):
        TABLE.factor(drug)


def test_unknown_drug_error_is_a_value_error_that_names_the_drug():
    with pytest.raises(ValueError, match="'aspirin'"):
        TABLE.normalise("aspirin")


def test_a_dose_record_of_an_unknown_drug_cannot_be_converted():
    with pytest.raises(UnknownDrugError):
        daily_peq_mg(dose("budesonide", "9", 1), TABLE)


@pytest.mark.parametrize(("frequency", "expected"), [
    ("QD", Fraction(1)),
    ("BID", Fraction(2)),
    ("TID", Fraction(3)),
    ("QID", Fraction(4)),
    ("QOD", Fraction(1, 2)),
    ("QW", Fraction(1, 7)),
    ("ONCE", Fraction(1)),
])
def test_administrations_per_day_of_each_frequency(frequency, expected):
    assert per_day(frequency) == expected


def test_unknown_frequency_is_rejected():
    with pytest.raises(ValueError, match="unknown frequency"):
        per_day("Q3D")


def test_5_mg_every_other_day_is_2_5_mg_per_day():
    assert daily_peq_mg(dose("prednisone", "5", 1, frequency="QOD"), TABLE) == Fraction(5, 2)


def test_35_mg_weekly_is_5_mg_per_day():
    assert daily_peq_mg(dose("prednisone", "35", 1, frequency="QW"), TABLE) == 5


def test_10_mg_twice_daily_is_20_mg_per_day():
    assert daily_peq_mg(dose("prednisolone", "10", 1, frequency="BID"), TABLE) == 20


def test_dexamethasone_4_mg_is_an_exact_26_and_two_thirds_mg():
    assert daily_peq_mg(dose("dexamethasone", "4", 1), TABLE) == Fraction(80, 3)


def test_hydrocortisone_10_mg_three_times_a_day_is_7_5_mg():
    assert daily_peq_mg(dose("hydrocortisone", "10", 1, frequency="TID"), TABLE) == Fraction(15, 2)


def test_a_study_override_changes_one_factor_and_keeps_the_others():
    table = EquivalenceTable({"Deflazacort": Fraction(1, 1)})
    assert table.factor("deflazacort") == 1
    assert table.factor("dexamethasone") == Fraction(20, 3)


def test_an_override_factor_must_be_positive():
    with pytest.raises(ValueError, match="must be > 0"):
        EquivalenceTable({"prednisone": Fraction(0)})
