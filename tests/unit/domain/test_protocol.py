"""The protocol file (interfaces.md "Protocol file"): strict parsing and template storage."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from taper_app.domain.figures import FigureSettings
from taper_app.domain.protocol import (
    ProtocolError,
    parse_protocol,
    parse_template_file,
    template_from_data,
    template_to_data,
)
from taper_app.domain.schedule import (
    Band,
    BandTemplate,
    TableStep,
    TableTemplate,
    generate_schedule,
)

from .builders import FRACTION_26WK, STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK

D = Decimal
EXAMPLE_FILE = (Path(__file__).parents[3] / "resources" / "protocols"
                / "example-iim.toml")

#: The example of interfaces.md, verbatim.
INTERFACES_EXAMPLE = '''
study = "EXAMPLE-IIM-01"
protocol_version = "2.0"
target_reduction_pct = 50
target_day = 183
tolerance_mg = 0
# target_dose_mg = 7.5          (optional)

[[template]]
id = "stepdown-a"
name = "Band step-down from Day 29"
kind = "bands"
taper_start_day = 29
round_to_mg = 0.5
floor_mg = 0
  [[template.band]]
  above_mg = 40
  step_mg = 10
  interval_days = 14
  [[template.band]]
  above_mg = 10
  step_pct = 20
  interval_days = 14
  [[template.band]]
  above_mg = 0
  step_mg = 1
  interval_days = 28

[[template]]
id = "table-12wk"
name = "Published 12-week table"
kind = "table"
  [[template.step]]
  day = 15
  dose_mg = 15
  [[template.step]]
  day = 71
  dose_mg = 5
  frequency = "QOD"
'''

HEADER = 'study = "S-01"\nprotocol_version = "1"\n'

BAND_TEMPLATE = '''
[[template]]
id = "b"
kind = "bands"
taper_start_day = 29
  [[template.band]]
  above_mg = 0
  step_mg = 1
  interval_days = 14
'''

TABLE_TEMPLATE = '''
[[template]]
id = "t"
kind = "table"
  [[template.step]]
  day = 15
  dose_mg = 10
'''


def problems_of(text: str) -> list[str]:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(text, "p.toml")
    return caught.value.problems


def one_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- Files that parse -----------------------------------------------------------------------

def test_interfaces_md_example_parses():
    p = parse_protocol(INTERFACES_EXAMPLE)
    assert p.study == "EXAMPLE-IIM-01"
    assert p.protocol_version == "2.0"
    assert p.settings == FigureSettings(D(50), 183, D(0), None)
    assert [t.id for t in p.templates] == ["stepdown-a", "table-12wk"]
    assert p.templates[0] == STEPDOWN_A
    assert p.templates[1] == TableTemplate("table-12wk", "Published 12-week table", (
        TableStep(15, D(15)), TableStep(71, D(5), "QOD")))


def test_interfaces_md_example_generates_the_hand_worked_schedule_for_b_20():
    steps = generate_schedule(parse_protocol(INTERFACES_EXAMPLE).templates[0], D(20))
    assert [(s.day, s.dose_mg) for s in steps][:5] == [
        (29, D(16)), (43, D(13)), (57, D("10.5")), (71, D(10)), (99, D(9))]
    assert (steps[-1].day, steps[-1].dose_mg) == (351, D(0))


def test_shipped_example_protocol_parses_with_its_four_templates():
    p = parse_protocol(EXAMPLE_FILE.read_text(encoding="utf-8"), str(EXAMPLE_FILE))
    assert p.settings.target_dose_mg == D("7.5")
    assert p.templates == (STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK, FRACTION_26WK)


def test_settings_have_the_contract_defaults():
    p = parse_protocol(HEADER)
    assert p.settings == FigureSettings(D(50), 183, D(0), None)
    assert p.templates == ()


def test_settings_are_read_from_the_file():
    p = parse_protocol(HEADER + "target_reduction_pct = 35\ntarget_day = 168\n"
                       "tolerance_mg = 0.5\ntarget_dose_mg = 5\n")
    assert p.settings == FigureSettings(D(35), 168, D("0.5"), D(5))


def test_an_explicit_zero_target_reduction_is_kept():
    p = parse_protocol(HEADER + "target_reduction_pct = 0\n")
    assert p.settings.target_reduction_pct == 0


def test_equivalence_overrides_are_read_as_exact_ratios():
    p = parse_protocol(HEADER + '[equivalence]\nDeflazacort = "1/1"\nprednisolone = 1.0\n')
    assert p.equivalence_overrides == {"deflazacort": Fraction(1), "prednisolone": Fraction(1)}
    assert p.equivalence().factor("deflazacort") == 1
    assert p.equivalence().factor("dexamethasone") == Fraction(20, 3)


def test_band_template_defaults_are_round_to_0_5_and_floor_0():
    (t,) = parse_protocol(HEADER + BAND_TEMPLATE).templates
    assert isinstance(t, BandTemplate)
    assert (t.round_to_mg, t.floor_mg, t.name) == (D("0.5"), D(0), "b")


def test_table_step_frequency_defaults_to_qd_and_is_read_case_insensitively():
    text = HEADER + TABLE_TEMPLATE + '  [[template.step]]\n  day = 20\n  dose_mg = 5\n' \
        '  frequency = "qod"\n'
    (t,) = parse_protocol(text).templates
    assert [s.frequency for s in t.steps] == ["QD", "QOD"]


def test_template_file_holds_only_templates():
    (t,) = parse_template_file(BAND_TEMPLATE, "more.toml")
    assert t.id == "b"


# --- Files that do not parse ----------------------------------------------------------------

def test_protocol_error_lists_every_problem_with_its_source():
    problems = problems_of('protocol_version = ""\ncolour = "red"\n')
    assert any("unknown key 'colour'" in p for p in problems)
    assert any("'study' must be a non-empty string" in p for p in problems)
    assert any("'protocol_version' must be a non-empty string" in p for p in problems)
    assert all(p.startswith("p.toml: ") for p in problems)


def test_invalid_toml_is_a_protocol_error():
    assert "not valid TOML" in one_problem('study = "unterminated\n')


def test_unknown_top_level_key_is_an_error():
    assert one_problem(HEADER + "target_pct = 50\n") == "p.toml: unknown key 'target_pct'"


def test_unknown_key_in_a_band_template_is_an_error():
    text = HEADER + BAND_TEMPLATE.replace('kind = "bands"', 'kind = "bands"\nstart_day = 1')
    assert one_problem(text) == "p.toml: template 'b': unknown key 'start_day'"


def test_unknown_key_in_a_band_is_an_error():
    text = HEADER + BAND_TEMPLATE.replace("step_mg = 1", "step_mg = 1\n  every_days = 14")
    assert one_problem(text) == "p.toml: template 'b' band #1: unknown key 'every_days'"


def test_unknown_key_in_a_table_step_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "dose_mg = 10\n  route = 'PO'")
    assert one_problem(text) == "p.toml: template 't' step #1: unknown key 'route'"


def test_band_with_both_step_mg_and_step_pct_is_an_error():
    text = HEADER + BAND_TEMPLATE.replace("step_mg = 1", "step_mg = 1\n  step_pct = 10")
    assert "give exactly one of step_mg or step_pct" in one_problem(text)


def test_band_with_neither_step_mg_nor_step_pct_is_an_error():
    text = HEADER + BAND_TEMPLATE.replace("step_mg = 1", "")
    assert "give exactly one of step_mg or step_pct" in one_problem(text)


@pytest.mark.parametrize("pct", ["100", "150"])
def test_step_pct_of_100_or_more_is_an_error(pct):
    text = HEADER + BAND_TEMPLATE.replace("step_mg = 1", f"step_pct = {pct}")
    assert one_problem(text) == "p.toml: template 'b' band #1: step_pct must be below 100"


def test_step_pct_of_zero_is_an_error():
    text = HEADER + BAND_TEMPLATE.replace("step_mg = 1", "step_pct = 0")
    assert "step_pct must be > 0" in one_problem(text)


def test_duplicate_template_ids_are_an_error():
    assert one_problem(HEADER + BAND_TEMPLATE + BAND_TEMPLATE) == \
        "p.toml: template 'b': duplicate id"


def test_table_step_with_both_dose_mg_and_fraction_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "dose_mg = 10\n  fraction = 0.5")
    assert one_problem(text) == \
        "p.toml: template 't' step #1: give exactly one of dose_mg or fraction"


def test_table_step_with_neither_dose_mg_nor_fraction_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "")
    assert "give exactly one of dose_mg or fraction" in one_problem(text)


def test_fraction_above_1_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "fraction = 1.5")
    assert "fraction must be between 0 and 1" in one_problem(text)


def test_once_is_not_a_table_frequency():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", 'dose_mg = 10\n  frequency = "ONCE"')
    assert "not a daily schedule frequency" in one_problem(text)


def test_two_table_steps_on_the_same_day_are_an_error():
    text = HEADER + TABLE_TEMPLATE + "  [[template.step]]\n  day = 15\n  dose_mg = 5\n"
    assert one_problem(text) == "p.toml: template 't': two steps on the same day"


def test_two_bands_with_the_same_above_mg_are_an_error():
    text = HEADER + BAND_TEMPLATE + "  [[template.band]]\n  above_mg = 0\n  step_mg = 2\n" \
        "  interval_days = 7\n"
    assert one_problem(text) == "p.toml: template 'b': two bands have the same above_mg"


def test_unknown_template_kind_is_an_error():
    assert "kind must be 'bands' or 'table'" in one_problem(
        HEADER + BAND_TEMPLATE.replace('"bands"', '"rules"'))


def test_band_template_without_bands_is_an_error():
    text = HEADER + '[[template]]\nid = "b"\nkind = "bands"\ntaper_start_day = 1\n'
    assert "needs at least one [[template.band]]" in one_problem(text)


def test_table_template_without_steps_is_an_error():
    assert "needs at least one [[template.step]]" in one_problem(
        HEADER + '[[template]]\nid = "t"\nkind = "table"\n')


@pytest.mark.parametrize("day", ["0", "-3", "3651", "1.5", '"29"'])
def test_taper_start_day_must_be_a_whole_study_day_from_1(day):
    text = HEADER + BAND_TEMPLATE.replace("taper_start_day = 29", f"taper_start_day = {day}")
    assert "taper_start_day must be a whole number from 1 to 3650" in one_problem(text)


def test_dose_with_more_than_three_decimals_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "dose_mg = 2.0005")
    assert "more than 3 decimals" in one_problem(text)


def test_negative_dose_is_an_error():
    text = HEADER + TABLE_TEMPLATE.replace("dose_mg = 10", "dose_mg = -5")
    assert "dose_mg must be >= 0" in one_problem(text)


@pytest.mark.parametrize(("line", "message"), [
    ("target_reduction_pct = 120", "target_reduction_pct: 120 is outside 0..100"),
    ("target_day = 0", "target_day must be a whole study day from 1 to 3650"),
    ("tolerance_mg = -1", "tolerance_mg: -1 is outside 0..100"),
    ('target_dose_mg = "lots"', "target_dose_mg: 'lots' is not a number"),
])
def test_out_of_range_settings_are_errors(line, message):
    assert one_problem(HEADER + line + "\n") == f"p.toml: {message}"


def test_equivalence_factor_must_be_a_positive_number():
    problems = problems_of(HEADER + '[equivalence]\nprednisone = 0\ncortisone = "x"\n')
    assert "p.toml: equivalence.prednisone: factor must be > 0" in problems
    assert "p.toml: equivalence.cortisone: 'x' is not a number or ratio" in problems


def test_template_file_with_other_keys_is_an_error():
    with pytest.raises(ProtocolError, match="only \\[\\[template\\]\\] tables"):
        parse_template_file('study = "S"\n' + BAND_TEMPLATE, "more.toml")


def test_template_file_without_templates_is_an_error():
    with pytest.raises(ProtocolError, match="no \\[\\[template\\]\\] tables"):
        parse_template_file("", "more.toml")


# --- Stored templates -----------------------------------------------------------------------

@pytest.mark.parametrize("template", [STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK, FRACTION_26WK],
                         ids=lambda t: t.id)
def test_template_round_trips_through_its_stored_data(template):
    data = template_to_data(template)
    assert template_from_data(data) == template


def test_stored_template_data_keeps_decimals_as_exact_strings():
    data = template_to_data(STEPDOWN_SLOW)
    assert data["round_to_mg"] == "0.5"
    assert data["floor_mg"] == "5"
    assert data["band"][0] == {"above_mg": "15", "interval_days": 14, "step_mg": "2.5"}


def test_round_tripped_template_generates_the_same_schedule():
    for template in (STEPDOWN_A, STEPDOWN_SLOW, TABLE_12WK, FRACTION_26WK):
        again = template_from_data(template_to_data(template))
        assert generate_schedule(again, D("17.5")) == generate_schedule(template, D("17.5"))


def test_round_trip_keeps_a_percent_band_and_a_non_default_round_to():
    t = BandTemplate("p", "Percent", 8, (Band(D("7.5"), 21, step_pct=D("12.5")),),
                     round_to_mg=D("0.25"), floor_mg=D("2.5"))
    assert template_from_data(template_to_data(t)) == t


def test_stored_template_that_no_longer_parses_is_a_protocol_error():
    data = template_to_data(STEPDOWN_A)
    data["band"][0]["step_pct"] = "10"
    with pytest.raises(ProtocolError, match="give exactly one of step_mg or step_pct"):
        template_from_data(data)
