"""notify: messages to a group's chat (a call-out nobody accepted), not to one person

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-06

A message without a volunteer goes to the group channels over its community: the police
station's chat and the city's (the command's). ``community_id`` says which community it is
about.
"""
from alembic import op


revision = '0028'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notify_messages ALTER COLUMN volunteer_id DROP NOT NULL, "
               "ADD COLUMN community_id integer REFERENCES areas (id) ON DELETE SET NULL")


def downgrade() -> None:
    op.execute("DELETE FROM notify_messages WHERE volunteer_id IS NULL")
    op.execute("ALTER TABLE notify_messages DROP COLUMN community_id, "
               "ALTER COLUMN volunteer_id SET NOT NULL")
