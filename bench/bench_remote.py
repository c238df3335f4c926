"""The window through the application server over a network (issue 15, point 6), beside
the same window on a local SQLite file, measured in the same run.

The study is copied to a durable PostgreSQL server, served by ``taper-app serve`` on its
granted role, behind bench/delay_proxy.py adding 25 ms of round trip (bench/central.py).
The window runs in fresh processes (bench/drivers.py ``window-day``), alternating file and
server: signing in to the loaded list, switching patient, saving a dose with the form,
each with the GUI thread's longest block; the list's figures must be the same both ways.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bench.central import Central, NoPostgres, central_study
from bench.measure import Result

ROUND_TRIP_S = 0.025
#: The investigator's own password, chosen on the copies (the synthetic study's is a first
#: password, which the window would have them change before anything else).
CHOSEN_PASSWORD = "synthetic-password-chosen"


def prepare_copy(study_file: Path, copy: Path, as_of: date) -> None:
    """A private copy of the study whose investigator has chosen their own password
    (through the service, audited as any change is)."""
    from bench.drivers import PASSWORD
    from taper_app.services.accounts import change_password
    from taper_app.storage.engine import open_database

    shutil.copyfile(study_file, copy)
    db = open_database(copy)
    try:
        change_password(db, "investigator", PASSWORD, CHOSEN_PASSWORD,
                        lambda: datetime(as_of.year, as_of.month, as_of.day, 9, tzinfo=UTC))
    finally:
        db.dispose()


def _day(location: str, as_of: date, subject: str, other: str, runs: int) -> dict[str, object]:
    from bench.benchmarks import _driver

    _elapsed, report = _driver("window-day", location, as_of.isoformat(), subject, other,
                               str(runs), CHOSEN_PASSWORD)
    return report


def bench_remote(study_file: Path, folder: Path, subject: str, other: str, as_of: date,
                 rounds: int, runs: int) -> list[Result]:
    """``rounds`` times, a file window then a server window (the order swapped every other
    round), each timing ``runs`` sign-ins, switches and saves after a warm-up."""
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / "window-day.sqlite"
    prepare_copy(study_file, local, as_of)
    central_copy = folder / "window-day-central.sqlite"
    prepare_copy(study_file, central_copy, as_of)
    file_days: list[dict[str, object]] = []
    server_days: list[dict[str, object]] = []
    try:
        with central_study(central_copy, ROUND_TRIP_S) as central:
            for n in range(rounds):
                order: Sequence[tuple[str, list[dict[str, object]]]] = (
                    (str(local), file_days), (central.url, server_days))
                for location, days in (order if n % 2 == 0 else order[::-1]):
                    days.append(_day(location, as_of, subject, other, runs))
            measured_trip = _round_trip(central)
    except NoPostgres as exc:
        print(f"window through the server: not measured ({exc})")
        return []
    if {d["figures"] for d in file_days} != {d["figures"] for d in server_days}:
        raise RuntimeError("the list's figures through the server differ from the file's")
    records = file_days[0]["records"]

    def series(days: list[dict[str, object]], step: str, which: int) -> list[float]:
        return [float(pair[which]) for d in days for pair in d[step]]  # type: ignore[attr-defined]

    note = (f"the window in a fresh process (offscreen) through `taper-app serve` on a durable "
            f"PostgreSQL, behind bench/delay_proxy.py adding {ROUND_TRIP_S * 1000:.0f} ms of "
            f"round trip (measured {measured_trip * 1000:.1f} ms for an empty request); the "
            "baseline is the same window on a local SQLite file, alternating with it; the "
            "list's figures were the same both ways")
    steps = (("sign_in", "sign-in to the loaded list (the investigator: every patient)",
              None),
             ("switch", f"patient switch, Doses tab ({subject}: {records} records)", 0.150),
             ("save", f"saving a dose with the form ({subject})", 0.150))
    results = []
    for key, words, target in steps:
        results.append(Result(f"through the server: {words}", series(server_days, key, 0),
                              baseline_name="the same on a local SQLite file",
                              baseline=series(file_days, key, 0), target=target, note=note))
    for key, words, _target in steps:
        results.append(Result(f"through the server: longest GUI-thread block, {words}",
                              series(server_days, key, 1),
                              baseline_name="the same on a local SQLite file",
                              baseline=series(file_days, key, 1), target=0.050,
                              note="the largest gap between the beats of a 1 ms timer on the "
                                   "GUI thread while the step ran (bench/drivers.py "
                                   "_Heartbeat)"))
    return results


def _round_trip(central: Central) -> float:
    """One empty request through the proxy (the median of five), as a check of the delay."""
    import statistics
    import time

    import httpx

    with httpx.Client(base_url=central.url) as client:
        client.post("/v1/sign-out", json={})
        times = []
        for _ in range(5):
            start = time.perf_counter()
            client.post("/v1/sign-out", json={})
            times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":  # a quick look: python -m bench.bench_remote STUDY.sqlite
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for result in bench_remote(Path(sys.argv[1]), Path(tmp), "101-001", "101-002",
                                   date(2026, 7, 2), rounds=2, runs=3):
            print(json.dumps({"name": result.name, "median": result.median,
                              "baseline": result.baseline_median, "ratio": result.ratio,
                              "verdict": result.verdict}))
