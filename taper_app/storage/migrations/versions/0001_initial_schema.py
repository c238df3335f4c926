"""Initial schema: study, templates, sites, users, patients, schedules, doses, audit trail.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 02:30:02.025314
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at_utc', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=True),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_subject_id'), ['subject_id'], unique=False)

    op.create_table('schedule_template',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('definition_json', sa.Text(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_template'))
    )
    op.create_table('site',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_site'))
    )
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('protocol_version', sa.String(length=50), nullable=False),
    sa.Column('protocol_toml', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study'))
    )
    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('site_code', sa.String(length=32), nullable=False),
    sa.Column('day1_date', sa.Date(), nullable=False),
    sa.Column('baseline_ug', sa.BigInteger(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('kit_number', sa.String(length=64), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_code'], ['site.code'], name=op.f('fk_patient_site_code_site')),
    sa.ForeignKeyConstraint(['template_id'], ['schedule_template.id'], name=op.f('fk_patient_template_id_schedule_template')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient')),
    sa.UniqueConstraint('subject_id', name=op.f('uq_patient_subject_id'))
    )
    op.create_table('amendment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('dose_ug', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_amendment_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amendment')),
    sa.UniqueConstraint('patient_id', 'seq', name=op.f('uq_amendment_patient_id'))
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_patient_id'), ['patient_id'], unique=False)

    op.create_table('dose_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('drug', sa.String(length=40), nullable=False),
    sa.Column('dose_ug', sa.BigInteger(), nullable=False),
    sa.Column('frequency', sa.String(length=8), nullable=False),
    sa.Column('route', sa.String(length=4), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('deviation_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_at', sa.DateTime(), nullable=True),
    sa.Column('voided_by', sa.String(length=64), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_dose_record_patient_id_patient')),
    sa.ForeignKeyConstraint(['replaces_id'], ['dose_record.id'], name=op.f('fk_dose_record_replaces_id_dose_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_record'))
    )
    with op.batch_alter_table('dose_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dose_record_patient_id'), ['patient_id'], unique=False)

    op.create_table('schedule_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('dose_ug', sa.BigInteger(), nullable=False),
    sa.Column('amendment_id', sa.Integer(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['amendment_id'], ['amendment.id'], name=op.f('fk_schedule_step_amendment_id_amendment')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_schedule_step_patient_id_patient')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['amendment.id'], name=op.f('fk_schedule_step_superseded_by_id_amendment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_step'))
    )
    with op.batch_alter_table('schedule_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_step_patient_id'), ['patient_id'], unique=False)
    op.bulk_insert(
        sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                 sa.column("last_hash", sa.String)),
        [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}],
    )
    _create_append_only_triggers()


GENESIS_HASH = "0" * 64


def _create_append_only_triggers() -> None:
    """The audit trail refuses UPDATE and DELETE in the database itself, on each backend."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit trail is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table('schedule_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_step_patient_id'))

    op.drop_table('schedule_step')
    with op.batch_alter_table('dose_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dose_record_patient_id'))

    op.drop_table('dose_record')
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_patient_id'))

    op.drop_table('amendment')
    op.drop_table('patient')
    op.drop_table('study')
    op.drop_table('site')
    op.drop_table('schedule_template')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_subject_id'))

    op.drop_table('audit_log')
    op.drop_table('audit_head')
    op.drop_table('app_user')
