"""Start-up of the packaged program: matplotlib's settings folder lasts between runs."""

from __future__ import annotations

import os
import sys

from taper_app import __main__


def test_frozen_matplotlib_keeps_its_font_list_in_the_per_user_cache(tmp_path, monkeypatch):
    """PyInstaller's run-time hook sets a throw-away folder first; the program replaces it."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "_MEI-throw-away"))
    __main__.use_lasting_matplotlib_cache()
    if sys.platform.startswith("linux"):
        assert os.environ["MPLCONFIGDIR"] == str(
            tmp_path / "cache" / "taper-app" / "matplotlib")


def test_from_source_matplotlibs_own_settings_folder_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))
    __main__.use_lasting_matplotlib_cache()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "mine")
