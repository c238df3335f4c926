"""The demo's Study > Reset the demo study: the window rebuilds the demo and signs in again
on the new one; it exists only on the demo."""

from __future__ import annotations

from taper_app.services.context import ServiceContext
from taper_app.services.demo import DEMO_PASSWORD, create_demo, prepare_demo
from taper_app.services.study import authenticate, load_study
from taper_app.ui import app as app_module
from taper_app.ui.main_window import MainWindow
from tests.conftest import TODAY, fixed_clock

from .conftest import enroll, study_menu, when_the_window_shows


def test_reset_demo_rebuilds_the_study_and_asks_who_signs_in(tmp_path, message_log,
                                                             monkeypatch):
    path = tmp_path / "demo.sqlite"
    db = create_demo(path, TODAY, clock=fixed_clock)
    nurse = authenticate(db, "nurse", DEMO_PASSWORD, fixed_clock)
    enroll(ServiceContext(db, nurse, fixed_clock, lambda: TODAY), load_study(db), "101-999",
           TODAY)  # entered in the demo: a reset loses it
    db.dispose()
    rebuilt: list[bool] = []
    signed_in: list[str] = []
    seen: list[list[str]] = []

    def reset() -> None:
        rebuilt.append(prepare_demo(path, TODAY, reset=True, clock=fixed_clock))

    def sign_in(connection, study_info, clock):
        if len(signed_in) == 2:
            return None
        signed_in.append("nurse")
        return connection.authenticate("nurse", DEMO_PASSWORD, clock)

    def act(window: MainWindow) -> None:
        seen.append([r.subject_id for r in window.patients_model.rows()])
        if len(seen) == 1:
            assert window.actions_by_name["reset_demo"] in study_menu(window).actions()
            message_log.answers.append(True)  # "Rebuild the demo study as new?" yes
            window.actions_by_name["reset_demo"].trigger()
            when_the_window_shows(act, after_ms=50)
        else:
            window.close()

    monkeypatch.setattr(app_module.LoginDialog, "ask", staticmethod(sign_in))
    when_the_window_shows(act)
    status = app_module.run_gui(str(path), today=lambda: TODAY, clock=fixed_clock,
                                reset_demo=reset)
    assert status == 0
    assert [m.title for m in message_log.take("question")] == ["Reset the demo study"]
    assert rebuilt == [True] and signed_in == ["nurse", "nurse"]
    assert "101-999" in seen[0] and len(seen[0]) == 41
    assert "101-999" not in seen[1] and len(seen[1]) == 40


def test_only_the_demo_has_a_reset(open_window):
    window = open_window("nurse")
    assert window.actions_by_name["reset_demo"] not in study_menu(window).actions()
