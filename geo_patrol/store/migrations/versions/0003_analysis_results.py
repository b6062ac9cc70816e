"""analysis results: runs, segment, area, daily, hazard and gap results

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analysis_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('stats', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('area_daily',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('covered_m', sa.Float(), nullable=False),
    sa.Column('total_m', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'area_id', 'day')
    )
    op.create_table('area_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('total_m', sa.Float(), nullable=False),
    sa.Column('covered_m', sa.Float(), nullable=False),
    sa.Column('covered_patrol_m', sa.Float(), nullable=False),
    sa.Column('covered_passive_m', sa.Float(), nullable=False),
    sa.Column('covered_day_m', sa.Float(), nullable=False),
    sa.Column('covered_night_m', sa.Float(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('segments_visited', sa.Integer(), nullable=False),
    sa.Column('active_volunteers', sa.Integer(), nullable=False),
    sa.Column('hazards', sa.Integer(), nullable=False),
    sa.Column('hazards_compliant', sa.Integer(), nullable=False),
    sa.Column('hazards_overdue', sa.Integer(), nullable=False),
    sa.Column('hazards_never', sa.Integer(), nullable=False),
    sa.Column('gaps', sa.Integer(), nullable=False),
    sa.Column('gap_m', sa.Float(), nullable=False),
    sa.Column('recency', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'area_id')
    )
    op.create_geospatial_table('gap_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('gap_key', sa.String(length=40), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('hazards', sa.Integer(), nullable=False),
    sa.Column('hazards_overdue', sa.Integer(), nullable=False),
    sa.Column('incidents', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, spatial_index=False), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'gap_key')
    )
    op.create_geospatial_index('idx_gap_results_geom', 'gap_results', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('hazard_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('inspections', sa.Integer(), nullable=False),
    sa.Column('passes', sa.Integer(), nullable=False),
    sa.Column('last_inspection', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_inspector_id', sa.Integer(), nullable=True),
    sa.Column('last_pass', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('missed_days', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('compliant', 'overdue', 'never_visited', 'cleared')", name='hazard_results_status_check'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_inspector_id'], ['volunteers.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'hazard_id')
    )
    op.create_table('segment_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.BigInteger(), nullable=False),
    sa.Column('covered_m', sa.Float(), nullable=False),
    sa.Column('covered_patrol_m', sa.Float(), nullable=False),
    sa.Column('covered_passive_m', sa.Float(), nullable=False),
    sa.Column('covered_day_m', sa.Float(), nullable=False),
    sa.Column('covered_night_m', sa.Float(), nullable=False),
    sa.Column('last_visit', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_patrol_visit', sa.DateTime(timezone=True), nullable=True),
    sa.Column('passes_patrol', sa.Integer(), nullable=False),
    sa.Column('passes_passive', sa.Integer(), nullable=False),
    sa.Column('dwell_patrol_s', sa.Float(), nullable=False),
    sa.Column('dwell_passive_s', sa.Float(), nullable=False),
    sa.Column('gap_key', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'segment_id')
    )


def downgrade() -> None:
    op.drop_table('segment_results')
    op.drop_table('hazard_results')
    op.drop_geospatial_index('idx_gap_results_geom', table_name='gap_results', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('gap_results')
    op.drop_table('area_results')
    op.drop_table('area_daily')
    op.drop_table('analysis_runs')
