"""SQLAlchemy 2.0 typed models. Doses are integer micrograms; nothing is ever deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Study(Base):
    """The one study of this database; its protocol text is the source of its settings."""

    __tablename__ = "study"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    protocol_version: Mapped[str] = mapped_column(String(50))
    protocol_toml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ScheduleTemplate(Base):
    __tablename__ = "schedule_template"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    definition_json: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime)
    added_by: Mapped[str] = mapped_column(String(64))


class Site(Base):
    __tablename__ = "site"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Patient(Base):
    """An enrolled subject: pseudonymous ids only, never a name, a birth date or the arm."""

    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32), unique=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"))
    day1_date: Mapped[date] = mapped_column(Date)
    baseline_ug: Mapped[int] = mapped_column(BigInteger)
    template_id: Mapped[str] = mapped_column(ForeignKey("schedule_template.id"))
    kit_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    #: Moves on every change to the patient's record; a save made from an older view is
    #: refused (no silent lost update between two users).
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: End of participation (domain.md §7, migration 0009): NULL while the patient is active.
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Amendment(Base):
    __tablename__ = "amendment"
    __table_args__ = (UniqueConstraint("patient_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    dose_ug: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    #: A withdrawn amendment (migration 0010) stays, shown as withdrawn; it no longer shapes
    #: the schedule.
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    withdraw_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ScheduleRevision(Base):
    """A rebuild of a patient's stored schedule: a correction of enrollment (baseline, Day 1,
    template) or an amendment's withdrawal (migration 0010). The steps it replaced keep
    their rows and point to it (``ScheduleStepRow.retired_by_id``)."""

    __tablename__ = "schedule_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # correction, withdrawal
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class ScheduleStepRow(Base):
    """One step of a patient's schedule; an amendment supersedes later steps, never deletes."""

    __tablename__ = "schedule_step"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    day: Mapped[int] = mapped_column(Integer)
    #: The daily PEQ every figure counts (a table's "5 mg QOD" is 2500).
    dose_ug: Mapped[int] = mapped_column(BigInteger)
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"), nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("amendment.id"), nullable=True)
    #: The frequency the step was written with, and for one other than QD the PEQ of one
    #: administration as written (5000 for "5 mg QOD"): the patient's calendar (migration 0007).
    frequency: Mapped[str] = mapped_column(String(8), default="QD", server_default="QD")
    administered_ug: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The correction or withdrawal that rebuilt the schedule and so replaced this step
    #: (migration 0010); a step in force has neither this nor ``superseded_by_id``.
    retired_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_revision.id"), nullable=True)


class DoseRecordRow(Base):
    __tablename__ = "dose_record"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    drug: Mapped[str] = mapped_column(String(40))
    dose_ug: Mapped[int] = mapped_column(BigInteger)
    frequency: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(4))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str | None] = mapped_column(String(10), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    deviation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("dose_record.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """Append-only audit trail; each row's hash chains to the previous row's."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at_utc: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head, one row; locking it serialises appends on every backend."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class Signature(Base):
    """An investigator's electronic signature of a patient's taper record up to a date."""

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    signed_through: Mapped[date] = mapped_column(Date)
    meaning: Mapped[str] = mapped_column(String(20))
    username: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(200))
    signed_at_utc: Mapped[str] = mapped_column(String(32))
    data_sha256: Mapped[str] = mapped_column(String(64))
    audit_id_at_signing: Mapped[int] = mapped_column(Integer)
    #: The hash of audit row ``audit_id_at_signing``: the head ``N:HASH`` the signature shows
    #: (migration 0008); a trail that no longer holds it makes the signature not valid.
    audit_head_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AppSetting(Base):
    """Administrator settings (sign-in lockout, idle lock), declared with defaults in code."""

    __tablename__ = "app_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class UserSite(Base):
    """The sites a user works for; a user with no rows here works for every site."""

    __tablename__ = "user_site"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    site_code: Mapped[str] = mapped_column(String(32), primary_key=True)


class SdvMark(Base):
    """A monitor's source-data verification of one dose record, at the record's version:
    a record changed afterwards (its version moved on) is no longer verified (migration
    0009b). Marks are never deleted; a new mark of the same record is a new row."""

    __tablename__ = "sdv_mark"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dose_record_id: Mapped[int] = mapped_column(ForeignKey("dose_record.id"), index=True)
    record_version: Mapped[int] = mapped_column(Integer)
    #: The "through" date the monitor gave (None when one record was verified).
    verified_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    verified_by: Mapped[str] = mapped_column(String(64))
    verified_at_utc: Mapped[str] = mapped_column(String(32))


class DataQuery(Base):
    """A monitor's query (discrepancy note) to the site about a patient or one record."""

    __tablename__ = "data_query"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    dose_record_id: Mapped[int | None] = mapped_column(ForeignKey("dose_record.id"),
                                                       nullable=True)
    state: Mapped[str] = mapped_column(String(10))  # open, answered, closed
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at_utc: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class DataQueryMessage(Base):
    """One step of a query after it was opened: an answer, a new question, the close."""

    __tablename__ = "data_query_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_query.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # answer, reask, close
    username: Mapped[str] = mapped_column(String(64))
    at_utc: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
