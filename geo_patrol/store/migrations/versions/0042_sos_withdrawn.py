"""dispatch: a volunteer withdraws their own SOS ("I am safe"), an outcome of its own

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07

The command sees that the volunteer withdrew it, not that an officer cancelled it.
"""
from alembic import op


revision = '0042'
down_revision = '0041'
branch_labels = None
depends_on = None

_OLD = "'resolved', 'false_alarm', 'handed_over', 'cancelled'"


def upgrade() -> None:
    op.drop_constraint('callouts_outcome_check', 'callouts', type_='check')
    op.create_check_constraint('callouts_outcome_check', 'callouts',
                               f"outcome IN ({_OLD}, 'withdrawn')")


def downgrade() -> None:
    op.execute("UPDATE callouts SET outcome = 'cancelled' WHERE outcome = 'withdrawn'")
    op.drop_constraint('callouts_outcome_check', 'callouts', type_='check')
    op.create_check_constraint('callouts_outcome_check', 'callouts', f"outcome IN ({_OLD})")
