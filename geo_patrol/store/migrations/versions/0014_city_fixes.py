"""city_fixes: this city's fixes become the city's LIST partition of the deployment's
``public.patrol_fixes`` (partitioned by city, then by day)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _city() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not schema.startswith("city_"):
        msg = f"a city's tables live in a schema city_<key>, not {schema!r}"
        raise RuntimeError(msg)
    return schema.removeprefix("city_")


def upgrade() -> None:
    key = _city()
    op.execute(f"ALTER TABLE patrol_fixes ADD COLUMN city varchar(32) NOT NULL DEFAULT '{key}'")
    # a CHECK that day partitions copy, so attaching one needs no scan to prove the city
    op.execute(f"ALTER TABLE patrol_fixes ADD CONSTRAINT patrol_fixes_city_check "
               f"CHECK (city = '{key}')")
    op.execute("CREATE TABLE IF NOT EXISTS public.patrol_fixes (LIKE patrol_fixes) "
               "PARTITION BY LIST (city)")
    # a city added after revision 0016 gave the common parent ``received_at`` has it too
    op.execute("""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'
                   AND table_name = 'patrol_fixes' AND column_name = 'received_at') THEN
            ALTER TABLE patrol_fixes ADD COLUMN received_at timestamptz DEFAULT now();
        END IF; END $$""")
    op.execute(f"ALTER TABLE public.patrol_fixes ATTACH PARTITION patrol_fixes "
               f"FOR VALUES IN ('{key}')")


def downgrade() -> None:
    op.execute("ALTER TABLE public.patrol_fixes DETACH PARTITION patrol_fixes")
    op.execute("ALTER TABLE patrol_fixes DROP CONSTRAINT patrol_fixes_city_check")
    op.execute("ALTER TABLE patrol_fixes DROP COLUMN city")
