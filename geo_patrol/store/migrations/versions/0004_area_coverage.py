"""area coverage: share of a community's ground within reach of a patrol path

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('area_results', sa.Column('area_coverage', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('area_results', 'area_coverage')
