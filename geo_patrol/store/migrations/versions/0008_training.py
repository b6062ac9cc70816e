"""training: courses, their sessions and who attended or passed (certified skills)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_KINDS_BEFORE = ("boundaries", "streets", "volunteers", "tracks", "hazards", "reports",
                 "incidents", "live")


def _upload_kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint("uploads_kind_check", "uploads", type_="check")
    op.create_check_constraint("uploads_kind_check", "uploads",
                               f"kind IN ({', '.join(repr(k) for k in kinds)})")


#: Every pass, with the day its certificate ends: the course's validity after the session
#: (NULL for a course without expiry). The one place the expiry rule is written.
CERTIFICATE_PASSES = """
CREATE VIEW certificate_passes AS
    SELECT a.volunteer_id, c.skill, s.held_on,
           CASE WHEN c.validity_months = 0 THEN NULL
                ELSE (s.held_on + make_interval(months => c.validity_months))::date
           END AS ends_on
    FROM attendance a JOIN training_sessions s ON s.id = a.session_id
    JOIN courses c ON c.id = s.course_id
    WHERE a.result = 'passed'"""
#: The skills a volunteer holds a current certificate in on a day: a pass on or before the
#: day whose certificate has not ended.
CERTIFIED_SKILLS = """
CREATE FUNCTION certified_skills(vid integer, on_day date) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT skill ORDER BY skill), '{}')
    FROM certificate_passes
    WHERE volunteer_id = vid AND held_on <= on_day AND (ends_on IS NULL OR ends_on > on_day)
$$"""


def upgrade() -> None:
    _upload_kinds((*_KINDS_BEFORE, "training"))
    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('skill', sa.String(length=32), nullable=False),
    sa.Column('duty', sa.Text(), nullable=True),
    sa.Column('validity_months', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint("skill IN ('patrol', 'first_aid', 'mediation', 'law', 'incident_response', 'fire_safety', 'hazmat_inspection', 'weapons_inspection')", name='courses_skill_check'),
    sa.CheckConstraint('validity_months BETWEEN 0 AND 120', name='courses_validity_check'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('batch', sa.Text(), nullable=False),
    sa.Column('place', sa.Text(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('trainer', sa.Text(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("mode IN ('classroom', 'online', 'shadowing')", name='training_sessions_mode_check'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('course_id', 'held_on', 'batch', name='training_sessions_key')
    )
    op.create_index(op.f('ix_training_sessions_course_id'), 'training_sessions', ['course_id'], unique=False)
    op.create_index(op.f('ix_training_sessions_held_on'), 'training_sessions', ['held_on'], unique=False)
    op.create_table('attendance',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("result IN ('present', 'absent', 'passed')", name='attendance_result_check'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'volunteer_id')
    )
    op.create_index(op.f('ix_attendance_volunteer_id'), 'attendance', ['volunteer_id'], unique=False)
    op.execute(CERTIFICATE_PASSES)
    op.execute(CERTIFIED_SKILLS)
    op.add_column('callouts', sa.Column('skill', sa.String(length=32), nullable=True))
    op.add_column('callouts', sa.Column('skill_required', sa.Boolean(),
                                        server_default=sa.text('false'), nullable=False))
    op.add_column('callout_targets', sa.Column('certified', sa.Boolean(),
                                               server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    op.drop_column('callout_targets', 'certified')
    op.drop_column('callouts', 'skill_required')
    op.drop_column('callouts', 'skill')
    op.execute("DROP FUNCTION certified_skills(integer, date)")
    op.execute("DROP VIEW certificate_passes")
    op.drop_index(op.f('ix_attendance_volunteer_id'), table_name='attendance')
    op.drop_table('attendance')
    op.drop_index(op.f('ix_training_sessions_held_on'), table_name='training_sessions')
    op.drop_index(op.f('ix_training_sessions_course_id'), table_name='training_sessions')
    op.drop_table('training_sessions')
    op.drop_table('courses')
    op.execute("DELETE FROM uploads WHERE kind = 'training'")
    _upload_kinds(_KINDS_BEFORE)
