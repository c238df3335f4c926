"""The window through the application server on a site's network, beside the same window
on a local study file, measured in the same run (issue #15 point 6).

The study file is copied into a throw-away PostgreSQL server (``taper-app db copy``), a
real ``taper-app serve`` runs on the server's own granted role, and bench/delay_proxy.py
adds 25 ms of round trip in front of it. A driver process (bench/drivers.py
window-remote) then does the same work in the same user's window on the file and through
the proxy, alternately: sign-in to the loaded list, a patient switch, a dose save; and
the GUI thread's longest block during each.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, update

from bench.delay_proxy import DelayProxy
from bench.measure import Result
from taper_app.storage.models import User

ROUND_TRIP = 0.025


@contextlib.contextmanager
def served(study: Path, folder: Path) -> Iterator[str]:
    """``study`` (a SQLite file) on an application server behind the delaying proxy: the
    address a laptop would be given."""
    from taper_app import cli
    from tests.integration.server_process import application_role, running_server
    from tests.pgserver import start_server

    pg = start_server(folder / "pg")
    try:
        engine = create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("CREATE DATABASE bench_study")
        finally:
            engine.dispose()
        url = pg.url("bench_study")
        err = io.StringIO()
        if cli.run(["db", "copy", "--from", str(study), "--to", url], out=io.StringIO(),
                   err=err) != 0:
            raise RuntimeError(f"db copy failed: {err.getvalue()}")
        engine = create_engine(url)
        try:  # the synthetic users' first passwords, as if each had chosen her own
            with engine.begin() as conn:
                conn.execute(update(User).values(must_change_password=False))
        finally:
            engine.dispose()
        with contextlib.contextmanager(application_role)(url) as app_url, \
                running_server(app_url, folder / "server.log") as server_url:
            port = int(server_url.rsplit(":", 1)[1])
            with DelayProxy(("127.0.0.1", port), ROUND_TRIP) as proxy:
                yield f"http://127.0.0.1:{proxy.port}"
    finally:
        pg.stop()


def bench_remote(study: Path, folder: Path, subject: str, other: str, as_of: date,
                 runs: int) -> list[Result]:
    """The window through the server + proxy against the window on ``study`` (a private
    copy: the saves write to it), each a ratio to the file's in the same run."""
    from bench.benchmarks import _driver

    with served(study, folder) as url:
        _elapsed, report = _driver("window-remote", str(study), url, as_of.isoformat(),
                                   subject, other, str(runs))
    same = bool(report["same figures before"]) and bool(report["same figures after"])
    figures = ("the same figures on both: every patient's summary --json object equal, "
               "before and after the saves" if same else
               "FIGURES DIFFER between the server's window and the file's")
    where = (f"through taper-app serve on PostgreSQL (fsync off: a test server) behind a "
             f"{ROUND_TRIP * 1000:.0f} ms round-trip proxy; subprocess, offscreen, real "
             "thread pool, until the event queue is empty; ")
    results = []
    for key, name, target, what in (
            ("sign-in", "sign-in to the loaded list", None,
             "sign-in (the password checked), the study read, the window built and its "
             "list of every patient's figures loaded and shown"),
            ("switch doses", f"patient switch, Doses tab ({subject}: {report['records']} "
             "records)", 0.150,
             "a patient whose record the window does not hold yet: through the server the "
             "record is fetched with the switch, beside the signatures; on the file the "
             "list has it"),
            ("switch charts", f"patient switch, Charts tab ({subject})", 0.150,
             "as the Doses tab, with the chart drawn and painted"),
            ("save", f"dose save ({subject})", 0.150,
             "the dose form's work after its checks: the signed-period check, the save "
             "(one transaction with its audit rows), the patient reloaded and shown")):
        block, file_block = max(report[f"{key} block"]), max(report[f"{key} file block"])
        results.append(Result(
            f"through the server: {name}", report[key],
            baseline_name="the same in the window on the study file",
            baseline=report[f"{key} file"], target=target,
            note=f"{where}{what}. GUI thread's longest block: {block * 1000:.0f} ms through "
                 f"the server, {file_block * 1000:.0f} ms on the file (target: none over "
                 f"50 ms). {figures}."))
        results.append(Result(
            f"through the server: {name}, longest GUI-thread block",
            report[f"{key} block"], baseline_name="the same on the study file",
            baseline=report[f"{key} file block"], target=0.050,
            note="a 2 ms QTimer heartbeat on the GUI thread: its largest gap during the "
                 "work (per run; the median of the runs' longest gaps is shown, the worst "
                 "run in the note above)"))
    return results
