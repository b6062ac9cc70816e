"""jobs: long work asked for by a user, its progress and its result

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

A job is asked for by its kind and parameters; its ``key`` adds what its inputs were (the
latest analysis run and upload, and the force), so the same request joins a job that is queued or
running (at most one per key) and reads a finished one until its inputs change. The
procrastinate queue that runs it lives in the deployment's schema.
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE jobs (
            id serial PRIMARY KEY,
            kind varchar(32) NOT NULL,
            key varchar(64) NOT NULL,
            params jsonb NOT NULL,
            state varchar(8) NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            progress real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
            step text,
            result jsonb,
            payload bytea,
            error text,
            error_kind varchar(64),
            requested_by varchar(64) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz
        )""")
    op.execute("CREATE UNIQUE INDEX jobs_one_active ON jobs (key) "
               "WHERE state IN ('queued', 'running')")
    op.execute("CREATE INDEX jobs_by_key ON jobs (key, id)")
    op.execute("CREATE INDEX jobs_by_user ON jobs (requested_by) "
               "WHERE state IN ('queued', 'running')")


def downgrade() -> None:
    op.execute("DROP TABLE jobs")
