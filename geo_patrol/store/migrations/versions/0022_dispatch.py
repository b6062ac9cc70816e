"""callouts: rings of escalation, SOS alarms, acknowledgement, lead, outcome; targets' ring,
travel mode and "on my way"; the volunteers left out of a call-out and why

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

A target whose ring has not been called yet is ``waiting`` with no ``sent_at``.
"""
import sqlalchemy as sa
from alembic import op


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_STATUSES = "status IN ('waiting', 'sent', 'accepted', 'on_way', 'arrived', 'declined')"


def upgrade() -> None:
    add = op.add_column
    add('callouts', sa.Column('kind', sa.String(length=8), server_default='callout',
                              nullable=False))
    add('callouts', sa.Column('raised_by', sa.Integer(), nullable=True))
    add('callouts', sa.Column('ring', sa.Integer(), server_default='1', nullable=False))
    add('callouts', sa.Column('ring_size', sa.Integer(), server_default='5', nullable=False))
    add('callouts', sa.Column('ring_s', sa.Float(), server_default='60', nullable=False))
    add('callouts', sa.Column('rings', sa.Integer(), server_default='1', nullable=False))
    add('callouts', sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
    add('callouts', sa.Column('acknowledged_by', sa.Integer(), nullable=True))
    add('callouts', sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
    add('callouts', sa.Column('lead_id', sa.Integer(), nullable=True))
    add('callouts', sa.Column('outcome', sa.String(length=16), nullable=True))
    add('callouts', sa.Column('closed_by', sa.Integer(), nullable=True))
    op.create_foreign_key(None, 'callouts', 'volunteers', ['raised_by'], ['id'],
                          ondelete='SET NULL')
    op.create_foreign_key(None, 'callouts', 'volunteers', ['lead_id'], ['id'],
                          ondelete='SET NULL')
    op.create_foreign_key(None, 'callouts', 'users', ['acknowledged_by'], ['id'],
                          ondelete='SET NULL')
    op.create_foreign_key(None, 'callouts', 'users', ['closed_by'], ['id'], ondelete='SET NULL')
    op.create_check_constraint('callouts_kind_check', 'callouts',
                               "kind IN ('callout', 'sos', 'still')")
    op.create_check_constraint('callouts_outcome_check', 'callouts',
                               "outcome IN ('resolved', 'false_alarm', 'handed_over', "
                               "'cancelled')")
    add('callout_targets', sa.Column('ring', sa.Integer(), server_default='1', nullable=False))
    add('callout_targets', sa.Column('mode', sa.String(length=8), server_default='walk',
                                     nullable=False))
    add('callout_targets', sa.Column('on_way_at', sa.DateTime(timezone=True), nullable=True))
    op.alter_column('callout_targets', 'sent_at', nullable=True, server_default=None)
    op.drop_constraint('callout_targets_status_check', 'callout_targets', type_='check')
    op.create_check_constraint('callout_targets_status_check', 'callout_targets', _STATUSES)
    op.create_check_constraint('callout_targets_mode_check', 'callout_targets',
                               "mode IN ('walk', 'ride', 'drive')")
    op.create_table(
        'callout_left_out',
        sa.Column('callout_id', sa.Integer(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('eta_s', sa.Float(), nullable=True),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("reason IN ('too_far', 'off_duty', 'stale', 'no_skill', "
                           "'unreachable')", name='callout_left_out_reason_check'),
        sa.CheckConstraint("mode IN ('walk', 'ride', 'drive')",
                           name='callout_left_out_mode_check'),
        sa.ForeignKeyConstraint(['callout_id'], ['callouts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('callout_id', 'volunteer_id'))


def downgrade() -> None:
    op.drop_table('callout_left_out')
    op.execute("DELETE FROM callout_targets WHERE status = 'waiting'")
    op.execute("UPDATE callout_targets SET status = 'accepted' WHERE status = 'on_way'")
    op.drop_constraint('callout_targets_mode_check', 'callout_targets', type_='check')
    op.drop_constraint('callout_targets_status_check', 'callout_targets', type_='check')
    op.create_check_constraint('callout_targets_status_check', 'callout_targets',
                               "status IN ('sent', 'accepted', 'declined', 'arrived')")
    op.alter_column('callout_targets', 'sent_at', nullable=False, server_default=sa.func.now())
    for column in ('on_way_at', 'mode', 'ring'):
        op.drop_column('callout_targets', column)
    op.execute("DELETE FROM callouts WHERE kind <> 'callout'")
    op.drop_constraint('callouts_outcome_check', 'callouts', type_='check')
    op.drop_constraint('callouts_kind_check', 'callouts', type_='check')
    for column in ('closed_by', 'outcome', 'lead_id', 'acknowledged_at', 'acknowledged_by',
                   'escalated_at', 'rings', 'ring_s', 'ring_size', 'ring', 'raised_by', 'kind'):
        op.drop_column('callouts', column)
