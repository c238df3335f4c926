"""Opening a database already at this version's schema skips Alembic, and means the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from taper_app.storage.engine import Database, head_revision, shipped_head

ROOT = Path(__file__).resolve().parents[3]


def test_the_head_read_from_the_scripts_is_alembics_head() -> None:
    assert shipped_head() == head_revision()


def test_opening_a_current_database_does_not_import_alembic(db: Database) -> None:
    """On both backends: the revision is read with plain SQL, Alembic only to migrate."""
    probe = ("import sys; from taper_app.storage.engine import open_database; "
             f"open_database({db.url!r}).dispose(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip() == "False"

