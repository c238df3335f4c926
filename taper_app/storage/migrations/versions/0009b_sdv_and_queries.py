"""Source-data verification marks and queries (discrepancy notes) with their messages.

``sdv_mark`` holds a monitor's mark of a dose record at the record's version; the mark
counts only while the record's version is unchanged. ``data_query`` and
``data_query_message`` hold a query to the site and its answers, re-asks and close.
Nothing is deleted from them: triggers like those of 0004 refuse DELETE (and TRUNCATE on
PostgreSQL).

Revision ID: 0009b
Revises: 0009
Create Date: 2026-12-04 03:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009b'
down_revision = '0009'
branch_labels = None
depends_on = None

NEVER_DELETED = ("sdv_mark", "data_query", "data_query_message")


def upgrade() -> None:
    op.create_table(
        "sdv_mark",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey(
            "patient.id", name="fk_sdv_mark_patient_id_patient"), nullable=False),
        sa.Column("dose_record_id", sa.Integer(), sa.ForeignKey(
            "dose_record.id", name="fk_sdv_mark_dose_record_id_dose_record"), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("verified_through", sa.Date(), nullable=True),
        sa.Column("verified_by", sa.String(length=64), nullable=False),
        sa.Column("verified_at_utc", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sdv_mark"),
    )
    op.create_index("ix_sdv_mark_patient_id", "sdv_mark", ["patient_id"])
    op.create_index("ix_sdv_mark_dose_record_id", "sdv_mark", ["dose_record_id"])
    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey(
            "patient.id", name="fk_data_query_patient_id_patient"), nullable=False),
        sa.Column("dose_record_id", sa.Integer(), sa.ForeignKey(
            "dose_record.id", name="fk_data_query_dose_record_id_dose_record"), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at_utc", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_query"),
    )
    op.create_index("ix_data_query_patient_id", "data_query", ["patient_id"])
    op.create_table(
        "data_query_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("query_id", sa.Integer(), sa.ForeignKey(
            "data_query.id", name="fk_data_query_message_query_id_data_query"),
            nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at_utc", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_data_query_message"),
    )
    op.create_index("ix_data_query_message_query_id", "data_query_message", ["query_id"])
    dialect = op.get_bind().dialect.name
    for table in NEVER_DELETED:
        if dialect == "sqlite":
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'records are never deleted'); END")
        elif dialect == "postgresql":  # the function of migration 0004
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION records_never_deleted()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION records_never_deleted()")


def downgrade() -> None:
    op.drop_table("data_query_message")
    op.drop_table("data_query")
    op.drop_table("sdv_mark")
