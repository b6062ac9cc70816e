"""day_visits: each local day's visits, so windows of any length compose from their days

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('day_visits',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('streets_key', sa.String(length=64), nullable=False),
    sa.Column('visits', sa.LargeBinary(), nullable=False),
    sa.Column('fixes', sa.Integer(), nullable=False),
    sa.Column('analysed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('day_visits')
