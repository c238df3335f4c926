"""Fuzzing the dose form's Save: whatever is typed, either one record is saved with its
audit rows, or the form stays open with a field marked and nothing is written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from taper_app.storage.models import AuditEntry, AuditHead, DoseRecordRow
from taper_app.storage.uow import UnitOfWork
from taper_app.ui.dose_form import DoseDialog
from tests.conftest import TODAY

# Plausible values as often as junk, so both outcomes are exercised.
amounts = st.one_of(
    st.sampled_from(["10", "10.5", "16", "20", "5"]),
    st.text(alphabet="0123456789.,-+e x", max_size=8),
    st.decimals(min_value=-50, max_value=3000, places=3, allow_nan=False).map(str),
)
dates = st.one_of(st.dates(min_value=TODAY.replace(year=TODAY.year - 1),
                           max_value=TODAY.replace(day=TODAY.day + 2)).map(
                                lambda d: d.isoformat()),
                  st.sampled_from(["2026-06-20", "2026-07-01", "2026-07-02"]),
                  st.text(max_size=12))
free_text = st.text(max_size=30)


@pytest.fixture
def nurse_window(open_window, patient):
    """One window for all of a test's examples (function fixtures outlive each example)."""
    return open_window("nurse")


def state(db) -> tuple[int, int, int]:
    with UnitOfWork(db, write=False) as uow:
        doses = uow.session.scalar(select(func.count()).select_from(DoseRecordRow))
        audit = uow.session.scalar(select(func.count()).select_from(AuditEntry))
        head = uow.session.scalars(select(AuditHead)).one().last_id
    return int(doses or 0), int(audit or 0), head


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drug=st.sampled_from(["prednisone", "Dexamethasone", "aspirin", "", "budesonide",
                             "methylprednisolone"]),
       amount=amounts, frequency=st.integers(0, 6), start=dates,
       end=st.one_of(st.just(""), dates), comment=free_text,
       reason=st.one_of(st.just("patient's own choice"), free_text))
def test_save_writes_one_whole_record_or_nothing(nurse_window, dialogs, db, message_log,
                                                 drug, amount, frequency, start, end, comment,
                                                 reason):
    form = dialogs.opened[-1] if dialogs.opened else None
    if not isinstance(form, DoseDialog) or not form.isVisible():  # the last one was saved
        nurse_window.new_dose()
        form = dialogs.last(DoseDialog)
    form.drug.setEditText(drug)
    form.dose_mg.setText(amount)
    form.frequency.setCurrentIndex(frequency)
    form.start_date.setText(start)
    form.end_date.setText(end)
    form.comment.setText(comment)
    form.deviation_reason.setText(reason)
    before = state(db)
    form.save()
    after = state(db)
    shown = message_log.take()
    # Only the plausibility question may come up (twice the current dose, over the
    # baseline); the recorder answers no ("Go back"), so the form stays, nothing written.
    assert all(m.kind == "question" for m in shown), (
        "a typed value must never end in an error or warning box")
    if form.isVisible():  # refused, or sent back to check: nothing written
        assert after == before
        assert shown or form.errors.marked() or form.general_error.text()
    elif "nothing new was recorded" in nurse_window.statusBar().currentMessage():
        assert after == before  # the dose already ongoing: nothing to write, and said so
    else:  # saved: one record (maybe one closed) and its audit rows, chained
        assert after[0] == before[0] + 1
        assert after[1] > before[1] and after[2] == after[1]
