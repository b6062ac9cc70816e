"""job queue: procrastinate's tables, shared by the deployment's cities

Revision ID: d0002
Revises: d0001
Create Date: 2026-12-05

Long work (an analysis, a zones plan, a rota) runs on a job queue kept in PostgreSQL by
procrastinate: its jobs, events, workers and functions live once in ``public``, and each job
names its city (the city's own ``jobs`` table holds what it asked for and what it gave).
"""
from alembic import op
from procrastinate.schema import SchemaManager


revision = 'd0002'
down_revision = 'd0001'
branch_labels = None
depends_on = None


def _run(sql: str) -> None:
    # the driver's own execute: the script holds many statements, and quotes and casts that
    # are not bind parameters
    op.get_bind().connection.driver_connection.execute(sql)


def upgrade() -> None:
    _run("SET LOCAL search_path TO public")
    _run(SchemaManager.get_schema())


def downgrade() -> None:
    _run("""
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT tablename FROM pg_tables
                     WHERE schemaname = 'public' AND tablename LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP TABLE public.%I CASCADE', r.tablename);
            END LOOP;
            FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP FUNCTION %s CASCADE', r.f);
            END LOOP;
            FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                     WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate\\_%'
                     AND t.typtype = 'e' LOOP
                EXECUTE format('DROP TYPE public.%I CASCADE', r.typname);
            END LOOP;
        END $$""")
