"""A dose saved through the application server comes back with what the window shows
next: the save is one request, and the window's reload right after it asks nothing more;
what it shows is what a window on the database shows. Anything else the window asks
afterwards goes to the server again (what the save sent back is kept for that one reload)."""

from __future__ import annotations

import pytest

from taper_app.remote.client import RemoteStudy
from taper_app.ui.dose_form import DoseDialog

from .test_window_through_server import detail_texts, list_texts, server, windows  # noqa: F401

pytestmark = pytest.mark.postgres_only


def _requests(window, monkeypatch) -> list[str]:
    """The use cases the window's gateway calls from now on, in order."""
    sent: list[str] = []
    call = RemoteStudy.call

    def counted(self, use_case, **args):
        sent.append(use_case)
        return call(self, use_case, **args)

    monkeypatch.setattr(RemoteStudy, "call", counted)
    return sent


def test_a_save_is_one_request_and_the_reload_after_it_asks_nothing(windows, dialogs,  # noqa: F811
                                                                    monkeypatch):
    window = windows.through_server("nora")
    window.new_dose()
    form = dialogs.last(DoseDialog)
    form.dose_mg.setText("10.5")
    form.comment.setText("clinic visit 3")
    sent = _requests(window, monkeypatch)
    form.save_button.click()
    assert not form.isVisible()
    # The signed-period check, the save; the patient and signatures came with the save.
    assert sent == ["window_signatures_broken", "window_record_dose"]
    direct = windows.on_database("nora")
    assert detail_texts(window) == detail_texts(direct)
    assert list_texts(window) == list_texts(direct)
    # Kept for that one reload only: the next look at the patient asks the server.
    window.gateway.patient_row(window.study, "101-001", window.ctx.today())
    window.gateway.signatures("101-001")
    assert sent[2:] == ["window_patient", "window_signatures"]
