"""Corrections of enrollment and withdrawn amendments (issue 19, points 4 and 5).

A correction of a patient's baseline, Day 1 or template, and the withdrawal of an
amendment, each rebuild the patient's stored schedule. ``schedule_revision`` holds each
such rebuild (what it was, why, by whom, when); the steps it replaced keep their rows and
point to it with ``schedule_step.retired_by_id`` (a step in force has neither that nor
``superseded_by_id``). ``amendment`` gains who withdrew it, when and why: a withdrawn
amendment stays in the record, shown as withdrawn, and no longer shapes the schedule.

Plain ADD COLUMN (no batch copy), so SQLite keeps the tables and their never-deleted
triggers; ``schedule_revision`` is never deleted either (the triggers of 0004).

Revision ID: 0010
Revises: 0008 (the current head when written)
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey(
            "patient.id", name="fk_schedule_revision_patient_id_patient"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amendment_id", sa.Integer(), sa.ForeignKey(
            "amendment.id", name="fk_schedule_revision_amendment_id_amendment"),
            nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_revision"),
    )
    op.create_index("ix_schedule_revision_patient_id", "schedule_revision", ["patient_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # No REFERENCES clause on SQLite: SQLite cannot drop a column that is in a foreign
        # key (the downgrade), and a batch copy of schedule_step would lose its
        # never-deleted trigger. The application writes it only with a revision it has
        # just stored; PostgreSQL has the constraint.
        op.execute("ALTER TABLE schedule_step ADD COLUMN retired_by_id INTEGER")
        op.execute("CREATE TRIGGER schedule_revision_no_delete BEFORE DELETE ON "
                   "schedule_revision BEGIN SELECT RAISE(ABORT, 'records are never "
                   "deleted; void them'); END")
    else:
        op.add_column("schedule_step", sa.Column("retired_by_id", sa.Integer(),
                                                 nullable=True))
        op.create_foreign_key("fk_schedule_step_retired_by_id_schedule_revision",
                              "schedule_step", "schedule_revision", ["retired_by_id"], ["id"])
        if dialect == "postgresql":  # the function of migration 0004
            op.execute("CREATE TRIGGER schedule_revision_no_delete BEFORE DELETE ON "
                       "schedule_revision FOR EACH ROW EXECUTE FUNCTION "
                       "records_never_deleted()")
            op.execute("CREATE TRIGGER schedule_revision_no_truncate BEFORE TRUNCATE ON "
                       "schedule_revision FOR EACH STATEMENT EXECUTE FUNCTION "
                       "records_never_deleted()")
    op.add_column("amendment", sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
    op.add_column("amendment", sa.Column("withdrawn_by", sa.String(length=64), nullable=True))
    op.add_column("amendment", sa.Column("withdraw_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Plain DROP COLUMN, not a batch copy: with foreign keys on, SQLite cannot drop and
    # recreate amendment (schedule steps refer to it), and the triggers would be lost.
    op.drop_column("amendment", "withdraw_reason")
    op.drop_column("amendment", "withdrawn_by")
    op.drop_column("amendment", "withdrawn_at")
    if dialect == "postgresql":
        op.drop_constraint("fk_schedule_step_retired_by_id_schedule_revision",
                           "schedule_step", type_="foreignkey")
    op.drop_column("schedule_step", "retired_by_id")
    op.execute("DROP TRIGGER IF EXISTS schedule_revision_no_delete"
               + (" ON schedule_revision" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS schedule_revision_no_truncate ON schedule_revision")
    op.drop_index("ix_schedule_revision_patient_id", "schedule_revision")
    op.drop_table("schedule_revision")
