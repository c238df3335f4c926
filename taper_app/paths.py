"""Where things live: shipped resources (from source or frozen) and per-user folders."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "taper-app"
APP_AUTHOR = "TaperTracker"


def is_frozen() -> bool:
    """Whether this is the packaged program (build.spec) rather than Python running source."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def resources_dir() -> Path:
    """The shipped ``resources/`` folder, beside the package or inside a PyInstaller bundle.

    build.spec copies ``resources/`` into the bundle at the same relative place, and the
    Alembic migrations to ``taper_app/storage/migrations`` as in the source tree, so code
    that finds its data through ``__file__`` works unchanged in both.
    """
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS")) / "resources"  # noqa: B009 (set when frozen)
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def app_icon() -> Path:
    """The window icon (PNG); Windows and macOS programs also carry it (build.spec)."""
    return resource("icons", "taper-app.png")


def data_dir() -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Per-user cache (matplotlib's font list for the frozen program); safe to delete."""
    path = Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database() -> Path:
    return data_dir() / "taper.sqlite"
