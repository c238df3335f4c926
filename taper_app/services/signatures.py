"""Electronic signatures (21 CFR Part 11 §11.50, §11.200) of a patient's taper record.

An investigator signs the record *up to a date* with their password and a meaning. The
signature keeps the printed name, user, UTC time, meaning and a SHA-256 of the signed
data. The signed data is everything that determines the taper up to that date; a later
change to any of it makes the signature invalid, and the audit row that changed it is
named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.units import format_mg
from ..results import AuditHeadMark, SignatureState
from ..storage.engine import Database
from ..storage.models import AuditEntry, AuditHead, Signature, User
from ..storage.uow import UnitOfWork
from .audit import AuditTrail, format_utc, row_hash_at
from .context import ServiceContext
from .errors import AuthenticationFailed, Problem, ValidationError
from .patients import lock_patient, lock_patients
from .records import PatientRecord, find_patient_row, load_patient
from .saving import saving
from .study import check_password_in_session

MEANINGS = ("reviewed", "approved")


def signed_data(record: PatientRecord, through: date) -> dict[str, object]:
    """The canonical content a signature covers: the patient, schedule, amendments and every
    dose record (voided ones too) that starts on or before ``through``, with ongoing or later
    end dates clipped to ``through`` (closing a record later does not change what was signed).
    """
    doses = []
    for d in record.doses:
        if d.start_date > through:
            continue
        end = d.end_date if d.end_date is not None and d.end_date <= through else None
        doses.append({"id": d.id, "drug": d.drug, "dose_mg": format_mg(d.dose_ug),
                      "frequency": d.frequency, "route": d.route,
                      "start": d.start_date.isoformat(),
                      "end": end.isoformat() if end else "ongoing-at-signing",
                      "voided": d.voided, "void_reason": d.void_reason,
                      "deviation_reason": d.deviation_reason})
    return {
        "subject_id": record.subject_id, "site": record.site,
        "day1": record.day1_date.isoformat(), "baseline_mg": format_mg(record.baseline_ug),
        "template": record.template_id, "through": through.isoformat(),
        "schedule": [[s.day, str(s.dose_mg)] for s in record.steps],
        # A withdrawal is named (only then, so signatures made before withdrawals existed
        # keep their hash).
        "amendments": [[a.seq, a.day, format_mg(a.dose_ug), a.reason]
                       + ([f"withdrawn: {a.withdraw_reason}"] if a.withdrawn else [])
                       for a in record.amendments],
        "doses": doses,
    }


def signed_data_hash(record: PatientRecord, through: date) -> str:
    canonical = json.dumps(signed_data(record, through), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class SignatureView:
    """A signature's manifestation, with whether it still holds and, if not, why."""

    printed_name: str
    username: str
    signed_at_utc: str
    meaning: str
    signed_through: date
    data_sha256: str
    valid: bool
    broken_by: str | None
    #: The audit trail's head the signature was made at (``audit verify --head`` takes it).
    audit_head: AuditHeadMark | None = None

    @property
    def manifestation(self) -> str:
        head = "" if self.audit_head is None else f", audit head {self.audit_head.short}"
        return (f"{self.printed_name} ({self.username}), {self.meaning}, "
                f"{self.signed_at_utc.replace('T', ' ')[:19]} UTC, "
                f"record through {self.signed_through.isoformat()}{head}")


@saving("sign a taper record")
def sign_record(ctx: ServiceContext, subject_id: str, through: date, meaning: str,
                password: str, patient_version: int | None = None) -> SignatureView:
    """Sign with the password again (every signing is a full id + password signing)."""
    return _sign_records(ctx, [(subject_id, patient_version)], through, meaning, password)[0]


@saving("sign taper records")
def sign_records(ctx: ServiceContext, patients: Sequence[tuple[str, int | None]],
                 through: date, meaning: str, password: str) -> list[SignatureView]:
    """Sign several patients' records through one date with one password entry and one
    meaning: each patient gets a signature of its own, with its own audit row, and all of
    them are saved together or none (``patients``: subject id and the record version the
    signer saw, or None)."""
    return _sign_records(ctx, patients, through, meaning, password)


