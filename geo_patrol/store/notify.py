"""The outbox of messages to people: messages, their deliveries per channel, the channels,
the volunteers' rules and push subscriptions, and notices.

A delivery is claimed by a sender with ``FOR UPDATE SKIP LOCKED`` and a lease; it is marked
``sent`` in its own committed transaction before it is handed to its channel, so a sender
killed mid-batch never hands a delivery over twice (one it had claimed but not started is
taken by the next sender once the lease runs out)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.paging import PageOf, Paging
from geo_patrol.store.paging import page_of
from geo_patrol.store.scope import Within, in_scope, meets_scope, scope_params

#: Police station ``st`` is over community ``com``: its parent, or covering the community's
#: inside point (a station's group is told of its communities' messages).
_STATION_OVER = "(st.id = com.parent_id OR ST_Covers(st.geom, ST_PointOnSurface(com.geom)))"

#: The one PostgreSQL NOTIFY channel of live events, and the one that wakes the senders.
EVENTS_CHANNEL = "geo_patrol_events"
OUTBOX_CHANNEL = "geo_patrol_outbox"


def insert_messages(conn: Connection, *, volunteer_ids: Sequence[int], kind: str, ref: str,
                    title: str, body: str, url: str | None) -> list[tuple[int, int]]:
    """New messages (id, volunteer) for the volunteers that had none of (kind, ref)."""
    rows = conn.execute(sa.text(
        "INSERT INTO notify_messages (kind, ref, volunteer_id, title, body, url) "
        "SELECT :kind, :ref, v.id, :title, :body, :url FROM volunteers v "
        "WHERE v.id = ANY(:ids) "
        "ON CONFLICT (kind, ref, volunteer_id) DO NOTHING RETURNING id, volunteer_id"),
        {"kind": kind, "ref": ref, "title": title, "body": body, "url": url,
         "ids": [int(i) for i in volunteer_ids]}).all()
    return [(int(r[0]), int(r[1])) for r in rows]


def queue_deliveries(conn: Connection, message_ids: Sequence[int]) -> int:
    """One queued delivery per message and channel reaching its volunteer: their own apprise
    URLs and push subscriptions; a volunteer with neither is reached through the group channel
    of the police station over their community, else the city's."""
    if not message_ids:
        return 0
    return conn.execute(sa.text(f"""
        WITH m AS (
            SELECT m.id, m.volunteer_id, v.community_id FROM notify_messages m
            JOIN volunteers v ON v.id = m.volunteer_id WHERE m.id = ANY(:ids)
        ), own AS (
            SELECT m.id AS message_id, 'apprise' AS channel, c.id AS channel_id,
                   NULL::integer AS subscription_id
            FROM m JOIN notify_channels c ON c.scope = 'volunteer'
                AND c.volunteer_id = m.volunteer_id
            UNION ALL
            SELECT m.id, 'webpush', NULL, s.id FROM m
            JOIN push_subscriptions s ON s.volunteer_id = m.volunteer_id
        ), station AS (
            SELECT m.id AS message_id, 'apprise' AS channel, c.id AS channel_id,
                   NULL::integer AS subscription_id
            FROM m JOIN areas com ON com.id = m.community_id
            JOIN notify_channels c ON c.scope = 'station' AND c.area_id IN (
                SELECT st.id FROM areas st WHERE st.level = 'station' AND {_STATION_OVER})
            WHERE m.id NOT IN (SELECT message_id FROM own)
        ), city AS (
            SELECT m.id AS message_id, 'apprise' AS channel, c.id AS channel_id,
                   NULL::integer AS subscription_id
            FROM m JOIN notify_channels c ON c.scope = 'city'
            WHERE m.id NOT IN (SELECT message_id FROM own)
              AND m.id NOT IN (SELECT message_id FROM station)
        )
        INSERT INTO notify_outbox (message_id, channel, channel_id, subscription_id)
        SELECT * FROM own UNION ALL SELECT * FROM station UNION ALL SELECT * FROM city
        ON CONFLICT DO NOTHING"""), {"ids": list(message_ids)}).rowcount


