"""Start-up: logging, then the command line or the window."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Sequence


def setup_logging() -> None:
    from .paths import log_dir

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


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import run

    setup_logging()
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