def _sign_records(ctx: ServiceContext, patients: Sequence[tuple[str, int | None]],
                  through: date, meaning: str, password: str) -> list[SignatureView]:
    ctx.actor.require("sign_record")
    problems = []
    if meaning not in MEANINGS:
        problems.append(Problem("meaning", f"must be one of {', '.join(MEANINGS)}"))
    if through > ctx.today():
        problems.append(Problem("through", "a record cannot be signed for future dates"))
    if not patients:
        problems.append(Problem("patients", "choose at least one patient to sign"))
    if len({subject for subject, _ in patients}) != len(patients):
        problems.append(Problem("patients", "a patient is listed twice"))
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        user = uow.session.scalars(select(User).where(User.username == ctx.actor.username)).one()
        # A signing password counts like a sign-in: failures are audited and lock the
        # account, so signing cannot be used to guess a password.
        refused = check_password_in_session(uow.session,
                                            AuditTrail(uow.session, user.username, ctx.clock),
                                            user, user.username, password, ctx.clock(), "sign")
        if refused is not None:
            uow.commit()
            raise AuthenticationFailed(f"{refused}; nothing was signed")
        # Every patient first, in subject order, before the first signature's audit row
        # takes the chain's head (services/lock_order.py); signed in the order given.
        lock_patients(uow.session, ctx.actor, [subject_id for subject_id, _ in patients])
        views = [_sign_in_session(uow.session, ctx, user, subject_id, through, meaning,
                                  version) for subject_id, version in patients]
        uow.commit()
        return views


def _sign_in_session(session: Session, ctx: ServiceContext, user: User, subject_id: str,
                     through: date, meaning: str, patient_version: int | None
                     ) -> SignatureView:
    patient = lock_patient(session, ctx.actor, subject_id=subject_id,
                           expected_version=patient_version)
    if through < patient.day1_date:
        raise ValidationError([Problem("through", f"{through.isoformat()} is before "
                                       f"{subject_id}'s Day 1 "
                                       f"({patient.day1_date.isoformat()})")])
    record = load_patient(session, subject_id)
    digest = signed_data_hash(record, through)
    audit = AuditTrail(session, ctx.actor.username, ctx.clock)
    audit.add("sign", "signature", subject_id, "meaning", None,
              f"{meaning} through {through.isoformat()} sha256 {digest}",
              subject_id=subject_id)
    session.flush()
    head = session.get(AuditHead, 1)
    assert head is not None
    session.add(Signature(patient_id=patient.id, signed_through=through, meaning=meaning,
                          username=user.username, printed_name=user.full_name,
                          signed_at_utc=format_utc(ctx.clock()), data_sha256=digest,
                          audit_id_at_signing=head.last_id, audit_head_hash=head.last_hash))
    mark = AuditHeadMark(head.last_id, head.last_hash)
    return SignatureView(user.full_name, user.username, format_utc(ctx.clock()), meaning,
                         through, digest, True, None, mark)


def _touches_signed_data(entry: AuditEntry, record: PatientRecord, through: date) -> bool:
    """Whether an audit row changed what a signature through ``through`` covers.

    Dose rows that start after the signed date, or close a record after it, do not (they
    are outside :func:`signed_data`), so they are never named as the breaking change.
    """
    if entry.entity != "dose_record":
        return True
    if entry.action == "close_dose":
        try:
            return date.fromisoformat(entry.new_value or "") <= through
        except ValueError:
            return True
    dose = next((d for d in record.doses if str(d.id) == entry.entity_id), None)
    return dose is None or dose.start_date <= through


def _full_names(session: Session) -> dict[str, str]:
    return {username: full_name for username, full_name in
            session.execute(select(User.username, User.full_name))}


def _when(at_utc: str) -> str:
    """An audit time as people read it: ``2026-07-02 14:30 UTC``."""
    return f"{at_utc[:16].replace('T', ' ')} UTC"


#: A patient's stored fields as the trial calls them.
_PATIENT_FIELDS = {"day1_date": "Day 1 date", "baseline_mg": "baseline",
                   "template_id": "schedule template", "schedule": "schedule"}


