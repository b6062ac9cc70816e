"""report_media: a report may carry one short video besides its photos

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

A video is kept by the hash of its bytes like a photo; its ``mime`` names the container
(and so the extension of the original and of the copy served without metadata).
"""
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('report_media_kind_check', 'report_media', type_='check')
    op.create_check_constraint('report_media_kind_check', 'report_media',
                               "kind IN ('photo', 'video')")


def downgrade() -> None:
    op.execute("DELETE FROM report_media WHERE kind = 'video'")
    op.drop_constraint('report_media_kind_check', 'report_media', type_='check')
    op.create_check_constraint('report_media_kind_check', 'report_media', "kind IN ('photo')")