def insert_group_message(conn: Connection, *, community_id: int | None, kind: str, ref: str,
                         title: str, body: str, url: str | None) -> int | None:
    """A new message to the group channels over a community (``None`` when one of (kind,
    ref) was kept already)."""
    found = conn.execute(sa.text(
        "SELECT 1 FROM notify_messages WHERE kind = :k AND ref = :r AND volunteer_id IS NULL"),
        {"k": kind, "r": ref}).first()
    if found is not None:
        return None
    return int(conn.execute(sa.text(
        "INSERT INTO notify_messages (kind, ref, volunteer_id, community_id, title, body, url) "
        "VALUES (:k, :r, NULL, :c, :t, :b, :u) RETURNING id"),
        {"k": kind, "r": ref, "c": community_id, "t": title, "b": body, "u": url}).scalar_one())


def queue_group_deliveries(conn: Connection, message_id: int) -> int:
    """One queued delivery of a group's message to each channel of the police station over
    its community and each of the city's (the command's)."""
    return conn.execute(sa.text(f"""
        INSERT INTO notify_outbox (message_id, channel, channel_id)
        SELECT m.id, 'apprise', c.id FROM notify_messages m
        JOIN notify_channels c ON c.scope = 'city' OR (c.scope = 'station' AND c.area_id IN (
            SELECT st.id FROM areas st JOIN areas com ON com.id = m.community_id
            WHERE st.level = 'station' AND {_STATION_OVER}))
        WHERE m.id = :m
        ON CONFLICT DO NOTHING"""), {"m": message_id}).rowcount


def notify(conn: Connection, channel: str, payload: dict[str, Any]) -> None:
    """A NOTIFY on ``channel`` (sent when the transaction commits)."""
    conn.execute(sa.text("SELECT pg_notify(:c, :p)"),
                 {"c": channel, "p": json.dumps(payload, separators=(",", ":"))})


def notify_event(conn: Connection, channel: str, event: dict[str, Any]) -> None:
    """A NOTIFY of a live event naming the city whose schema ``conn`` works in."""
    conn.execute(sa.text(
        "SELECT pg_notify(:c, jsonb_set(CAST(:p AS jsonb), '{city}', "
        "to_jsonb(substr(current_schema(), 6)))::text)"),
        {"c": channel, "p": json.dumps(event, separators=(",", ":"), default=str)})


