"""notices: a photo (the missing person, the suspect vehicle), kept as reports' photos are

Revision ID: 0031
Revises: 0033
Create Date: 2026-12-06

``photo_sha256`` names the photo's copies where the media are kept (the copy shown and its
thumbnail, both without EXIF; the original sent is not kept). ``photo_mime`` is the type it
was sent as.
"""
from alembic import op


revision = '0031'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notices ADD COLUMN photo_sha256 varchar(64) "
               "CHECK (photo_sha256 ~ '^[0-9a-f]{64}$'), ADD COLUMN photo_mime varchar(32)")


def downgrade() -> None:
    op.execute("ALTER TABLE notices DROP COLUMN photo_sha256, DROP COLUMN photo_mime")
