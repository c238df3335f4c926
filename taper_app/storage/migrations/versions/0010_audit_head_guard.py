"""The audit trail's head moves only with the trail: the database checks it itself.

``audit_head`` is the one row that serialises appends (its last id and hash). Until now
any role that could write it could set it to anything, or delete it. On PostgreSQL a
deferred constraint trigger now checks, at the commit of every transaction that moved
it, that the head is the trail's last row (its id and its hash), and other triggers
refuse INSERT, DELETE and TRUNCATE on it; the only way to move the head is to append
rows (the application's append path). On SQLite a trigger refuses DELETE (whoever holds
a SQLite file can change anything in it; `audit verify` reports what they did).

Revision ID: 0010_head
Revises: 0010 (the schedule revisions; written after 0008, re-chained at the merge)
Create Date: 2026-12-04 19:00:00
"""

from alembic import op

revision = '0010_head'
down_revision = '0010'
branch_labels = None
depends_on = None

_CHECK = """
CREATE FUNCTION audit_head_is_the_last_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_id integer;
    head_hash text;
    last_id integer;
    last_hash text;
BEGIN
    SELECT h.last_id, h.last_hash INTO head_id, head_hash FROM audit_head h WHERE h.id = 1;
    SELECT a.id, a.row_hash INTO last_id, last_hash FROM audit_log a ORDER BY a.id DESC
        LIMIT 1;
    IF head_id IS DISTINCT FROM COALESCE(last_id, 0)
            OR (last_id IS NOT NULL AND head_hash IS DISTINCT FROM last_hash) THEN
        RAISE EXCEPTION 'the audit trail''s head moves only with the rows it heads';
    END IF;
    RETURN NULL;
END $$
"""

_REFUSE = ("CREATE FUNCTION audit_head_kept() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION 'the audit trail''s head is never added or removed'; "
           "END $$")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail''s head is never removed'); "
                   "END")
    elif dialect == "postgresql":
        op.execute(_CHECK)
        op.execute(_REFUSE)
        op.execute("CREATE CONSTRAINT TRIGGER audit_head_moves_with_the_trail AFTER UPDATE "
                   "ON audit_head DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                   "EXECUTE FUNCTION audit_head_is_the_last_row()")
        op.execute("CREATE TRIGGER audit_head_no_insert_or_delete BEFORE INSERT OR DELETE "
                   "ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_kept()")
        op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_kept()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_head_moves_with_the_trail ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_insert_or_delete ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_is_the_last_row()")
        op.execute("DROP FUNCTION IF EXISTS audit_head_kept()")
