"""search: GiST trigram indexes on hazards' and volunteers' names; base tiles made again

Revision ID: 0040
Revises: 0037
Create Date: 2026-12-06

The search box looks hazards and volunteers up in two steps: the names holding what was typed,
then, when those are too few, the names merely alike (``%``). PostgreSQL rates a ``%`` test as
cheap as a comparison, and against a GIN trigram index it would rather rate every name of the
table (tens of milliseconds for thousands of Chinese names); a GiST trigram index is cheaper,
in the planner's estimate as in fact, so the planner reads it by itself (about a millisecond).

The base tiles kept are dropped: a tile now draws a street's pieces as one joined line, and
each is made again when next asked for.
"""
from alembic import op


revision = '0040'
down_revision = '0037'
branch_labels = None
depends_on = None

#: (table, GIN index replaced, GiST index made) on each table's ``name``.
INDEXES = (('hazards', 'ix_hazards_name_trgm', 'ix_hazards_name_gist'),
           ('volunteers', 'ix_volunteers_name_trgm', 'ix_volunteers_name_gist'))


def upgrade() -> None:
    for table, gin, gist in INDEXES:
        op.create_index(gist, table, ['name'], postgresql_using='gist',
                        postgresql_ops={'name': 'gist_trgm_ops'})
        op.drop_index(gin, table_name=table)
    op.execute("DELETE FROM base_tiles")


def downgrade() -> None:
    for table, gin, gist in INDEXES:
        op.create_index(gin, table, ['name'], postgresql_using='gin',
                        postgresql_ops={'name': 'gin_trgm_ops'})
        op.drop_index(gist, table_name=table)
