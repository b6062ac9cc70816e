"""live positions: devices registered to volunteers, refused requests counted, positions as
they arrive (unique per volunteer and time), today's live coverage, call-outs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


_KINDS_BEFORE = ("boundaries", "streets", "volunteers", "tracks", "hazards", "reports",
                 "incidents")


def _upload_kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint("uploads_kind_check", "uploads", type_="check")
    op.create_check_constraint("uploads_kind_check", "uploads",
                               f"kind IN ({', '.join(repr(k) for k in kinds)})")


def upgrade() -> None:
    _upload_kinds((*_KINDS_BEFORE, "live"))
    op.create_table('intake_refusals',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', 'reason', 'device')
    )
    op.create_table('live_cover',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('segment_id', sa.BigInteger(), nullable=False),
    sa.Column('atoms', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('starts', postgresql.ARRAY(sa.Float()), nullable=False),
    sa.Column('ends', postgresql.ARRAY(sa.Float()), nullable=False),
    sa.Column('covered_m', sa.Float(), nullable=False),
    sa.Column('last_visit', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', 'segment_id')
    )
    op.create_table('live_cursor',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('live_positions',
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('t', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('speed_mps', sa.Float(), nullable=True),
    sa.Column('heading', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('battery_pct', sa.Float(), nullable=True),
    sa.Column('moving', sa.Boolean(), nullable=True),
    sa.Column('flags', sa.SmallInteger(), nullable=False),
    sa.Column('track_id', sa.BigInteger(), nullable=False),
    sa.Column('attrs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('volunteer_id', 't')
    )
    op.create_index(op.f('ix_live_positions_seq'), 'live_positions', ['seq'], unique=False)
    op.create_index(op.f('ix_live_positions_t'), 'live_positions', ['t'], unique=False)
    op.create_index(op.f('ix_live_positions_track_id'), 'live_positions', ['track_id'],
                    unique=False)
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id')
    )
    op.create_index(op.f('ix_devices_volunteer_id'), 'devices', ['volunteer_id'], unique=False)
    op.create_geospatial_table('callouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_m', Geometry(dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_callouts_geom', 'callouts', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_callouts_geom_m', 'callouts', ['geom_m'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_callouts_community_id'), 'callouts', ['community_id'], unique=False)
    op.create_table('callout_targets',
    sa.Column('callout_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('walk_m', sa.Float(), nullable=False),
    sa.Column('eta_s', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('sent', 'accepted', 'declined', 'arrived')", name='callout_targets_status_check'),
    sa.ForeignKeyConstraint(['callout_id'], ['callouts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('callout_id', 'volunteer_id')
    )


def downgrade() -> None:
    op.drop_table('callout_targets')
    op.drop_index(op.f('ix_callouts_community_id'), table_name='callouts')
    op.drop_geospatial_index('idx_callouts_geom_m', table_name='callouts', postgresql_using='gist', column_name='geom_m')
    op.drop_geospatial_index('idx_callouts_geom', table_name='callouts', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('callouts')
    op.drop_index(op.f('ix_devices_volunteer_id'), table_name='devices')
    op.drop_table('devices')
    op.drop_index(op.f('ix_live_positions_track_id'), table_name='live_positions')
    op.drop_index(op.f('ix_live_positions_t'), table_name='live_positions')
    op.drop_index(op.f('ix_live_positions_seq'), table_name='live_positions')
    op.drop_table('live_positions')
    op.drop_table('live_cursor')
    op.drop_table('live_cover')
    op.drop_table('intake_refusals')
    op.execute("DELETE FROM uploads WHERE kind = 'live'")
    _upload_kinds(_KINDS_BEFORE)
