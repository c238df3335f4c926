"""Target attainment per group, met of reached included: the service is the definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taper_app.domain import definitions
from taper_app.services.cohort import attainment

STATUS = st.sampled_from(["met", "not_met", "not_evaluable", "pending"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["101", "102", "103"]), STATUS), max_size=30))
def test_met_of_reached_of_every_group_is_its_definition(patients):
    summaries = [{"site": site, "target": {"status": status}} for site, status in patients]
    groups = attainment(summaries)
    assert groups[0].group == "All sites" and groups[0].patients == len(patients)
    for group in groups:
        members = [s for site, s in patients
                   if group.group in ("All sites", f"Site {site}")]
        met, reached, share = definitions.met_of_reached(members)
        assert (group.counts["met"], group.reached) == (met, reached)
        if share is None:
            assert group.met_of_reached_pct is None
        else:
            assert group.met_of_reached_pct == pytest.approx(float(share), abs=1e-12)


def test_patients_who_cannot_have_met_it_yet_do_not_dilute_the_share():
    statuses = ["met", "not_met", "pending", "pending", "not_evaluable", "met"]
    (everyone,) = attainment([{"site": "101", "target": {"status": s}} for s in statuses])[:1]
    assert everyone.reached == 4 and everyone.met_of_reached_pct == 50.0
    assert everyone.pct("met") == pytest.approx(100 / 3)
