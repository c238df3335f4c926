"""The audit trail's head kept outside the database: on every page of every PDF, in each
export's README, in the audit CSV's first line, in each e-signature and in each automatic
backup, so that `audit verify --head` can later tell a rollback, truncation or rewrite."""

from __future__ import annotations

import io
import itertools
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from taper_app.remote.wire import decode, encode
from taper_app.results import AuditHeadMark
from taper_app.services.audit import trail_head
from taper_app.services.calendar import print_dosing_calendar
from taper_app.services.file_safety import automatic_backup, check_study_file
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.reporting import cohort_report, patient_report, stored_signatures
from taper_app.services.signatures import sign_record, signatures_for
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.cli_door import taper
from tests.conftest import NOW, PASSWORD, context
from tests.unit.services.test_audit_reconcile import attack, rechain

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


def head(db: Database) -> AuditHeadMark:
    with UnitOfWork(db, write=False) as uow:
        return trail_head(uow.session)


@pytest.fixture
def patient(db: Database, study) -> str:
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-03-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "20", "start_date": "2026-03-01"})
    return "101-001"


def pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_every_page_of_every_pdf_carries_the_head_the_data_was_read_at(db, study, patient):
    mark = head(db)
    assert mark.rows > 0 and len(mark.short.split(":")[1]) == 16
    printed = {
        "patient": pages(patient_report(db, study, patient, date(2026, 7, 1)).pdf),
        "cohort": pages(cohort_report(db, study, date(2026, 7, 1)).pdf),
        "calendar": pages(print_dosing_calendar(context(db, "nurse"), patient,
                                                date(2026, 7, 6), 8).pdf),
    }
    for name, texts in printed.items():
        assert len(texts) >= 1, name
        for number, page in enumerate(texts, start=1):
            assert f"audit trail head {mark.short}" in page, (name, number)
    assert len(printed["patient"]) > 1  # the footer is on the later pages too


def test_a_later_printout_carries_the_later_head(db, study, patient):
    before = head(db)
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-04-01"})
    after = head(db)
    assert after.rows > before.rows
    [first, *_] = pages(patient_report(db, study, patient, date(2026, 7, 1)).pdf)
    assert f"audit trail head {after.short}" in first and before.short not in first


# ---------------------------------------------------------------- e-signatures

def test_a_signature_keeps_and_shows_the_head_it_was_made_at(db, study, patient):
    view = sign_record(context(db, "investigator"), patient, date(2026, 6, 30), "reviewed",
                       PASSWORD)
    at_signing = head(db)
    assert view.audit_head == at_signing  # the signing's own audit row is the head
    assert f"audit head {at_signing.short}" in view.manifestation
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-07-01"})
    [stored] = signatures_for(db, patient)
    assert stored.valid and stored.audit_head == at_signing
    report = pages(patient_report(db, study, patient, date(2026, 7, 1)).pdf)
    # the status cell wraps: compare the words, not the line breaks
    assert any(f"Valid (audit head {at_signing.short})" in " ".join(page.split())
               for page in report)


def test_a_signature_whose_head_is_gone_from_a_rewritten_trail_is_not_valid(db, patient):
    sign_record(context(db, "investigator"), patient, date(2026, 6, 30), "reviewed", PASSWORD)
    # Nothing the signature covers is touched: one early row (the study's set-up) goes,
    # and the trail is renumbered and rehashed so the chain verifies again.
    attack(db, "DELETE FROM audit_log WHERE id = 2")
    rechain(db)
    [stored] = signatures_for(db, patient)
    assert not stored.valid
    assert stored.broken_by is not None and "no longer holds its head" in stored.broken_by
    [shown] = stored_signatures(db, patient)
    assert not shown.valid and "NO LONGER VALID" in (shown.note or "")


def test_a_signature_whose_head_was_cut_off_with_the_trails_tail_is_not_valid(db, patient):
    sign_record(context(db, "investigator"), patient, date(2026, 6, 30), "reviewed", PASSWORD)
    mark = head(db)
    # Put the signature back at an earlier row: the trail cut at it, the head row moved.
    attack(db, f"DELETE FROM audit_log WHERE id >= {mark.rows}",
           f"UPDATE audit_head SET last_id = {mark.rows - 1}, last_hash = (SELECT row_hash "
           f"FROM audit_log WHERE id = {mark.rows - 1})")
    [stored] = signatures_for(db, patient)
    assert not stored.valid and mark.short in (stored.broken_by or "")


# ---------------------------------------------------------------- automatic backups

def ticking():
    minutes = itertools.count()
    return lambda: NOW + timedelta(minutes=next(minutes))


@pytest.mark.sqlite_only
def test_each_automatic_backup_records_the_head_it_holds_and_rotation_drops_it(db, study,
                                                                                patient):
    clock = ticking()
    first = automatic_backup(db, "start", clock, keep=2)
    assert first is not None
    assert first.with_suffix(".head").read_text() == f"{head(db).rows} {head(db).hash}\n"
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-04-01"})
    second = automatic_backup(db, "timer", clock, keep=2)
    assert second is not None and second.with_suffix(".head").read_text().startswith(
        f"{head(db).rows} ")
    automatic_backup(db, "timer", clock, keep=2)
    assert not first.exists() and not first.with_suffix(".head").exists()
    assert db.path is not None and check_study_file(str(db.path)).behind_backup == ""


@pytest.mark.sqlite_only
def test_a_rollback_to_an_older_backup_is_flagged_at_start_up_and_by_the_head(
        db, study, patient):
    clock = ticking()
    older = automatic_backup(db, "start", clock, keep=10)
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-04-01"})
    newest = automatic_backup(db, "close", clock, keep=10)
    later = head(db)
    assert older is not None and newest is not None and db.path is not None
    path = db.path
    db.dispose()
    shutil.copyfile(older, path)  # the file's owner puts the older copy back
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    check = check_study_file(str(path))
    assert check is not None and check.ok  # a sound file...
    assert newest.name in check.behind_backup and later.short in check.behind_backup
    status, _, err = taper("audit", "verify", "--db", str(path), "--head", later.short)
    assert status == 1 and "does NOT agree" in err


@pytest.mark.sqlite_only
def test_a_trail_cut_with_its_head_moved_is_flagged_at_start_up(db, study, patient):
    clock = ticking()
    record_dose(context(db, "nurse"), study, patient, {**DOSE, "dose_mg": "15",
                                                       "start_date": "2026-04-01"})
    automatic_backup(db, "close", clock, keep=10)
    mark = head(db)
    attack(db, f"DELETE FROM audit_log WHERE id > {mark.rows - 3}",
           f"UPDATE audit_head SET last_id = {mark.rows - 3}, last_hash = (SELECT row_hash "
           f"FROM audit_log WHERE id = {mark.rows - 3})")
    assert db.path is not None
    assert "does not extend" in check_study_file(str(db.path)).behind_backup


def test_a_signature_with_its_head_crosses_the_servers_wire_format(db, patient):
    view = sign_record(context(db, "investigator"), patient, date(2026, 6, 30), "reviewed",
                       PASSWORD)
    back = decode(json.loads(json.dumps(encode(view))))
    assert back == view and back.audit_head == view.audit_head
