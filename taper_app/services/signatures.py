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
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.units import format_mg
from ..results import AuditHeadMark
from ..storage.engine import Database
from ..storage.models import AuditEntry, AuditHead, Signature, User
from ..storage.uow import UnitOfWork
from .audit import AuditTrail, format_utc, row_hash_at
from .context import ServiceContext
from .errors import AuthenticationFailed, Problem, ValidationError
from .patients import lock_patient
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
    ctx.actor.require("sign_record")
    problems = []
    if meaning not in MEANINGS:
        problems.append(Problem("meaning", f"must be one of {', '.join(MEANINGS)}"))
    if through > ctx.today():
        problems.append(Problem("through", "a record cannot be signed for future dates"))
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
        patient = lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        if through < patient.day1_date:
            raise ValidationError([Problem("through", "the date is before the patient's Day 1")])
        record = load_patient(uow.session, subject_id)
        digest = signed_data_hash(record, through)
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        audit.add("sign", "signature", subject_id, "meaning", None,
                  f"{meaning} through {through.isoformat()} sha256 {digest}",
                  subject_id=subject_id)
        uow.session.flush()
        head = uow.session.get(AuditHead, 1)
        assert head is not None
        uow.session.add(Signature(patient_id=patient.id, signed_through=through, meaning=meaning,
                                  username=user.username, printed_name=user.full_name,
                                  signed_at_utc=format_utc(ctx.clock()), data_sha256=digest,
                                  audit_id_at_signing=head.last_id,
                                  audit_head_hash=head.last_hash))
        mark = AuditHeadMark(head.last_id, head.last_hash)
        uow.commit()
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
            if first is not None:
                broken_by = (f"{first.action} of {first.entity} {first.entity_id} "
                             f"({first.field}: {first.old_value} -> {first.new_value}) by "
                             f"{first.username} at {first.at_utc}")
            else:
                broken_by = "the signed data changed"
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
