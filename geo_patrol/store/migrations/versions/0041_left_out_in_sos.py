"""dispatch: a volunteer who has raised an SOS still open is left out of other call-outs

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07

The reason is recorded like the others, so that the command sees why they were not called.
"""
from alembic import op


revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None

_OLD = "'too_far', 'off_duty', 'stale', 'no_skill', 'unreachable'"


def upgrade() -> None:
    op.drop_constraint('callout_left_out_reason_check', 'callout_left_out', type_='check')
    op.create_check_constraint('callout_left_out_reason_check', 'callout_left_out',
                               f"reason IN ({_OLD}, 'in_sos')")


def downgrade() -> None:
    op.execute("DELETE FROM callout_left_out WHERE reason = 'in_sos'")
    op.drop_constraint('callout_left_out_reason_check', 'callout_left_out', type_='check')
    op.create_check_constraint('callout_left_out_reason_check', 'callout_left_out',
                               f"reason IN ({_OLD})")
