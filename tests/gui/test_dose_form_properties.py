"""Whatever is typed into the dose form, it never breaks: a figure, or a reason why not."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.qt import Qt

amounts = st.one_of(
    st.text(alphabet="0123456789.,-+e x", max_size=8),
    st.decimals(min_value=-50, max_value=5000, places=3, allow_nan=False).map(str),
)
dates = st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12))
drugs = st.sampled_from(["prednisone", "Dexamethasone", "hydrocortisone ", "aspirin", "",
                         "budesonide", "methylprednisolone"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drug=drugs, amount=amounts, start=dates, end=st.one_of(st.just(""), dates))
def test_any_input_shows_a_figure_or_marks_a_field(open_window, patient, keyboard, dialogs,
                                                   drug, amount, start, end):
    if not dialogs.opened:
        open_window("nurse")
        keyboard.shortcut(Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    form = dialogs.last(DoseDialog)
    form.drug.setEditText(drug)
    form.dose_mg.setText(amount)
    form.start_date.setText(start)
    form.end_date.setText(end)
    preview = form.preview
    assert preview is not None
    if preview.peq_mg_per_day is None:
        assert preview.problems and "–" in form.readout.text()
    else:
        assert not preview.problems
        assert 0 <= preview.peq_mg_per_day <= 2000
        assert "mg/day</b> prednisone-equivalent" in form.readout.text()
