"""land_cover: water, green areas and buildings of the city's OSM extract for the base map

Revision ID: 0026
Revises: 0020
Create Date: 2026-12-05

Read from the same file as the streets when it is loaded; drawn under the streets of the
base map's vector tiles (``base_tiles`` is emptied so they are made anew).
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry


revision = '0026'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('land_cover',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, spatial_index=False),
              nullable=False),
    sa.CheckConstraint("kind IN ('water', 'green', 'building')", name='land_cover_kind_check'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_land_cover_geom', 'land_cover', ['geom'], unique=False,
                               postgresql_using='gist', postgresql_ops={})
    op.execute("DELETE FROM base_tiles")


def downgrade() -> None:
    op.drop_geospatial_index('idx_land_cover_geom', table_name='land_cover',
                             postgresql_using='gist', column_name='geom')
    op.drop_table('land_cover')
    op.execute("DELETE FROM base_tiles")
