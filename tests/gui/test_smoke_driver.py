"""The packaging smoke driver (ui/smoke.py) is only ever armed on Qt's offscreen platform;
the entry point only looks for its variable."""

from __future__ import annotations

import pytest

from taper_app import __main__
from taper_app.ui import smoke
from taper_app.ui.smoke import SMOKE_QUIT_MAX_MS, smoke_quit_ms


@pytest.mark.parametrize(("environ", "expected"), [
    ({"TAPER_SMOKE_QUIT_MS": "4000", "QT_QPA_PLATFORM": "offscreen"}, 4000),
    ({"TAPER_SMOKE_QUIT_MS": " 250 ", "QT_QPA_PLATFORM": "offscreen:fontengine=freetype"}, 250),
    ({"TAPER_SMOKE_QUIT_MS": "4000"}, None),                                  # a screen
    ({"TAPER_SMOKE_QUIT_MS": "4000", "QT_QPA_PLATFORM": "xcb"}, None),
    ({"TAPER_SMOKE_QUIT_MS": "4000", "QT_QPA_PLATFORM": "windows"}, None),
    ({"TAPER_SMOKE_QUIT_MS": "soon", "QT_QPA_PLATFORM": "offscreen"}, None),
    ({"TAPER_SMOKE_QUIT_MS": "-5", "QT_QPA_PLATFORM": "offscreen"}, None),
    ({"QT_QPA_PLATFORM": "offscreen"}, None),                                 # normal use
])
def test_the_smoke_hook_is_armed_only_when_asked_for_on_the_offscreen_platform(
        environ: dict[str, str], expected: int | None):
    assert smoke_quit_ms(environ) == expected


def test_a_smoke_tested_window_never_stays_open_longer_than_the_cap():
    environ = {"TAPER_SMOKE_QUIT_MS": "999999999", "QT_QPA_PLATFORM": "offscreen"}
    assert smoke_quit_ms(environ) == SMOKE_QUIT_MAX_MS


def test_the_entry_point_looks_for_the_drivers_own_variable():
    assert __main__.SMOKE_QUIT_ENV == smoke.SMOKE_QUIT_ENV == "TAPER_SMOKE_QUIT_MS"
