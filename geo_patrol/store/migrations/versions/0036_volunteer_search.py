"""volunteer search: trigram indexes on volunteers' names and numbers

Revision ID: 0036
Revises: 0031
Create Date: 2026-12-06

The search box finds a volunteer by a number's beginning or a name's part as one types; the
trigram indexes (``pg_trgm``) answer both from the index instead of reading every volunteer.
"""
from alembic import op


revision = '0036'
down_revision = '0031'
branch_labels = None
depends_on = None


def _trgm(name: str, column: str) -> None:
    op.create_index(name, 'volunteers', [column], postgresql_using='gin',
                    postgresql_ops={column: 'gin_trgm_ops'})


def upgrade() -> None:
    _trgm('ix_volunteers_name_trgm', 'name')
    _trgm('ix_volunteers_number_trgm', 'number')


def downgrade() -> None:
    op.drop_index('ix_volunteers_number_trgm', table_name='volunteers')
    op.drop_index('ix_volunteers_name_trgm', table_name='volunteers')