def change_in_words(entry: AuditEntry, record: PatientRecord,
                    full_names: dict[str, str]) -> str:
    """What an audit row did to the signed record, in the trial's words (who, when, which
    dose by its date), never the program's action or record numbers."""
    who = full_names.get(entry.username, entry.username)
    by = f"by {who} on {_when(entry.at_utc)}"
    if entry.entity == "dose_record":
        dose = next((d for d in record.doses if str(d.id) == entry.entity_id), None)
        if dose is None:
            return f"A dose record was changed {by}"
        what = (f"Dose of {dose.start_date.isoformat()} ({dose.drug} "
                f"{format_mg(dose.dose_ug)} mg {dose.frequency})")
        if entry.action == "record_dose":
            added = "entered as a correction" if dose.replaces_id is not None else "added"
            return f"{what} {added} {by}"
        if entry.action == "void_dose":
            reason = f" ({entry.reason})" if entry.reason else ""
            return f"{what} voided {by}{reason}"
        if entry.action == "close_dose":
            return f"{what} ended on {entry.new_value} {by}"
        return f"{what} changed {by}"
    if entry.entity == "schedule":
        seq = entry.entity_id.rpartition("#")[2]
        amendment = next((a for a in record.amendments if str(a.seq) == seq), None)
        if amendment is not None:
            what = (f"from Day {amendment.day} to {format_mg(amendment.dose_ug)} mg/day")
            if entry.action == "withdraw_amendment":
                reason = f" ({entry.reason})" if entry.reason else ""
                return f"The amendment {what} withdrawn {by}{reason}"
            return f"Schedule amended {what} {by}"
        return f"Schedule amended {by}"
    if entry.entity == "patient" and entry.action == "correct_enrollment":
        label = {"day1_date": "Day 1", "baseline_mg": "baseline", "template_id": "template",
                 "schedule": "schedule"}.get(entry.field, entry.field.replace("_", " "))
        reason = f" ({entry.reason})" if entry.reason else ""
        unit = " mg/day" if entry.field == "baseline_mg" else ""
        return (f"Enrollment corrected: {label} {entry.old_value}{unit} → "
                f"{entry.new_value}{unit} {by}{reason}")
    if entry.entity == "patient":
        what = _PATIENT_FIELDS.get(entry.field, entry.field.replace("_", " "))
        if entry.field in ("day1_date", "baseline_mg", "template_id"):
            unit = " mg/day" if entry.field == "baseline_mg" else ""
            return (f"The patient's {what} changed from {entry.old_value}{unit} to "
                    f"{entry.new_value}{unit} {by}")
        return f"The patient's {what} changed {by}"
    return f"The signed record changed {by}"


def _signatures(session: Session, record: PatientRecord) -> list[SignatureView]:
    rows = session.scalars(select(Signature).where(Signature.patient_id == record.id)
                           .order_by(Signature.id)).all()
    out = []
    for s in rows:
        mark = (None if s.audit_head_hash is None
                else AuditHeadMark(s.audit_id_at_signing, s.audit_head_hash))
        valid = signed_data_hash(record, s.signed_through) == s.data_sha256
        broken_by = None
        if mark is not None and row_hash_at(session, mark.rows) != mark.hash:
            # Checked first: with the trail cut or rewritten, the data may even match again.
            valid = False
            broken_by = (f"the audit trail no longer holds its head {mark.short} (the trail "
                         "was truncated, rewritten or replaced by an older copy)")
        elif not valid:
            later = session.scalars(select(AuditEntry).where(
                AuditEntry.subject_id == record.subject_id,
                AuditEntry.id > s.audit_id_at_signing,
                AuditEntry.action.not_in(("sign", "sign_failed"))).order_by(AuditEntry.id))
            first = next((e for e in later
                          if _touches_signed_data(e, record, s.signed_through)), None)
            broken_by = ("the signed data changed" if first is None
                         else change_in_words(first, record, _full_names(session)))
        out.append(SignatureView(s.printed_name, s.username, s.signed_at_utc, s.meaning,
                                 s.signed_through, s.data_sha256, valid, broken_by, mark))
    return out


