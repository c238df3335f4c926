"""Each e-signature keeps the audit trail's head it was made at (issue 16, point 2).

``signature.audit_head_hash`` is the hash of audit row ``audit_id_at_signing`` (the
signing's own row): with that id it is the head ``N:HASH`` the signature shows. A later
check finds the trail no longer holding that row with that hash (truncated, rewritten or
an older copy put back) and shows the signature as not valid.

Existing signatures take the hash their row has now. Plain ADD COLUMN (no batch copy), so
SQLite keeps the table and its triggers; the one UPDATE runs with the signature's
never-changed trigger set aside and put back at once.

Revision ID: 0008
Revises: 0009b (the current head when written; the lead re-chains at merge time)
Create Date: 2026-12-04 03:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0009b'
branch_labels = None
depends_on = None

FILL = ("UPDATE signature SET audit_head_hash = (SELECT row_hash FROM audit_log "
        "WHERE audit_log.id = signature.audit_id_at_signing)")


def upgrade() -> None:
    op.add_column("signature", sa.Column("audit_head_hash", sa.String(length=64),
                                         nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS signature_no_update")
        op.execute(FILL)
        op.execute("CREATE TRIGGER signature_no_update BEFORE UPDATE ON signature "
                   "BEGIN SELECT RAISE(ABORT, 'a signature is never changed'); END")
    else:
        op.execute("ALTER TABLE signature DISABLE TRIGGER signature_no_change")
        op.execute(FILL)
        op.execute("ALTER TABLE signature ENABLE TRIGGER signature_no_change")


def downgrade() -> None:
    op.drop_column("signature", "audit_head_hash")