def claim(conn: Connection, *, worker: str, limit: int, lease_s: float) -> list[dict[str, Any]]:
    """Up to ``limit`` due deliveries leased to ``worker`` for ``lease_s`` seconds (those
    another sender holds are skipped, not waited for), with what is needed to send them."""
    rows = conn.execute(sa.text("""
        WITH due AS (
            SELECT id FROM notify_outbox
            WHERE state = 'queued' AND next_try_at <= now()
              AND (lease_until IS NULL OR lease_until < now())
            ORDER BY next_try_at, id LIMIT :n FOR UPDATE SKIP LOCKED
        )
        UPDATE notify_outbox o SET lease_until = now() + make_interval(secs => :lease),
            leased_by = :w
        FROM due WHERE o.id = due.id
        RETURNING o.id"""), {"n": limit, "lease": lease_s, "w": worker}).scalars().all()
    if not rows:
        return []
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT o.id, o.channel, o.attempts, m.kind, m.ref, m.title, m.body, m.url,
               m.volunteer_id, v.number, c.url AS apprise_url, c.scope,
               s.endpoint, s.p256dh, s.auth,
               r.on_duty_only, r.quiet_start, r.quiet_end
        FROM notify_outbox o JOIN notify_messages m ON m.id = o.message_id
        LEFT JOIN volunteers v ON v.id = m.volunteer_id
        LEFT JOIN notify_channels c ON c.id = o.channel_id
        LEFT JOIN push_subscriptions s ON s.id = o.subscription_id
        LEFT JOIN notify_rules r ON r.volunteer_id = m.volunteer_id
        WHERE o.id = ANY(:ids) ORDER BY o.next_try_at, o.id"""),
        {"ids": list(rows)}).mappings()]


def quick_commit(conn: Connection) -> None:
    """This transaction's commit does not wait for the disk: a delivery's state is written
    twice per message, and a server crash losing the last state change (not a sender's) at
    worst hands one message over again."""
    conn.execute(sa.text("SET LOCAL synchronous_commit = off"))


def quick_commits(conn: Connection, on: bool = True) -> None:
    """:func:`quick_commit` for every transaction of this session (``on=False``: as the
    server says again), for a sender's bookkeeping on the one connection it holds."""
    conn.exec_driver_sql("SET synchronous_commit = off" if on else "RESET synchronous_commit")
    conn.commit()


def mark_sent(conn: Connection, delivery_id: int, worker: str) -> bool:
    """Mark a leased delivery handed to its channel; ``False`` when it is no longer this
    sender's to send (its lease ran out and another sender took it)."""
    quick_commit(conn)
    return conn.execute(sa.text(
        "UPDATE notify_outbox SET state = 'sent', sent_at = now(), attempts = attempts + 1 "
        "WHERE id = :i AND state = 'queued' AND leased_by = :w AND lease_until >= now()"),
        {"i": delivery_id, "w": worker}).rowcount == 1


def mark_sent_many(conn: Connection, delivery_ids: Sequence[int], worker: str) -> list[int]:
    """:func:`mark_sent` for deliveries handed over together (one post to a group's
    channel, or the posts a sender starts at once): the ones still this sender's to send."""
    return [int(i) for i in conn.execute(sa.text(
        "UPDATE notify_outbox SET state = 'sent', sent_at = now(), attempts = attempts + 1 "
        "WHERE id = ANY(:i) AND state = 'queued' AND leased_by = :w AND lease_until >= now() "
        "RETURNING id"), {"i": [int(i) for i in delivery_ids], "w": worker}).scalars()]


def mark_delivered(conn: Connection, delivery_id: int | Sequence[int]) -> None:
    ids = [delivery_id] if isinstance(delivery_id, int) else list(delivery_id)
    conn.execute(sa.text(
        "UPDATE notify_outbox SET state = 'delivered', done_at = now(), lease_until = NULL, "
        "last_error = NULL WHERE id = ANY(:i) AND state = 'sent'"),
        {"i": [int(i) for i in ids]})


def mark_retry(conn: Connection, delivery_id: int, *, error: str, delay_s: float | None,
               count_attempt: bool = True) -> None:
    """Queue a delivery again after ``delay_s`` seconds, or with ``None`` mark it failed."""
    if delay_s is None:
        conn.execute(sa.text(
            "UPDATE notify_outbox SET state = 'failed', done_at = now(), lease_until = NULL, "
            "last_error = :e WHERE id = :i"), {"i": delivery_id, "e": error[:1000]})
        return
    conn.execute(sa.text(
        "UPDATE notify_outbox SET state = 'queued', lease_until = NULL, leased_by = NULL, "
        "next_try_at = now() + make_interval(secs => :d), last_error = :e, "
        "attempts = attempts - CASE WHEN :counted THEN 0 ELSE 1 END "
        "WHERE id = :i"), {"i": delivery_id, "e": error[:1000], "d": delay_s,
                           "counted": count_attempt})


def defer(conn: Connection, delivery_id: int, until: dt.datetime, why: str) -> None:
    """Keep a leased delivery queued until ``until`` (a quiet hour), attempts untouched."""
    conn.execute(sa.text(
        "UPDATE notify_outbox SET lease_until = NULL, leased_by = NULL, next_try_at = :t, "
        "last_error = :e WHERE id = :i AND state = 'queued'"),
        {"i": delivery_id, "t": until, "e": why})


def drop_subscription(conn: Connection, subscription_id: int | None) -> None:
    """A push subscription the push service says is gone."""
    if subscription_id is not None:
        conn.execute(sa.text("DELETE FROM push_subscriptions WHERE id = :i"),
                     {"i": subscription_id})


def subscription_of(conn: Connection, delivery_id: int) -> int | None:
    return conn.execute(sa.text("SELECT subscription_id FROM notify_outbox WHERE id = :i"),
                        {"i": delivery_id}).scalar()


def on_duty(conn: Connection, volunteer_ids: Sequence[int], since: dt.datetime) -> set[int]:
    """Which of the volunteers reported a live position since ``since``."""
    if not volunteer_ids:
        return set()
    return set(conn.execute(sa.text(
        "SELECT DISTINCT volunteer_id FROM live_positions WHERE volunteer_id = ANY(:ids) "
        "AND t >= :since"), {"ids": list(volunteer_ids), "since": since}).scalars())


def mark_answered(conn: Connection, *, kind: str, ref: str, volunteer_id: int) -> None:
    """The person answered a message (its deliveries read ``answered``)."""
    ids = conn.execute(sa.text(
        "UPDATE notify_messages SET answered_at = coalesce(answered_at, now()) "
        "WHERE kind = :k AND ref = :r AND volunteer_id = :v RETURNING id"),
        {"k": kind, "r": ref, "v": volunteer_id}).scalars().all()
    if ids:
        conn.execute(sa.text(
            "UPDATE notify_outbox SET state = 'answered' WHERE message_id = ANY(:ids) "
            "AND state IN ('sent', 'delivered')"), {"ids": list(ids)})


def mark_read(conn: Connection, message_ids: Sequence[int], volunteer_id: int) -> int:
    return conn.execute(sa.text(
        "UPDATE notify_messages SET read_at = coalesce(read_at, now()) "
        "WHERE id = ANY(:ids) AND volunteer_id = :v"),
        {"ids": list(message_ids), "v": volunteer_id}).rowcount


# -- what the command sees ----------------------------------------------------------------


#: A message no channel reached that its volunteer saw in the app all the same (read, or
#: answered): its row reads channel ``app``, delivered or answered.
_SEEN_IN_APP = ("(o.id IS NULL AND m.volunteer_id IS NOT NULL "
                "AND coalesce(m.answered_at, m.read_at) IS NOT NULL)")
#: A delivery's state; a message no channel reached is ``failed`` until seen in the app.
_STATE = ("coalesce(o.state, CASE WHEN NOT " + _SEEN_IN_APP + " THEN 'failed' "
          "WHEN m.answered_at IS NOT NULL THEN 'answered' ELSE 'delivered' END)")

_OUTBOX_SQL = """
        SELECT m.id AS message_id, m.kind, m.ref, m.title, m.created_at, m.read_at,
               m.answered_at, v.number, v.name, a.name AS community,
               coalesce(o.channel, CASE WHEN {seen} THEN 'app' ELSE 'none' END) AS channel,
               c.scope, c.label, {state} AS state, coalesce(o.attempts, 0) AS attempts,
               o.next_try_at, o.sent_at, coalesce(o.done_at, CASE WHEN {seen} THEN
                   coalesce(m.answered_at, m.read_at) END) AS done_at, o.id AS outbox_id,
               CASE WHEN o.id IS NULL AND m.volunteer_id IS NULL
                         THEN 'no channel reaches this group'
                    WHEN o.id IS NULL AND NOT {seen} THEN 'no channel reaches this person'
                    ELSE o.last_error END AS last_error
        FROM notify_messages m LEFT JOIN volunteers v ON v.id = m.volunteer_id
        LEFT JOIN areas a ON a.id = coalesce(v.community_id, m.community_id)
        LEFT JOIN notify_outbox o ON o.message_id = m.id
        LEFT JOIN notify_channels c ON c.id = o.channel_id
        WHERE {scope}""".replace("{seen}", _SEEN_IN_APP).replace("{state}", _STATE)


def outbox_table(conn: Connection, within: frozenset[int] | None, *, limit: int = 500
                 ) -> pd.DataFrame:
    """The latest messages, one row per person and channel (a message no channel reaches
    reads ``none``, its error ``no channel reaches this person``, or ``... this group`` for
    a group's message, which has no number; once its volunteer has read or answered it in
    the app it reads ``app``, ``delivered`` or ``answered``), names as stored (the page
    masks them), for ``within`` communities."""
    return pd.read_sql(sa.text(
        _OUTBOX_SQL.format(scope=in_scope("coalesce(v.community_id, m.community_id)"))
        + " ORDER BY m.id DESC, o.id LIMIT :n"), conn,
        params={**scope_params(within), "n": limit})


#: The columns the outbox may be sorted by.
OUTBOX_SORTS = {"created_at": "q.created_at", "kind": "q.kind", "community": "q.community",
                "channel": "q.channel", "state": "q.state", "attempts": "q.attempts"}
#: Its filters: a state, a kind of message, and a volunteer's number or community (``q``).
OUTBOX_FILTERS = ("state", "kind", "q")


def outbox_page(conn: Connection, paging: Paging, within: frozenset[int] | None) -> PageOf:
    """One page of :func:`outbox_table`'s rows, newest first unless sorted by
    :data:`OUTBOX_SORTS`, filtered by :data:`OUTBOX_FILTERS`."""
    sql = _OUTBOX_SQL.format(scope=in_scope("coalesce(v.community_id, m.community_id)")) + """
          AND (CAST(:state AS text) IS NULL OR """ + _STATE + """ = :state)
          AND (CAST(:kind AS text) IS NULL OR m.kind = :kind)
          AND (CAST(:q AS text) IS NULL OR v.number ILIKE '%' || :q || '%'
               OR a.name ILIKE '%' || :q || '%')"""
    return page_of(conn, sql, {
        "state": paging.filter("state"), "kind": paging.filter("kind"),
        "q": paging.filter("q"), **scope_params(within)}, paging, sortable=OUTBOX_SORTS,
        order="q.message_id DESC", tie="q.message_id DESC, q.outbox_id NULLS FIRST")


def delivery_states(conn: Connection, kind: str, ref: str) -> pd.DataFrame:
    """Each delivery of a (kind, ref): volunteer, channel, state, attempts, last error."""
    return pd.read_sql(sa.text("""
        SELECT m.volunteer_id, o.id, o.channel, o.state, o.attempts, o.last_error
        FROM notify_messages m JOIN notify_outbox o ON o.message_id = m.id
        WHERE m.kind = :k AND m.ref = :r
        ORDER BY o.id"""), conn, params={"k": kind, "r": ref})


# -- channels, rules, subscriptions ------------------------------------------------------


def add_channel(conn: Connection, *, scope: str, area_id: int | None,
                volunteer_id: int | None, url: str, label: str, by: str) -> int:
    found = conn.execute(sa.text(
        "SELECT id FROM notify_channels WHERE scope = :s AND area_id IS NOT DISTINCT FROM :a "
        "AND volunteer_id IS NOT DISTINCT FROM :v AND url = :u"),
        {"s": scope, "a": area_id, "v": volunteer_id, "u": url}).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(sa.text(
        "INSERT INTO notify_channels (scope, area_id, volunteer_id, url, label, created_by) "
        "VALUES (:s, :a, :v, :u, :l, :b) RETURNING id"),
        {"s": scope, "a": area_id, "v": volunteer_id, "u": url, "l": label, "b": by}).scalar())


