"""Fuzzing the CSV import: whatever the bytes, no crash, every problem ``FILE:LINE: column:
message``, and a refused import leaves the database exactly as it was."""

from __future__ import annotations

import itertools
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from taper_app.services.errors import ValidationError
from taper_app.services.imports import (
    AMENDMENT_COLUMNS,
    DOSE_COLUMNS,
    PATIENT_COLUMNS,
    import_files,
)
from taper_app.storage.models import AuditHead
from taper_app.storage.uow import UnitOfWork
from tests.conftest import context
from tests.unit.services.test_imports import GOOD_PATIENT, PATIENTS_HEADER, table_counts, write

pytestmark = pytest.mark.sqlite_only  # nothing here reaches a write on a refused file

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
KINDS = {"patients": PATIENT_COLUMNS, "doses": DOSE_COLUMNS, "amendments": AMENDMENT_COLUMNS}

#: Cell values: plausible ones, near misses and junk (quotes, separators, control bytes).
cells = st.one_of(
    st.sampled_from(["101-001", "101-002", "101", "2026-01-05", "2026-02-30", "20", "2.5",
                     "-1", "1e3", "prednisone", "dexamethasone", "aspirin", "QD", "BID",
                     "ONCE", "PO", "IV", "XX", "stepdown-a", "clinic", "diary", "flare", "",
                     "NaN", "Infinity", "0", "99999999999999999999", " 20 ", "２０"]),
    st.text(alphabet=string.printable + "éü中\u00a0\u202e\x00\x1b", max_size=12),
)


def state(db) -> tuple[dict[str, int], tuple[int, str]]:
    """Row counts of every clinical table and the audit chain's head."""
    with UnitOfWork(db, write=False) as uow:
        head = uow.session.scalars(select(AuditHead)).one()
        chain = (head.last_id, head.last_hash)
    return table_counts(db), chain


def check_import(db, study, path: Path, kind: str) -> None:
    """The property: accepted, or refused with located problems and nothing written."""
    before = state(db)
    try:
        result = import_files(context(db, "investigator"), study, **{kind: path})
    except ValidationError as exc:
        assert exc.problems, "a refusal must say why"
        for problem in exc.problems:
            assert problem.file == str(path), problem
            assert problem.line is not None and problem.line >= 1, problem
            assert problem.field and problem.message, problem
            assert str(problem).startswith(f"{path}:{problem.line}: {problem.field}: ")
        assert state(db) == before, "a refused import changed the database"
    else:
        imported = result.patients + result.doses + result.amendments
        if imported:
            assert state(db)[1][0] > before[1][0], "an accepted import must be audited"
        else:  # a header and blank lines only: accepted, and nothing written
            assert state(db) == before


@FUZZ
@given(data=st.binary(max_size=300), kind=st.sampled_from(sorted(KINDS)))
@example(data=b"\xff\xfe\x00s\x00u", kind="patients")
@example(data=b'subject_id,"site\n', kind="patients")
@example(data=b"\r\r\r", kind="doses")
def test_random_bytes_never_crash_the_import(db, study, tmp_path, data, kind):
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(data)
    check_import(db, study, path, kind)


@st.composite
def csv_files(draw: st.DrawFn, kind: str) -> str:
    """A header of the kind's columns (sometimes shuffled, dropped or doubled) and rows of
    random cells, some with the wrong number of fields; quoted with random separators."""
    required, optional = KINDS[kind]
    header = list(required) + draw(st.lists(st.sampled_from(optional), unique=True)
                                   if optional else st.just([]))
    header = draw(st.permutations(header))
    if draw(st.booleans()):
        header = header + draw(st.lists(st.sampled_from(["", "extra", required[0]]),
                                        max_size=1))
    if draw(st.integers(0, 9)) == 0:
        header = header[1:]
    rows = draw(st.lists(st.lists(cells, min_size=max(0, len(header) - 1),
                                  max_size=len(header) + 1), max_size=5))
    lines = [",".join(header)]
    for row in rows:
        quoted = ['"' + c.replace('"', '""') + '"' if draw(st.booleans()) else c for c in row]
        lines.append(",".join(quoted))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_malformed_rows_are_each_located_and_nothing_is_half_written(db, study, tmp_path,
                                                                      data, kind):
    path = tmp_path / f"{kind}.csv"
    path.write_text(data.draw(csv_files(kind)), encoding="utf-8")
    check_import(db, study, path, kind)


_serial = itertools.count(1000)


@FUZZ
@given(bad=st.lists(cells, min_size=5, max_size=5), at=st.integers(0, 3))
def test_one_bad_patient_among_good_ones_refuses_the_whole_file(db, study, tmp_path, bad, at):
    """Good rows never go in without the rest: the file is one transaction."""
    # Fresh subjects each example: an example whose random row was valid went in.
    good = [GOOD_PATIENT.replace("101-001", f"101-{next(_serial):04d}") for _ in range(4)]
    rows = [*good[:at], ",".join('"' + c.replace('"', '""') + '"' for c in bad), *good[at:]]
    path = write(tmp_path / "patients.csv", PATIENTS_HEADER, *rows)
    before = state(db)
    try:
        result = import_files(context(db, "nurse"), study, patients=path)
    except ValidationError as exc:
        # Each problem is on the bad row, or about the file as a whole (a NUL byte in it).
        assert all(p.line == at + 2 or p.field == "file" for p in exc.problems), exc.problems
        assert state(db) == before
    else:  # the random row was a valid patient (all five went in together) or blank
        expected = 5 if any(c.strip() for c in bad) else 4
        assert result.patients == expected
        assert state(db)[0]["patient"] == before[0]["patient"] + expected
