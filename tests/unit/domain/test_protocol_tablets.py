"""The protocol's ``[tablets]`` table (interfaces.md) and the defaults of domain.md §8."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taper_app.domain.protocol import (
    DEFAULT_TABLETS,
    new_template_problems,
    parse_protocol,
    parse_template_file,
)

from .test_protocol import HEADER, TABLE_TEMPLATE, problems_of

D = Decimal

#: A protocol with one table template: where each test adds its ``[tablets]``.
HEAD = HEADER + TABLE_TEMPLATE


def test_the_interfaces_md_example_replaces_those_drugs_and_keeps_the_others():
    p = parse_protocol(HEAD + '''
[tablets]
prednisone = [1, 2.5, 5, 10, 20]
methylprednisolone = [4, 16]
''')
    assert p.tablet_strengths("prednisone") == (D(20), D(10), D(5), D("2.5"), D(1))
    assert p.tablet_strengths("Methylprednisolone") == (D(16), D(4))
    assert p.tablet_strengths("dexamethasone") == DEFAULT_TABLETS["dexamethasone"]


def test_the_defaults_are_domain_md_s():
    p = parse_protocol(HEAD)
    assert p.tablet_overrides == {}
    assert sorted(p.tablet_strengths("prednisone")) == [D(x) for x in
                                                         ("1", "2.5", "5", "10", "20", "50")]
    assert sorted(p.tablet_strengths("prednisolone")) == sorted(DEFAULT_TABLETS["prednisone"])
    assert sorted(p.tablet_strengths("methylprednisolone")) == [D(x) for x in
                                                                 ("2", "4", "8", "16", "32")]
    assert sorted(p.tablet_strengths("dexamethasone")) == [
        D(x) for x in ("0.5", "0.75", "1", "1.5", "2", "4", "6")]
    assert sorted(p.tablet_strengths("hydrocortisone")) == [D(5), D(10), D(20)]
    assert sorted(p.tablet_strengths("deflazacort")) == [D(6), D(18), D(30), D(36)]
    for drug in ("triamcinolone", "cortisone", "betamethasone"):
        assert p.tablet_strengths(drug) == ()


def test_an_empty_list_means_no_tablets_of_that_drug():
    p = parse_protocol(HEAD + "[tablets]\nprednisone = []\n")
    assert p.tablet_strengths("prednisone") == ()


@pytest.mark.parametrize(("table", "message"), [
    ('aspirin = [1]', "unknown drug 'aspirin'"),
    ('budesonide = [3]', "out of scope"),
    ('prednisone = 5', "must be a list"),
    ('prednisone = [0]', "more than 0 mg"),
    ('prednisone = [-1]', "more than 0 mg"),
    ('prednisone = ["five"]', "is not a number"),
    ('prednisone = [2.0005]', "more than 3 decimals"),
    ('prednisone = [5, 5]', "listed twice"),
    ('prednisone = [true]', "is not a number of mg"),
])
def test_bad_tablet_tables_are_refused_with_where_and_why(table, message):
    problems = problems_of(HEAD + "[tablets]\n" + table + "\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith("p.toml: tablets.")
    assert message in problems[0]


def test_tablets_must_be_a_table():
    assert any("[tablets] must be a table" in p for p in problems_of(HEAD.replace(
        'study = "S-01"', 'tablets = 5\nstudy = "S-01"')))


def test_a_new_file_may_not_give_a_fraction_step_a_frequency():
    text = '''
[[template]]
id = "f"
kind = "table"
  [[template.step]]
  day = 29
  fraction = 0.5
  frequency = "QOD"
'''
    templates = parse_template_file(text, "t.toml")  # a stored one is still read ...
    (problem,) = new_template_problems(templates, "t.toml")  # ... a new one is refused
    assert "fraction of baseline is a daily dose" in problem
    assert new_template_problems(parse_template_file(text.replace('"QOD"', '"QD"'), "t"),
                                 "t") == []