def remove_channel(conn: Connection, channel_id: int) -> bool:
    """A channel gone: its deliveries stay, their channel forgotten (``channel_id`` NULL),
    but for a message that has such a delivery already (a group's message to two removed
    chats): that one is kept."""
    conn.execute(sa.text(
        "DELETE FROM notify_outbox o WHERE o.channel_id = :i AND EXISTS (SELECT 1 FROM "
        "notify_outbox n WHERE n.message_id = o.message_id AND n.channel = o.channel "
        "AND n.channel_id IS NULL AND n.subscription_id IS NOT DISTINCT FROM o.subscription_id)"),
        {"i": channel_id})
    return conn.execute(sa.text("DELETE FROM notify_channels WHERE id = :i"),
                        {"i": channel_id}).rowcount == 1


#: The communities of a police station ``st`` (as its group's messages find it).
_STATION_COMMUNITIES = (
    f"SELECT com.id FROM areas com WHERE com.level = 'community' AND {_STATION_OVER}")
#: The communities a channel ``c`` serves: its volunteer's, its station's; none for the
#: city's (a user bound to some communities reaches only channels that serve one of them).
_CHANNEL_COMMUNITIES = (
    "SELECT v.community_id FROM volunteers v WHERE v.id = c.volunteer_id UNION ALL "
    f"SELECT s.id FROM areas st CROSS JOIN LATERAL ({_STATION_COMMUNITIES}) s "
    "WHERE st.id = c.area_id AND c.scope = 'station'")


