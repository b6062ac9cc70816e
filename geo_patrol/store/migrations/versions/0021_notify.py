"""notify: an outbox of messages to people, their channels, rules, push subscriptions, notices

Revision ID: 0021
Revises: 0026
Create Date: 2026-12-05

A message to a person (a call-out, an SOS, a task offered, a report verified, points paid, a
notice) is one ``notify_messages`` row per (kind, ref, volunteer): a repeated call queues
nothing new. Each message is handed to every channel that reaches the person, one
``notify_outbox`` row per channel, with its state (queued, sent, delivered, failed, answered),
attempts, next try, lease and last error. Channels are apprise URLs kept per city, per police
station (for its group chat) and per volunteer, and the browsers' Web Push subscriptions.
A notice (a missing person, a suspect vehicle) goes to the volunteers within a radius of a
place; who read it is kept.
"""
from alembic import op


revision = '0021'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE notify_channels (
            id serial PRIMARY KEY,
            scope varchar(16) NOT NULL CHECK (scope IN ('city', 'station', 'volunteer')),
            area_id integer REFERENCES areas (id) ON DELETE CASCADE,
            volunteer_id integer REFERENCES volunteers (id) ON DELETE CASCADE,
            url text NOT NULL,
            label text NOT NULL DEFAULT '',
            created_by varchar(64) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((scope = 'city' AND area_id IS NULL AND volunteer_id IS NULL)
                OR (scope = 'station' AND area_id IS NOT NULL AND volunteer_id IS NULL)
                OR (scope = 'volunteer' AND volunteer_id IS NOT NULL AND area_id IS NULL)),
            CONSTRAINT notify_channels_once
                UNIQUE NULLS NOT DISTINCT (scope, area_id, volunteer_id, url)
        )""")
    op.execute("""
        CREATE TABLE notify_rules (
            volunteer_id integer PRIMARY KEY REFERENCES volunteers (id) ON DELETE CASCADE,
            on_duty_only boolean NOT NULL DEFAULT false,
            quiet_start time,
            quiet_end time,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
        )""")
    op.execute("""
        CREATE TABLE push_subscriptions (
            id serial PRIMARY KEY,
            volunteer_id integer NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
            endpoint text NOT NULL UNIQUE,
            p256dh text NOT NULL,
            auth text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX push_subscriptions_volunteer ON push_subscriptions (volunteer_id)")
    op.execute("""
        CREATE TABLE notify_messages (
            id bigserial PRIMARY KEY,
            kind varchar(16) NOT NULL,
            ref varchar(64) NOT NULL,
            volunteer_id integer NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
            title text NOT NULL,
            body text NOT NULL,
            url text,
            created_at timestamptz NOT NULL DEFAULT now(),
            answered_at timestamptz,
            read_at timestamptz,
            CONSTRAINT notify_messages_once UNIQUE (kind, ref, volunteer_id)
        )""")
    op.execute("CREATE INDEX notify_messages_volunteer ON notify_messages (volunteer_id, id)")
    op.execute("""
        CREATE TABLE notify_outbox (
            id bigserial PRIMARY KEY,
            message_id bigint NOT NULL REFERENCES notify_messages (id) ON DELETE CASCADE,
            channel varchar(8) NOT NULL CHECK (channel IN ('apprise', 'webpush')),
            channel_id integer REFERENCES notify_channels (id) ON DELETE SET NULL,
            subscription_id integer REFERENCES push_subscriptions (id) ON DELETE SET NULL,
            state varchar(10) NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sent', 'delivered', 'failed', 'answered')),
            attempts integer NOT NULL DEFAULT 0,
            next_try_at timestamptz NOT NULL DEFAULT now(),
            lease_until timestamptz,
            leased_by text,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            done_at timestamptz,
            CONSTRAINT notify_outbox_once
                UNIQUE NULLS NOT DISTINCT (message_id, channel, channel_id, subscription_id)
        )""")
    op.execute("CREATE INDEX notify_outbox_due ON notify_outbox (next_try_at) "
               "WHERE state = 'queued'")
    op.execute("CREATE INDEX notify_outbox_message ON notify_outbox (message_id)")
    op.execute("""
        CREATE TABLE notices (
            id serial PRIMARY KEY,
            kind varchar(16) NOT NULL CHECK (kind IN ('missing', 'vehicle', 'other')),
            title text NOT NULL,
            body text NOT NULL,
            place text NOT NULL,
            radius_m real NOT NULL CHECK (radius_m > 0 AND radius_m <= 50000),
            geom geometry(Point, 4326) NOT NULL,
            community_id integer REFERENCES areas (id),
            media_id integer,
            created_by varchar(64) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX idx_notices_geom ON notices USING gist (geom)")


def downgrade() -> None:
    for table in ("notices", "notify_outbox", "notify_messages", "push_subscriptions",
                  "notify_rules", "notify_channels"):
        op.execute(f"DROP TABLE {table}")
