"""Where things live: shipped resources (from source or frozen) and per-user folders."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "taper-app"
APP_AUTHOR = "TaperTracker"


def resources_dir() -> Path:
    """The shipped ``resources/`` folder, beside the package or inside a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def data_dir() -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database() -> Path:
    return data_dir() / "taper.sqlite"
