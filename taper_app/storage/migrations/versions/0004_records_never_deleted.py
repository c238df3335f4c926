"""Records are never deleted, and a signature never changes, in the database itself.

The application voids a wrong dose record and supersedes schedule steps; it never deletes
a clinical row, and it writes a signature once. These triggers make the database refuse
DELETE on patients, dose records, amendments and schedule steps, and UPDATE or DELETE on
signatures, so a change behind the application's back needs the triggers dropped first
(as the audit trail's own triggers do; `audit verify` and the signature check then
report it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:10:00
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

NEVER_DELETED = ("patient", "dose_record", "amendment", "schedule_step")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in NEVER_DELETED:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'records are never deleted; void them'); END")
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER signature_no_{verb.lower()} BEFORE {verb} ON signature "
                       "BEGIN SELECT RAISE(ABORT, 'a signature is never changed'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION records_never_deleted() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'records are never deleted; void them'; END $$")
        op.execute("CREATE FUNCTION signature_never_changed() RETURNS trigger "
                   "LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'a signature is never changed'; END $$")
        for table in NEVER_DELETED:
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION records_never_deleted()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION records_never_deleted()")
        op.execute("CREATE TRIGGER signature_no_change BEFORE UPDATE OR DELETE ON signature "
                   "FOR EACH ROW EXECUTE FUNCTION signature_never_changed()")
        op.execute("CREATE TRIGGER signature_no_truncate BEFORE TRUNCATE ON signature "
                   "FOR EACH STATEMENT EXECUTE FUNCTION signature_never_changed()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in NEVER_DELETED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute("DROP TRIGGER IF EXISTS signature_no_update")
        op.execute("DROP TRIGGER IF EXISTS signature_no_delete")
    elif dialect == "postgresql":
        for table in NEVER_DELETED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS signature_no_change ON signature")
        op.execute("DROP TRIGGER IF EXISTS signature_no_truncate ON signature")
        op.execute("DROP FUNCTION IF EXISTS records_never_deleted()")
        op.execute("DROP FUNCTION IF EXISTS signature_never_changed()")
