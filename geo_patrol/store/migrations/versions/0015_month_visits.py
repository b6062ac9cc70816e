"""month_visits: each calendar month's days rolled up, so a year composes from twelve

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('month_visits',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('streets_key', sa.String(length=64), nullable=False),
    sa.Column('visits', sa.LargeBinary(), nullable=False),
    sa.Column('fixes', sa.BigInteger(), nullable=False),
    sa.Column('analysed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.PrimaryKeyConstraint('month')
    )


def downgrade() -> None:
    op.drop_table('month_visits')
