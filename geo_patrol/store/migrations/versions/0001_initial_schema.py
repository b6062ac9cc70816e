"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('deployment',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('rows_stored', sa.Integer(), nullable=False),
    sa.Column('rows_flagged', sa.Integer(), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("kind IN ('boundaries', 'streets', 'volunteers', 'tracks', 'hazards', 'reports', 'incidents')", name='uploads_kind_check'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_geospatial_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('attrs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('city', 'district', 'station', 'community', 'grid')", name='areas_level_check'),
    sa.ForeignKeyConstraint(['parent_id'], ['areas.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('level', 'parent_id', 'name', name='areas_level_parent_name_key', postgresql_nulls_not_distinct=True)
    )
    op.create_geospatial_index('idx_areas_geom', 'areas', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_areas_geom_m', 'areas', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_areas_level'), 'areas', ['level'], unique=False)
    op.create_index(op.f('ix_areas_parent_id'), 'areas', ['parent_id'], unique=False)
    op.create_geospatial_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('attrs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_incidents_geom', 'incidents', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_incidents_geom_m', 'incidents', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_incidents_upload_id'), 'incidents', ['upload_id'], unique=False)
    op.create_geospatial_table('hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('attrs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("status IN ('open', 'rectified', 'cleared')", name='hazards_status_check'),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_geospatial_index('idx_hazards_geom', 'hazards', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_hazards_geom_m', 'hazards', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_hazards_category'), 'hazards', ['category'], unique=False)
    op.create_index(op.f('ix_hazards_community_id'), 'hazards', ['community_id'], unique=False)
    op.create_geospatial_table('street_segments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('osm_way_id', sa.BigInteger(), nullable=True),
    sa.Column('u', sa.BigInteger(), nullable=False),
    sa.Column('v', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.SmallInteger(), nullable=False),
    sa.Column('piece', sa.SmallInteger(), nullable=False),
    sa.Column('node_from', sa.BigInteger(), nullable=False),
    sa.Column('node_to', sa.BigInteger(), nullable=False),
    sa.Column('highway', sa.String(length=32), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('u', 'v', 'key', 'piece', name='street_segments_edge_key')
    )
    op.create_geospatial_index('idx_street_segments_geom', 'street_segments', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_street_segments_geom_m', 'street_segments', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_street_segments_area_id'), 'street_segments', ['area_id'], unique=False)
    op.create_index(op.f('ix_street_segments_osm_way_id'), 'street_segments', ['osm_way_id'], unique=False)
    op.create_table('volunteers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('id_cipher', sa.LargeBinary(), nullable=True),
    sa.Column('id_hash', sa.LargeBinary(), nullable=True),
    sa.Column('occupation', sa.String(length=32), nullable=False),
    sa.Column('skills', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('duties', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('id_hash'),
    sa.UniqueConstraint('number')
    )
    op.create_index(op.f('ix_volunteers_community_id'), 'volunteers', ['community_id'], unique=False)
    op.create_table('hazard_status_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'rectified', 'cleared')", name='hazard_status_history_status_check'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_hazard_status_history_hazard_id'), 'hazard_status_history', ['hazard_id'], unique=False)
    op.create_geospatial_table('patrol_fixes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.BigInteger(), nullable=True),
    sa.Column('t', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('speed_mps', sa.Float(), nullable=True),
    sa.Column('flags', sa.SmallInteger(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_patrol_fixes_geom_m', 'patrol_fixes', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_patrol_fixes_upload_id'), 'patrol_fixes', ['upload_id'], unique=False)
    op.create_index('patrol_fixes_volunteer_t_idx', 'patrol_fixes', ['volunteer_id', 't'], unique=False)
    op.create_geospatial_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('verification', sa.String(length=16), nullable=False),
    sa.Column('reward', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], ),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_geospatial_index('idx_reports_geom', 'reports', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_reports_geom_m', 'reports', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_reports_volunteer_id'), 'reports', ['volunteer_id'], unique=False)
    op.create_geospatial_table('tracks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n_fixes', sa.Integer(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("kind IN ('patrol', 'passive')", name='tracks_kind_check'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_tracks_upload_id'), 'tracks', ['upload_id'], unique=False)
    op.create_index(op.f('ix_tracks_volunteer_id'), 'tracks', ['volunteer_id'], unique=False)
    op.create_table('volunteer_teams',
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volunteer_id', 'team_id')
    )


def downgrade() -> None:
    op.drop_table('volunteer_teams')
    op.drop_index(op.f('ix_tracks_volunteer_id'), table_name='tracks')
    op.drop_index(op.f('ix_tracks_upload_id'), table_name='tracks')
    op.drop_geospatial_table('tracks')
    op.drop_index(op.f('ix_reports_volunteer_id'), table_name='reports')
    op.drop_geospatial_index('idx_reports_geom_m', table_name='reports', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_reports_geom', table_name='reports', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('reports')
    op.drop_index('patrol_fixes_volunteer_t_idx', table_name='patrol_fixes')
    op.drop_index(op.f('ix_patrol_fixes_upload_id'), table_name='patrol_fixes')
    op.drop_geospatial_index('idx_patrol_fixes_geom_m', table_name='patrol_fixes', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_table('patrol_fixes')
    op.drop_index(op.f('ix_hazard_status_history_hazard_id'), table_name='hazard_status_history')
    op.drop_table('hazard_status_history')
    op.drop_index(op.f('ix_volunteers_community_id'), table_name='volunteers')
    op.drop_table('volunteers')
    op.drop_index(op.f('ix_street_segments_osm_way_id'), table_name='street_segments')
    op.drop_index(op.f('ix_street_segments_area_id'), table_name='street_segments')
    op.drop_geospatial_index('idx_street_segments_geom_m', table_name='street_segments', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_street_segments_geom', table_name='street_segments', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('street_segments')
    op.drop_index(op.f('ix_hazards_community_id'), table_name='hazards')
    op.drop_index(op.f('ix_hazards_category'), table_name='hazards')
    op.drop_geospatial_index('idx_hazards_geom_m', table_name='hazards', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_hazards_geom', table_name='hazards', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('hazards')
    op.drop_index(op.f('ix_incidents_upload_id'), table_name='incidents')
    op.drop_geospatial_index('idx_incidents_geom_m', table_name='incidents', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_incidents_geom', table_name='incidents', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('incidents')
    op.drop_index(op.f('ix_areas_parent_id'), table_name='areas')
    op.drop_index(op.f('ix_areas_level'), table_name='areas')
    op.drop_geospatial_index('idx_areas_geom_m', table_name='areas', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_areas_geom', table_name='areas', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('areas')
    op.drop_table('uploads')
    op.drop_table('teams')
    op.drop_table('deployment')
    op.drop_table('audit_log')
