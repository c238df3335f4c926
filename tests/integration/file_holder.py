"""A child process for the restore tests: has the study file open, as an idle window does.

Usage: python -m tests.integration.file_holder DB
Opens the database, reads the study (so a connection is really open), prints "open"
(flushed), and keeps the file open until its standard input closes; then prints "closed".
"""

from __future__ import annotations

import sys

from taper_app.services.study import load_study
from taper_app.storage.engine import open_database


def main() -> None:
    db = open_database(sys.argv[1])
    load_study(db)
    print("open", flush=True)
    sys.stdin.read()  # an idle window: no transaction, nothing locked by SQLite itself
    db.dispose()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
