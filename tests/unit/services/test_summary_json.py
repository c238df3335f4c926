"""``summary --json`` text: the fast writer is ``json.dumps(rows, indent=2)`` byte for byte."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.services.figures import summary_json

leaves = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=10), values, max_size=6), max_size=4))
def test_the_same_text_as_the_json_module(rows):
    assert summary_json(rows) == json.dumps(rows, indent=2)


def test_summary_shaped_rows_and_the_values_json_spells_by_name():
    rows = [{"subject_id": "101-001", "site": "101", "as_of": "2026-07-02", "as_of_day": -3,
             "baseline_mg": 12.5, "actual_mg": None, "reduction_pct": 0.1 + 0.2,
             "flags": [True, False], "nested": {"": [], "x": {}}, "odd": "é\u2028\"\\",
             "big": 10**30, "tiny": 5e-324, "neg_zero": -0.0,
             "special": [math.nan, math.inf, -math.inf]}]
    assert summary_json(rows) == json.dumps(rows, indent=2)
    assert summary_json([]) == "[]"


def test_anything_else_is_left_to_the_json_module():
    rows = [{1: "an int key", "t": (1, 2)}]
    assert summary_json(rows) == json.dumps(rows, indent=2)
