"""The multi-site set-up of docs/multi-site.md on one machine, for the benchmarks: a
PostgreSQL server (durable: fsync and synchronous commits on), the study copied into it
with ``taper-app db copy``, the server's own role granted with ``taper-app db grant``,
``taper-app serve`` on that role, and a delaying proxy in front of it (bench/delay_proxy.py),
so a window in another process talks to the server as a site laptop would over a network.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.delay_proxy import DelayProxy


class NoPostgres(RuntimeError):
    """PostgreSQL's server programs are not installed (``bash .ci/setup`` installs them)."""


@dataclass(frozen=True)
class Central:
    #: The server's address through the delaying proxy (what the laptop's window uses).
    url: str
    #: The server's own address, without the delay.
    direct_url: str
    round_trip_s: float
    proxy: DelayProxy


@contextlib.contextmanager
def central_study(study_file: Path, round_trip_s: float) -> Iterator[Central]:
    """``study_file`` (SQLite) copied to a fresh PostgreSQL server, served on 127.0.0.1
    behind a proxy adding ``round_trip_s``; everything stopped and removed afterwards."""
    from taper_app import cli
    from tests.integration.server_process import application_role, running_server
    from tests.pgserver import find_bindir, start_server

    if find_bindir() is None:
        raise NoPostgres("PostgreSQL's server programs are not installed; run bash .ci/setup")
    base = Path(tempfile.mkdtemp(prefix="taper-bench-central-"))
    server = start_server(base / "postgres", durable=True)
    try:
        from sqlalchemy import create_engine

        engine = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench")
        engine.dispose()
        owner_url = server.url("bench")
        err = io.StringIO()
        if cli.run(["db", "copy", "--from", str(study_file), "--to", owner_url],
                   out=io.StringIO(), err=err) != 0:
            raise RuntimeError(f"db copy into PostgreSQL failed: {err.getvalue()}")
        roles = application_role(owner_url)
        app_url = next(roles)
        try:
            with running_server(app_url, base / "serve.log") as direct:
                port = int(direct.rsplit(":", 1)[1])
                with DelayProxy(("127.0.0.1", port), round_trip_s) as proxy:
                    yield Central(f"http://127.0.0.1:{proxy.port}", direct, round_trip_s,
                                  proxy)
        finally:
            roles.close()  # drops the role
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
