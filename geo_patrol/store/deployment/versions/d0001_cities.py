"""cities: the deployment's registry of cities, each stored in its own schema

Revision ID: d0001
Revises:
Create Date: 2026-12-03
"""
from alembic import op


revision = 'd0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE public.cities (
            key varchar(32) PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,31}$'),
            name text NOT NULL,
            name_en text,
            timezone text NOT NULL,
            metric_crs text,
            retention_days double precision CHECK (retention_days > 0),
            rules_file text,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")


def downgrade() -> None:
    op.execute("DROP TABLE public.cities")
