"""reports from the street: photos, triage and its outcome, the report's community

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

``report_media`` holds each photo of a report by the SHA-256 of the bytes sent (the files
live under the data directory, the copies shown without EXIF), with what its EXIF said and
how that compares with the reporter's own track. A report keeps its community (for scope),
when it was received, and its triage: the outcome (verified, hazard, station, rejected,
merged), the officer's answer, who triaged it and when, and the police station it was handed
to. ``merged`` joins the verification states.
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('reports', sa.Column('community_id', sa.Integer(), nullable=True))
    op.add_column('reports', sa.Column('received_at', sa.DateTime(timezone=True),
                                       server_default=sa.text('now()'), nullable=True))
    op.add_column('reports', sa.Column('outcome', sa.String(length=16), nullable=True))
    op.add_column('reports', sa.Column('answer', sa.Text(), nullable=True))
    op.add_column('reports', sa.Column('triaged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('reports', sa.Column('triaged_by', sa.Text(), nullable=True))
    op.add_column('reports', sa.Column('station_id', sa.Integer(), nullable=True))
    op.create_foreign_key('reports_community_id_fkey', 'reports', 'areas', ['community_id'],
                          ['id'], ondelete='SET NULL')
    op.create_foreign_key('reports_station_id_fkey', 'reports', 'areas', ['station_id'],
                          ['id'], ondelete='SET NULL')
    op.create_index(op.f('ix_reports_community_id'), 'reports', ['community_id'], unique=False)
    op.execute("UPDATE reports r SET community_id = (SELECT x.id FROM areas x "
               "WHERE x.level = 'community' AND ST_Intersects(x.geom, r.geom) "
               "ORDER BY x.id LIMIT 1)")
    op.execute("UPDATE reports SET outcome = verification, received_at = reported_at "
               "WHERE verification IN ('verified', 'rejected')")
    op.drop_constraint('reports_verification_check', 'reports', type_='check')
    op.create_check_constraint('reports_verification_check', 'reports',
                               "verification IN ('pending', 'verified', 'rejected', 'merged')")
    op.create_check_constraint(
        'reports_outcome_check', 'reports',
        "outcome IN ('verified', 'hazard', 'station', 'rejected', 'merged')")
    op.create_table('report_media',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mime', sa.Text(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('exif_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exif_lon', sa.Float(), nullable=True),
    sa.Column('exif_lat', sa.Float(), nullable=True),
    sa.Column('exif_check', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint("kind IN ('photo')", name='report_media_kind_check'),
    sa.CheckConstraint("exif_check IN ('matches', 'far', 'no_track', 'none')",
                       name='report_media_exif_check'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'sha256', name='report_media_item_key')
    )
    op.create_index(op.f('ix_report_media_report_id'), 'report_media', ['report_id'],
                    unique=False)
    op.create_index(op.f('ix_report_media_sha256'), 'report_media', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_report_media_sha256'), table_name='report_media')
    op.drop_index(op.f('ix_report_media_report_id'), table_name='report_media')
    op.drop_table('report_media')
    op.drop_constraint('reports_outcome_check', 'reports', type_='check')
    op.drop_constraint('reports_verification_check', 'reports', type_='check')
    op.execute("UPDATE reports SET verification = 'rejected' WHERE verification = 'merged'")
    op.create_check_constraint('reports_verification_check', 'reports',
                               "verification IN ('pending', 'verified', 'rejected')")
    op.drop_index(op.f('ix_reports_community_id'), table_name='reports')
    op.drop_constraint('reports_station_id_fkey', 'reports', type_='foreignkey')
    op.drop_constraint('reports_community_id_fkey', 'reports', type_='foreignkey')
    for column in ('station_id', 'triaged_by', 'triaged_at', 'answer', 'outcome',
                   'received_at', 'community_id'):
        op.drop_column('reports', column)
