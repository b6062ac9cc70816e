"""tasks: patrols volunteers take on, checked against their fixes; points and payouts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('rota_walk_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('segment_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('hazard_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('hotspot_segment_id', sa.Integer(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('offered_to', sa.Integer(), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verdict', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2,
                               spatial_index=False, from_text='ST_GeomFromEWKT',
                               name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("state IN ('offered', 'accepted', 'delivered', 'partly', 'missed', "
                       "'withdrawn')", name='tasks_state_check'),
    sa.CheckConstraint("kind IN ('streets', 'hotspot')", name='tasks_kind_check'),
    sa.CheckConstraint('window_end > window_start', name='tasks_window_check'),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offered_to'], ['volunteers.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rota_walk_id'], ['rota_walks.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rota_walk_id')
    )
    op.create_index(op.f('ix_tasks_community_id'), 'tasks', ['community_id'], unique=False)
    op.create_index(op.f('ix_tasks_day'), 'tasks', ['day'], unique=False)
    op.create_index(op.f('ix_tasks_volunteer_id'), 'tasks', ['volunteer_id'], unique=False)
    op.create_table('payouts',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('points_ledger',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('earned_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('payout_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint("source IN ('task', 'report')", name='points_ledger_source_check'),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], ),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'item_id', name='points_ledger_item_key')
    )
    op.create_index(op.f('ix_points_ledger_payout_id'), 'points_ledger', ['payout_id'],
                    unique=False)
    op.add_column('reports', sa.Column('duplicate_of', sa.Integer(), nullable=True))
    op.create_foreign_key('reports_duplicate_of_fkey', 'reports', 'reports', ['duplicate_of'],
                          ['id'], ondelete='SET NULL')
    op.create_index(op.f('ix_points_ledger_volunteer_id'), 'points_ledger', ['volunteer_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_constraint('reports_duplicate_of_fkey', 'reports', type_='foreignkey')
    op.drop_column('reports', 'duplicate_of')
    op.drop_index(op.f('ix_points_ledger_volunteer_id'), table_name='points_ledger')
    op.drop_index(op.f('ix_points_ledger_payout_id'), table_name='points_ledger')
    op.drop_table('points_ledger')
    op.drop_table('payouts')
    op.drop_index(op.f('ix_tasks_volunteer_id'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_day'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_community_id'), table_name='tasks')
    op.drop_table('tasks')