def channel_table(conn: Connection, within: Within) -> pd.DataFrame:
    """The channels serving one of the communities ``within`` (all of them with no limit)."""
    return pd.read_sql(sa.text(f"""
        SELECT c.id, c.scope, c.url, c.label, a.name AS station, v.number, v.name,
               c.created_by, c.created_at
        FROM notify_channels c LEFT JOIN areas a ON a.id = c.area_id
        LEFT JOIN volunteers v ON v.id = c.volunteer_id
        WHERE {meets_scope(_CHANNEL_COMMUNITIES)} ORDER BY c.scope, c.id"""), conn,
        params=scope_params(within))


def channel_reached(conn: Connection, channel_id: int, within: Within) -> bool:
    """Whether the channel exists and serves one of the communities ``within``."""
    return bool(conn.execute(sa.text(
        f"SELECT EXISTS (SELECT 1 FROM notify_channels c WHERE c.id = :i "
        f"AND {meets_scope(_CHANNEL_COMMUNITIES)})"),
        {"i": channel_id, **scope_params(within)}).scalar_one())


def station_id(conn: Connection, name: str, within: Within) -> int | None:
    """The police station of that name over one of the communities ``within``."""
    return conn.execute(sa.text(
        "SELECT st.id FROM areas st WHERE st.level = 'station' AND st.name = :n "
        f"AND {meets_scope(_STATION_COMMUNITIES)} ORDER BY st.id LIMIT 1"),
        {"n": name, **scope_params(within)}).scalar()


