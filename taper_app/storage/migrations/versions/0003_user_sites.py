"""Users belong to sites (multi-site server); no rows means every site.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:45:18.077214
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_site',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_site_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', 'site_code', name=op.f('pk_user_site'))
    )


def downgrade() -> None:
    op.drop_table('user_site')
