"""proof of work: when each fix was received, and what vouches for each upload

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

``patrol_fixes.received_at`` is when the server stored a fix (a phone that buffered while
offline sends it later than it was taken); ``uploads.proof`` says what vouches for an upload's
fixes: ``import`` (a file the command loaded), ``phone`` (positions from a phone that proved
itself with its device secret) or ``none`` (a phone without a secret, a volunteer's own file).
Fixes stored before this revision have no ``received_at``; live positions stored before it
are ``none``.
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the column belongs to every city's fixes: it is added to their common parent once
    op.execute("ALTER TABLE public.patrol_fixes ADD COLUMN IF NOT EXISTS received_at "
               "timestamptz")
    op.execute("ALTER TABLE public.patrol_fixes ALTER COLUMN received_at SET DEFAULT now()")
    op.execute("ALTER TABLE uploads ADD COLUMN proof varchar(8) NOT NULL DEFAULT 'import'")
    op.execute("ALTER TABLE uploads ADD CONSTRAINT uploads_proof_check "
               "CHECK (proof IN ('import', 'phone', 'none'))")
    op.execute("UPDATE uploads SET proof = 'none' WHERE kind = 'live'")


def downgrade() -> None:
    op.execute("ALTER TABLE uploads DROP CONSTRAINT uploads_proof_check")
    op.execute("ALTER TABLE uploads DROP COLUMN proof")
    op.execute("ALTER TABLE public.patrol_fixes DROP COLUMN IF EXISTS received_at")
