"""force hours: the volunteer-hours a community can give per weekday and time slot, as set
by the planner

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('force_hours',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('set_by', sa.Text(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name='force_hours_weekday_check'),
    sa.CheckConstraint('hours >= 0 AND hours <= 10000', name='force_hours_hours_check'),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'weekday', 'slot')
    )


def downgrade() -> None:
    op.drop_table('force_hours')
