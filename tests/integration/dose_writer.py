"""A child process for the crash and concurrency tests: records doses in a loop.

Usage: python -m tests.integration.dose_writer DB SUBJECT FIRST_INDEX COUNT
Prints "saved <record id>" after each committed save (flushed), so the parent knows
exactly which saves the program reported as done.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.patients import record_dose
from taper_app.services.study import load_study
from taper_app.storage.engine import open_database

TODAY = date(2026, 7, 2)


def main() -> None:
    path, subject, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    db = open_database(path)
    study = load_study(db)
    ctx = ServiceContext(db, Actor("nurse", "Nurse Example", "nurse"),
                         lambda: datetime.now(UTC), lambda: TODAY)
    start = date(2020, 1, 1)
    for i in range(first, first + count):
        day = start + timedelta(days=i % 2000)
        saved = record_dose(ctx, study, subject, {
            "drug": "prednisone", "dose_mg": f"{5 + (i % 20) / 2}", "frequency": "QD",
            "route": "PO", "start_date": day.isoformat(), "end_date": day.isoformat()})
        print(f"saved {saved.record_id}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