def stations(conn: Connection, within: Within) -> list[tuple[int, str]]:
    """The police stations over one of the communities ``within``."""
    return [(int(i), str(n)) for i, n in conn.execute(sa.text(
        "SELECT st.id, st.name FROM areas st WHERE st.level = 'station' "
        f"AND {meets_scope(_STATION_COMMUNITIES)} ORDER BY st.name"), scope_params(within))]


def volunteer_by_number(conn: Connection, number: str, within: Within = None) -> int | None:
    """The volunteer of a roster number (in one of the communities ``within``)."""
    return conn.execute(sa.text(
        f"SELECT id FROM volunteers WHERE number = :n AND {in_scope('community_id')}"),
        {"n": number, **scope_params(within)}).scalar()


def set_rules(conn: Connection, volunteer_id: int, *, on_duty_only: bool,
              quiet_start: dt.time | None, quiet_end: dt.time | None) -> None:
    conn.execute(sa.text(
        "INSERT INTO notify_rules (volunteer_id, on_duty_only, quiet_start, quiet_end) "
        "VALUES (:v, :d, :qs, :qe) ON CONFLICT (volunteer_id) DO UPDATE SET "
        "on_duty_only = :d, quiet_start = :qs, quiet_end = :qe, updated_at = now()"),
        {"v": volunteer_id, "d": on_duty_only, "qs": quiet_start, "qe": quiet_end})


