"""Start-up: logging, then the command line or the window.

This file is also the entry script of the frozen program (build.spec), where it runs as a
plain script rather than as part of the package; hence the absolute imports.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence

log = logging.getLogger("taper_app")

#: Set only by the packaging smoke test (docs/packaging.md), whose driver is ui/smoke.py
#: (the same name as smoke.SMOKE_QUIT_ENV, tested).
SMOKE_QUIT_ENV = "TAPER_SMOKE_QUIT_MS"


def setup_logging() -> None:
    from taper_app.paths import log_dir

    try:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_dir() / "taper-app.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def record_fatal_crashes() -> None:
    """faulthandler on, writing into the log folder (the window shows it at the next start)."""
    from taper_app import crash_log
    from taper_app.paths import log_dir

    try:
        folder = log_dir()
    except OSError as exc:
        log.warning("no crash log: the log folder cannot be made (%s)", exc)
        return
    crash_log.enable(folder)


def use_lasting_matplotlib_cache() -> None:
    """In the frozen program, keep matplotlib's font list between runs.

    PyInstaller's matplotlib run-time hook (kept, as all its run-time hooks are) hands
    matplotlib a new, empty settings folder at every start and removes it at exit: right
    for one-file builds, which unpack to a new place each time, but then every chart or
    report would first rebuild the font list (seconds). The one-folder program keeps its
    fonts in one place, so its settings folder is the per-user cache instead; matplotlib
    reads the variable when it is first imported, after this.
    """
    from taper_app.paths import cache_dir, is_frozen

    if is_frozen():
        with contextlib.suppress(OSError):
            os.environ["MPLCONFIGDIR"] = str(cache_dir() / "matplotlib")


def _opens_window(argv: Sequence[str] | None) -> bool:
    """Whether these arguments open the window (no command), without acting on them."""
    from taper_app.cli import parser_for

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            args = list(sys.argv[1:] if argv is None else argv)
            return parser_for(args).parse_args(args).command is None
        except SystemExit:  # --help, --version, a usage error: cli.run deals with them
            return False


def _arm_smoke_test() -> None:
    try:
        from taper_app.ui import smoke
    except ImportError:  # a build without the window: the command line says so
        return
    smoke.arm(os.environ)


def main(argv: Sequence[str] | None = None) -> int:
    from taper_app.cli import run

    setup_logging()
    record_fatal_crashes()
    use_lasting_matplotlib_cache()
    # Only the smoke test pays for finding out, before the command line runs, whether
    # these arguments open the window.
    if SMOKE_QUIT_ENV in os.environ and _opens_window(argv):
        _arm_smoke_test()
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
