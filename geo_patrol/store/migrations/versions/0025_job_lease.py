"""jobs: a running job's lease (its worker's heartbeat) and its attempts

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-05

A worker running a job renews ``heartbeat_at`` while it runs; a running job whose lease has
lapsed lost its worker (killed, its machine stopped) and is queued again, or failed after
``attempts`` tries, so it no longer blocks its key.
"""
from alembic import op


revision = '0025'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs ADD COLUMN heartbeat_at timestamptz, "
               "ADD COLUMN attempts smallint NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX jobs_running ON jobs (heartbeat_at) WHERE state = 'running'")


def downgrade() -> None:
    op.execute("DROP INDEX jobs_running")
    op.execute("ALTER TABLE jobs DROP COLUMN heartbeat_at, DROP COLUMN attempts")