def rules_of(conn: Connection, volunteer_id: int) -> dict[str, Any]:
    row = conn.execute(sa.text(
        "SELECT on_duty_only, quiet_start, quiet_end FROM notify_rules WHERE volunteer_id = :v"),
        {"v": volunteer_id}).mappings().first()
    return dict(row) if row else {"on_duty_only": False, "quiet_start": None,
                                  "quiet_end": None}


def save_subscription(conn: Connection, volunteer_id: int, *, endpoint: str, p256dh: str,
                      auth: str, keep: int) -> int | None:
    """Keep a browser's subscription for the volunteer (one sent again renewed, and counted
    as their newest) and only their ``keep`` newest; ``None``, and nothing changed, when the
    endpoint is another volunteer's."""
    found = conn.execute(sa.text(
        "INSERT INTO push_subscriptions (volunteer_id, endpoint, p256dh, auth) "
        "VALUES (:v, :e, :p, :a) ON CONFLICT (endpoint) DO UPDATE SET p256dh = :p, "
        "auth = :a, created_at = now() WHERE push_subscriptions.volunteer_id = :v "
        "RETURNING id"),
        {"v": volunteer_id, "e": endpoint, "p": p256dh, "a": auth}).scalar()
    if found is None:
        return None
    conn.execute(sa.text(
        "DELETE FROM push_subscriptions WHERE volunteer_id = :v AND id NOT IN ("
        "SELECT id FROM push_subscriptions WHERE volunteer_id = :v "
        "ORDER BY created_at DESC, id DESC LIMIT :k)"), {"v": volunteer_id, "k": keep})
    return int(found)


def push_keys(conn: Connection) -> tuple[str, str] | None:
    row = conn.execute(sa.text(
        "SELECT private_pem, public_key FROM public.push_keys WHERE id = 1")).first()
    return (str(row[0]), str(row[1])) if row else None


def store_push_keys(conn: Connection, private_pem: str, public_key: str) -> tuple[str, str]:
    """Keep the deployment's key pair (the first stored wins)."""
    conn.execute(sa.text(
        "INSERT INTO public.push_keys (id, private_pem, public_key) VALUES (1, :k, :p) "
        "ON CONFLICT (id) DO NOTHING"), {"k": private_pem, "p": public_key})
    found = push_keys(conn)
    assert found is not None
    return found


# -- notices -------------------------------------------------------------------------------


def store_notice(conn: Connection, *, kind: str, title: str, body: str, place: str,
                 lon: float, lat: float, radius_m: float, community_id: int | None,
                 by: str, photo_sha256: str | None = None, photo_mime: str | None = None
                 ) -> int:
    return int(conn.execute(sa.text(
        "INSERT INTO notices (kind, title, body, place, radius_m, geom, community_id, "
        "created_by, photo_sha256, photo_mime) VALUES (:k, :t, :b, :p, :r, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :c, :by, :ps, :pm) RETURNING id"),
        {"k": kind, "t": title, "b": body, "p": place, "r": radius_m, "x": lon, "y": lat,
         "c": community_id, "by": by, "ps": photo_sha256, "pm": photo_mime}).scalar())


