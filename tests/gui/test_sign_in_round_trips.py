"""Signing in through the application server asks for the study in the same worker as the
password: the window then opens on it without a round trip on the GUI thread."""

from __future__ import annotations

import threading

import pytest

from taper_app.remote.client import RemoteStudy
from taper_app.remote.gateway import ServerConnection
from tests.conftest import PASSWORD, TODAY, fixed_clock

from .test_window_through_server import server  # noqa: F401

pytestmark = pytest.mark.postgres_only


def test_the_study_comes_with_the_sign_in_and_the_window_asks_nothing_more(
        server, monkeypatch):  # noqa: F811
    calls: list[tuple[str, bool]] = []
    call = RemoteStudy.call

    def counted(self, use_case, **args):
        calls.append((use_case, threading.current_thread() is threading.main_thread()))
        return call(self, use_case, **args)

    monkeypatch.setattr(RemoteStudy, "call", counted)
    connection = ServerConnection(server)
    try:
        actor = threading_result(lambda: connection.authenticate("nora", PASSWORD,
                                                                 fixed_clock))
        assert actor is not None and calls == [("window_study", False)]  # in the worker
        gateway = connection.open(actor, fixed_clock, lambda: TODAY)
        study = gateway.load_study()
        assert calls == [("window_study", False)]  # nothing more asked
        assert gateway.settings()["idle_lock_minutes"] > 0 and study.name
        assert calls == [("window_study", False)]
        # A second window of the same session (switch user signs in again) asks anew.
        assert connection.open(actor, fixed_clock, lambda: TODAY).load_study() == study
        assert calls[-1] == ("window_study", True)
    finally:
        connection.close()


def threading_result(work):
    """``work()`` in another thread, as the sign-in dialog's task runner runs it."""
    out = []
    worker = threading.Thread(target=lambda: out.append(work()))
    worker.start()
    worker.join(60)
    return out[0]
