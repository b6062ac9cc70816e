"""ingest: day-partitioned fixes, track counts, hazard rules, keyed incidents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Fixes become a table partitioned by day; partitions are created by the loader.
    op.drop_index('patrol_fixes_volunteer_t_idx', table_name='patrol_fixes')
    op.drop_index(op.f('ix_patrol_fixes_upload_id'), table_name='patrol_fixes')
    op.drop_geospatial_index('idx_patrol_fixes_geom_m', table_name='patrol_fixes',
                             postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_table('patrol_fixes')
    op.create_geospatial_table(
        'patrol_fixes',
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.Integer(), nullable=False),
        sa.Column('track_id', sa.BigInteger(), nullable=False),
        sa.Column('t', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accuracy_m', sa.Float(), nullable=True),
        sa.Column('speed_mps', sa.Float(), nullable=True),
        sa.Column('flags', sa.SmallInteger(), nullable=False),
        sa.Column('geom_m', Geometry(spatial_index=False, srid=-1), nullable=False),
        postgresql_partition_by='RANGE (t)',
    )
    op.create_geospatial_index('idx_patrol_fixes_geom_m', 'patrol_fixes', ['geom_m'],
                               unique=False, postgresql_using='gist', postgresql_ops={})

    op.add_column('tracks', sa.Column('n_flagged', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.create_index(op.f('ix_tracks_started_at'), 'tracks', ['started_at'], unique=False)

    op.add_column('hazards', sa.Column('visit_rule', postgresql.JSONB(astext_type=sa.Text()),
                                       nullable=False, server_default='{}'))
    op.add_column('hazards', sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))

    op.create_check_constraint('reports_verification_check', 'reports',
                               "verification IN ('pending', 'verified', 'rejected')")

    op.add_column('incidents', sa.Column('external_id', sa.Text(), nullable=True))
    op.add_column('incidents', sa.Column('key', sa.Text(), nullable=False))
    op.create_unique_constraint(op.f('incidents_key_key'), 'incidents', ['key'])


def downgrade() -> None:
    op.drop_constraint(op.f('incidents_key_key'), 'incidents', type_='unique')
    op.drop_column('incidents', 'key')
    op.drop_column('incidents', 'external_id')
    op.drop_constraint('reports_verification_check', 'reports', type_='check')
    op.drop_column('hazards', 'status_at')
    op.drop_column('hazards', 'visit_rule')
    op.drop_index(op.f('ix_tracks_started_at'), table_name='tracks')
    op.drop_column('tracks', 'n_flagged')

    op.drop_geospatial_index('idx_patrol_fixes_geom_m', table_name='patrol_fixes',
                             postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_table('patrol_fixes')
    op.create_geospatial_table(
        'patrol_fixes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.Integer(), nullable=False),
        sa.Column('track_id', sa.BigInteger(), nullable=True),
        sa.Column('t', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accuracy_m', sa.Float(), nullable=True),
        sa.Column('speed_mps', sa.Float(), nullable=True),
        sa.Column('flags', sa.SmallInteger(), nullable=False),
        sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, spatial_index=False),
                  nullable=False),
        sa.Column('geom_m', Geometry(spatial_index=False, srid=-1), nullable=False),
        sa.ForeignKeyConstraint(['upload_id'], ['uploads.id']),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_geospatial_index('idx_patrol_fixes_geom_m', 'patrol_fixes', ['geom_m'],
                               unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_patrol_fixes_upload_id'), 'patrol_fixes', ['upload_id'],
                    unique=False)
    op.create_index('patrol_fixes_volunteer_t_idx', 'patrol_fixes', ['volunteer_id', 't'],
                    unique=False)