def volunteers_within(conn: Connection, *, lon: float, lat: float, radius_m: float,
                      since: dt.datetime, within: frozenset[int] | None) -> list[int]:
    """Active volunteers whose last live position (since ``since``), else whose community,
    lies within ``radius_m`` of a point."""
    return [int(i) for i in conn.execute(sa.text(f"""
        WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography AS g),
        last AS (
            SELECT DISTINCT ON (volunteer_id) volunteer_id, lon, lat FROM live_positions
            WHERE t >= :since ORDER BY volunteer_id, t DESC)
        SELECT v.id FROM volunteers v LEFT JOIN last ON last.volunteer_id = v.id
        LEFT JOIN areas a ON a.id = v.community_id, here
        WHERE v.active AND {in_scope('v.community_id')}
          AND CASE WHEN last.volunteer_id IS NOT NULL THEN
                ST_DWithin(ST_SetSRID(ST_MakePoint(last.lon, last.lat), 4326)::geography,
                           here.g, :r)
              ELSE a.id IS NOT NULL AND ST_DWithin(a.geom::geography, here.g, :r) END
        ORDER BY v.id"""),
        {"x": lon, "y": lat, "r": radius_m, "since": since,
         **scope_params(within)}).scalars()]


def notice_table(conn: Connection, within: frozenset[int] | None) -> pd.DataFrame:
    return pd.read_sql(sa.text(f"""
        SELECT n.id, n.kind, n.title, n.body, n.place, n.radius_m, n.created_at, n.created_by,
               n.photo_sha256 IS NOT NULL AS has_photo,
               count(m.id) AS sent_to, count(m.read_at) AS read_by
        FROM notices n LEFT JOIN notify_messages m ON m.kind = 'notice'
            AND m.ref = 'notice ' || n.id
        WHERE {in_scope('n.community_id')}
           OR n.community_id IS NULL
        GROUP BY n.id ORDER BY n.id DESC LIMIT 100"""), conn,
        params=scope_params(within))


def notice_readers(conn: Connection, notice_id: int) -> pd.DataFrame:
    """Who a notice went to (number, name), when each read it, and whether a channel (a
    chat, e-mail, SMS or phone push) carries it to them besides the app."""
    return pd.read_sql(sa.text(
        "SELECT v.number, v.name, m.read_at, EXISTS (SELECT 1 FROM notify_outbox o "
        "WHERE o.message_id = m.id) AS by_channel FROM notify_messages m "
        "JOIN volunteers v ON v.id = m.volunteer_id "
        "WHERE m.kind = 'notice' AND m.ref = :r ORDER BY m.read_at NULLS LAST, v.number"),
        conn, params={"r": f"notice {notice_id}"})


def notice_community(conn: Connection, notice_id: int) -> tuple[bool, int | None]:
    row = conn.execute(sa.text("SELECT community_id FROM notices WHERE id = :i"),
                       {"i": notice_id}).first()
    return (row is not None, None if row is None else row[0])


def my_notices(conn: Connection, volunteer_id: int) -> pd.DataFrame:
    return pd.read_sql(sa.text(
        "SELECT m.id, coalesce(n.kind, 'other') AS kind, m.title, m.body, m.created_at, "
        "m.read_at, coalesce(n.photo_sha256 IS NOT NULL, false) AS has_photo "
        "FROM notify_messages m "
        "LEFT JOIN notices n ON 'notice ' || n.id = m.ref "
        "WHERE m.kind = 'notice' AND m.volunteer_id = :v ORDER BY m.id DESC LIMIT 20"),
        conn, params={"v": volunteer_id})


def notice_photo(conn: Connection, notice_id: int) -> tuple[str | None, int | None]:
    """A notice's photo (its hash, ``None`` when it has none) and its community;
    :class:`LookupError` when there is no such notice."""
    row = conn.execute(sa.text(
        "SELECT photo_sha256, community_id FROM notices WHERE id = :i"), {"i": notice_id}
    ).first()
    if row is None:
        raise LookupError(notice_id)
    return row[0], row[1]


def my_notice_photo(conn: Connection, message_id: int, volunteer_id: int) -> str | None:
    """The photo's hash of the notice a volunteer was sent as message ``message_id``."""
    return conn.execute(sa.text(
        "SELECT n.photo_sha256 FROM notify_messages m JOIN notices n "
        "ON 'notice ' || n.id = m.ref WHERE m.id = :m AND m.kind = 'notice' "
        "AND m.volunteer_id = :v"), {"m": message_id, "v": volunteer_id}).scalar_one_or_none()
