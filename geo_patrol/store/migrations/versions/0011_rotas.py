"""rotas: a period's loops per day and slot, with who walks them and what they cover

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rotas',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('days', sa.SmallInteger(), nullable=False),
    sa.Column('revisit_days', sa.SmallInteger(), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rotas_area_id'), 'rotas', ['area_id'], unique=False)
    op.create_table('rota_walks',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('rota_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('segment_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('hazard_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('hotspot_segment_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2,
                               spatial_index=False, from_text='ST_GeomFromEWKT',
                               name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('streets', 'hotspot')", name='rota_walks_kind_check'),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rota_id'], ['rotas.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rota_walks_rota_id'), 'rota_walks', ['rota_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_rota_walks_rota_id'), table_name='rota_walks')
    op.drop_table('rota_walks')
    op.drop_index(op.f('ix_rotas_area_id'), table_name='rotas')
    op.drop_table('rotas')
