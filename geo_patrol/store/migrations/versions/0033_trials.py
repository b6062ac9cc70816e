"""trials: randomised trials of hot-spot patrols, fixed once stored

Revision ID: 0033
Revises: 0028
Create Date: 2026-12-06

A trial's design (its hot spots' blocks and arms, outcome, start, weeks and seed) is written
once, in one transaction: the database refuses every update of it, a hot spot added later,
and its removal once it has started.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = '0033'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'trials',
        sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=True),
        sa.Column('start_day', sa.Date(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('weeks', sa.SmallInteger(), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('crime', sa.String(length=32), nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.Column('fall', sa.Float(), nullable=False),
        sa.Column('design', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('weeks BETWEEN 1 AND 104', name='trials_weeks_check'),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'))
    op.create_index(op.f('ix_trials_area_id'), 'trials', ['area_id'], unique=False)
    op.create_table(
        'trial_spots',
        sa.Column('trial_id', sa.Integer(), nullable=False),
        sa.Column('segment_id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=True),
        sa.Column('block', sa.Integer(), nullable=False),
        sa.Column('arm', sa.String(length=16), nullable=False),
        sa.Column('risk', sa.Float(), nullable=False),
        sa.Column('weekly', sa.Float(), nullable=False),
        sa.CheckConstraint("arm IN ('patrolled', 'control')", name='trial_spots_arm_check'),
        sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('trial_id', 'segment_id'))
    # the design is written once: no update ever, no removal (nor a spot added) once started
    op.execute("""
        CREATE FUNCTION trials_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'trial % is fixed once stored (% refused)', OLD.id, TG_OP;
            END IF;
            IF TG_OP = 'DELETE' AND OLD.starts_at <= now() THEN
                RAISE EXCEPTION 'trial % has started: it is kept (% refused)', OLD.id, TG_OP;
            END IF;
            RETURN OLD;
        END $$""")
    op.execute("""
        CREATE FUNCTION trial_spots_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE begins timestamptz; stored timestamptz;
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'trial % is fixed once stored (% refused)', OLD.trial_id,
                    TG_OP;
            END IF;
            SELECT t.starts_at, t.created_at INTO begins, stored FROM trials t
            WHERE t.id = CASE WHEN TG_OP = 'INSERT' THEN NEW.trial_id ELSE OLD.trial_id END;
            -- hot spots are stored with their trial, in its transaction, and never after
            IF TG_OP = 'INSERT' AND stored IS DISTINCT FROM now() THEN
                RAISE EXCEPTION 'trial % is fixed once stored (% refused)', NEW.trial_id,
                    TG_OP;
            END IF;
            IF TG_OP = 'DELETE' AND begins IS NOT NULL AND begins <= now() THEN
                RAISE EXCEPTION 'trial has started: its hot spots are kept (% refused)', TG_OP;
            END IF;
            RETURN CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
        END $$""")
    op.execute("CREATE TRIGGER trials_no_change BEFORE UPDATE OR DELETE ON trials "
               "FOR EACH ROW EXECUTE FUNCTION trials_fixed()")
    op.execute("CREATE TRIGGER trial_spots_no_change BEFORE INSERT OR UPDATE OR DELETE "
               "ON trial_spots FOR EACH ROW EXECUTE FUNCTION trial_spots_fixed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER trial_spots_no_change ON trial_spots")
    op.execute("DROP TRIGGER trials_no_change ON trials")
    op.drop_table('trial_spots')
    op.execute("DROP FUNCTION trial_spots_fixed()")
    op.execute("DROP FUNCTION trials_fixed()")
    op.drop_index(op.f('ix_trials_area_id'), table_name='trials')
    op.drop_table('trials')
