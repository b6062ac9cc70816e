"""scope and sessions: one SQL function for an area and its sub-areas, server-side sign-in
sessions (revoked on sign-out, disable and password change), hazard proposals under review

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION area_subtree(root integer) RETURNS SETOF integer
        LANGUAGE sql STABLE AS $$
            WITH RECURSIVE s AS (SELECT id FROM areas WHERE id = root
                                 UNION ALL SELECT a.id FROM areas a JOIN s ON a.parent_id = s.id)
            SELECT id FROM s
        $$""")
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_sha256'))
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'])
    op.add_column('hazards', sa.Column('proposed', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))


def downgrade() -> None:
    op.drop_column('hazards', 'proposed')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
    op.execute("DROP FUNCTION area_subtree(integer)")