def signatures_for(db: Database, subject_id: str) -> list[SignatureView]:
    """Every signature of the patient, each checked against the data as it is now."""
    with UnitOfWork(db, write=False) as uow:
        patient = find_patient_row(uow.session, subject_id)
        if uow.session.scalar(select(Signature.id).where(Signature.patient_id == patient.id)
                              .limit(1)) is None:
            return []  # nothing to check: the patient's records need not be read
        record = load_patient(uow.session, subject_id)
        return _signatures(uow.session, record)


def signatures_a_change_breaks(db: Database, subject_id: str,
                               first_changed: date | None) -> list[SignatureView]:
    """The patient's signatures that still hold and that a change would break: those whose
    period reaches ``first_changed``, the earliest date the change touches (None: a change
    of the schedule or the patient, which every signature covers). The window asks this
    before it saves, to say that the record will need signing again."""
    return [v for v in signatures_for(db, subject_id)
            if v.valid and (first_changed is None or first_changed <= v.signed_through)]


def signature_states(db: Database, records: Sequence[PatientRecord]) -> dict[str, SignatureState]:
    """Each patient's :class:`SignatureState` (by subject id), from their latest signature,
    read for all of them at once (the patient list's load)."""
    by_id = {r.id: r for r in records}
    states = {r.subject_id: SignatureState("unsigned", why="never signed") for r in records}
    with UnitOfWork(db, write=False) as uow:
        latest: dict[int, Signature] = {}
        for s in uow.session.scalars(select(Signature).order_by(Signature.id)):
            if s.patient_id in by_id:
                latest[s.patient_id] = s
        if not latest:
            return states
        marks = {s.audit_id_at_signing for s in latest.values() if s.audit_head_hash}
        hashes: dict[int, str] = {}
        if marks:
            hashes = {row_id: row_hash for row_id, row_hash in uow.session.execute(
                select(AuditEntry.id, AuditEntry.row_hash).where(AuditEntry.id.in_(marks)))}
        hashes[0] = row_hash_at(uow.session, 0) or ""
        for patient_id, s in latest.items():
            record = by_id[patient_id]
            held = (s.audit_head_hash is None
                    or hashes.get(s.audit_id_at_signing) == s.audit_head_hash)
            through = s.signed_through.isoformat()
            if not held or signed_data_hash(record, s.signed_through) != s.data_sha256:
                view = _signatures(uow.session, record)[-1]  # the latest, as ``s``
                states[record.subject_id] = SignatureState(
                    "changed", s.signed_through, s.printed_name,
                    f"signed through {through} by {s.printed_name}, no longer valid: "
                    f"{view.broken_by}")
                continue
            later = sorted({d.start_date for d in record.valid_doses
                            if d.start_date > s.signed_through})
            if later:
                states[record.subject_id] = SignatureState(
                    "new_data", s.signed_through, s.printed_name,
                    f"signed through {through} by {s.printed_name}; doses from "
                    f"{later[0].isoformat()} are not signed yet")
            else:
                states[record.subject_id] = SignatureState(
                    "signed", s.signed_through, s.printed_name,
                    f"signed through {through} by {s.printed_name}")
    return states


def missing_signatures(db: Database, subject_id: str) -> list[str]:
    """Signings the audit trail records whose signature row is gone: deleted outside the
    app by someone who first dropped the database's triggers (migration 0004 refuses
    UPDATE and DELETE on signatures), which the hash-chained audit rows still record."""
    with UnitOfWork(db, write=False) as uow:
        patient = find_patient_row(uow.session, subject_id)
        kept = [(s.username, s.data_sha256) for s in uow.session.scalars(
            select(Signature).where(Signature.patient_id == patient.id))]
        signings = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_id == subject_id, AuditEntry.action == "sign")
            .order_by(AuditEntry.id)).all()
        missing = []
        for entry in signings:
            digest = (entry.new_value or "").rpartition(" sha256 ")[2]
            if (entry.username, digest) in kept:
                kept.remove((entry.username, digest))  # one row answers one signing
            else:
                missing.append(f"{entry.username} signed ({entry.new_value}) at "
                               f"{entry.at_utc} (audit row {entry.id}), but that "
                               "signature is no longer in the database")
        return missing
