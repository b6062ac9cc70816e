"""push keys: the deployment's VAPID key pair for Web Push

Revision ID: d0003
Revises: d0002
Create Date: 2026-12-05

Web Push identifies the server to the browsers' push services with one VAPID key pair per
deployment, made once (on first use) and shared by every city and process.
"""
from alembic import op


revision = 'd0003'
down_revision = 'd0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE public.push_keys (
            id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            private_pem text NOT NULL,
            public_key text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")


def downgrade() -> None:
    op.execute("DROP TABLE public.push_keys")
