"""End of participation (domain.md §7): a patient's end date, disposition and its reason.

Three nullable columns on ``patient``; NULL end date means the patient is active. Ending
and reopening are audited field by field (the audit trail keeps every earlier value).
Plain ADD COLUMN (no batch copy), so SQLite keeps the table and its triggers.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-04 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patient", sa.Column("end_date", sa.Date(), nullable=True))
    op.add_column("patient", sa.Column("disposition", sa.String(length=32), nullable=True))
    op.add_column("patient", sa.Column("end_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("patient", "end_reason")
    op.drop_column("patient", "disposition")
    op.drop_column("patient", "end_date")
