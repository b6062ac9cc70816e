"""places: streets cut into pieces between their cross streets, crossings, the base map's
cached tiles, and gaps named by street and cross streets

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

``street_names`` holds each street once (what the search box lists); ``street_pieces`` are
the stretches of a named street between two cross streets (merged from
its segments, ``street_segments.piece_id``); ``crossings`` the nodes where two named streets
meet; both are searched by trigram similarity (``pg_trgm``, created with PostGIS).
``base_tiles`` keeps the base map's vector tiles once made (emptied when streets or areas are
loaded). ``gap_results`` gains the street and cross streets that name a gap.
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _trgm(name: str, table: str, column: str) -> None:
    op.create_index(name, table, [column], postgresql_using='gin',
                    postgresql_ops={column: 'gin_trgm_ops'})


def upgrade() -> None:
    # a deployment migrated before search existed has PostGIS but not yet pg_trgm
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    op.create_table('street_pieces',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('highway', sa.String(length=32), nullable=True),
    sa.Column('cross_a', sa.Text(), nullable=True),
    sa.Column('cross_b', sa.Text(), nullable=True),
    sa.Column('node_a', sa.BigInteger(), nullable=True),
    sa.Column('node_b', sa.BigInteger(), nullable=True),
    sa.Column('x_a', sa.Float(), nullable=True),
    sa.Column('y_a', sa.Float(), nullable=True),
    sa.Column('x_b', sa.Float(), nullable=True),
    sa.Column('y_b', sa.Float(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_street_pieces_geom', 'street_pieces', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_street_pieces_geom_m', 'street_pieces', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    _trgm('ix_street_pieces_name_trgm', 'street_pieces', 'name')
    op.create_table('street_names',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('x0', sa.Float(), nullable=False),
    sa.Column('y0', sa.Float(), nullable=False),
    sa.Column('x1', sa.Float(), nullable=False),
    sa.Column('y1', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    _trgm('ix_street_names_name_trgm', 'street_names', 'name')
    op.create_table('crossings',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('node', sa.BigInteger(), nullable=False),
    sa.Column('name_a', sa.Text(), nullable=False),
    sa.Column('name_b', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_crossings_geom', 'crossings', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    _trgm('ix_crossings_name_a_trgm', 'crossings', 'name_a')
    _trgm('ix_crossings_name_b_trgm', 'crossings', 'name_b')
    op.create_table('base_tiles',
    sa.Column('z', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('x', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('y', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tile', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('z', 'x', 'y')
    )
    op.add_column('street_segments', sa.Column('piece_id', sa.Integer(), nullable=True))
    op.create_index('ix_street_segments_piece_id', 'street_segments', ['piece_id'], unique=False)
    for column in ('street', 'cross_a', 'cross_b'):
        op.add_column('gap_results', sa.Column(column, sa.Text(), nullable=True))
    _trgm('ix_areas_name_trgm', 'areas', 'name')
    _trgm('ix_hazards_name_trgm', 'hazards', 'name')


def downgrade() -> None:
    op.drop_index('ix_hazards_name_trgm', table_name='hazards')
    op.drop_index('ix_areas_name_trgm', table_name='areas')
    for column in ('street', 'cross_a', 'cross_b'):
        op.drop_column('gap_results', column)
    op.drop_index('ix_street_segments_piece_id', table_name='street_segments')
    op.drop_column('street_segments', 'piece_id')
    op.drop_table('base_tiles')
    op.drop_table('crossings')
    op.drop_table('street_names')
    op.drop_table('street_pieces')
