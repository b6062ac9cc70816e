"""Jobs: long work a user asked for (its kind and parameters), its progress and its result.

At most one job per key is queued or running (a unique partial index), so the same request
joins it; a finished job is read back until its inputs change (the key names them)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_COLUMNS = ("id, kind, key, params, state, progress, step, result, error, error_kind, "
            "requested_by, created_at, started_at, finished_at, heartbeat_at, attempts")


def inputs_stamp(conn: Connection) -> dict[str, int]:
    """What long work reads, as the latest of each: a new analysis run, upload (a file, a
    phone's positions), incident, hazard, report, campaign or force entry makes an earlier
    result stale. Incidents, hazards, inspections, campaigns and the force are read as the
    versions their tables' triggers keep (raised by every statement that adds or removes
    their rows), never counted."""
    row = conn.execute(sa.text(
        "SELECT (SELECT coalesce(max(id), 0) FROM analysis_runs) AS run, "
        "(SELECT coalesce(max(id), 0) FROM uploads) AS upload, "
        "v.incidents, v.hazards, v.checks, v.campaigns, v.force "
        "FROM (SELECT max(version) FILTER (WHERE name = 'incidents') AS incidents, "
        "max(version) FILTER (WHERE name = 'hazards') AS hazards, "
        "max(version) FILTER (WHERE name = 'hazard_status_history') AS checks, "
        "max(version) FILTER (WHERE name = 'campaigns') AS campaigns, "
        "max(version) FILTER (WHERE name = 'force_hours') AS force "
        "FROM input_versions) v")).mappings().one()
    return {k: int(v or 0) for k, v in row.items()}


def find_job(conn: Connection, key: str) -> dict[str, Any] | None:
    """The job of ``key`` that is queued or running, else its latest finished one (one
    that failed because its workers stopped does not count: it is tried anew)."""
    row = conn.execute(sa.text(
        f"SELECT {_COLUMNS} FROM jobs WHERE key = :k "
        "AND error_kind IS DISTINCT FROM 'WorkerLost' "
        "ORDER BY state IN ('queued', 'running') DESC, id DESC LIMIT 1"),
        {"k": key}).mappings().first()
    return dict(row) if row else None


def job(conn: Connection, job_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM jobs WHERE id = :i"),
                       {"i": job_id}).mappings().first()
    return dict(row) if row else None


def active_jobs(conn: Connection, username: str) -> int:
    """How many jobs ``username`` has queued or running."""
    return int(conn.execute(sa.text(
        "SELECT count(*) FROM jobs WHERE requested_by = :u AND state IN ('queued', 'running')"),
        {"u": username}).scalar_one())


def insert_job(conn: Connection, *, kind: str, key: str, params: dict[str, Any],
               by: str) -> int | None:
    """A new queued job; ``None`` when one of ``key`` is already queued or running."""
    return conn.execute(sa.text(
        "INSERT INTO jobs (kind, key, params, requested_by) "
        "VALUES (:kind, :key, CAST(:params AS jsonb), :by) "
        "ON CONFLICT (key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id"),
        {"kind": kind, "key": key, "params": json.dumps(params), "by": by}).scalar()


def start_job(conn: Connection, job_id: int) -> dict[str, Any] | None:
    """Mark a queued job running, its lease begun (``None`` when it is not queued: already
    run or gone)."""
    row = conn.execute(sa.text(
        f"UPDATE jobs SET state = 'running', started_at = now(), heartbeat_at = now(), "
        f"attempts = attempts + 1, progress = 0, step = NULL "
        f"WHERE id = :i AND state = 'queued' RETURNING {_COLUMNS}"),
        {"i": job_id}).mappings().first()
    return dict(row) if row else None


def renew_lease(conn: Connection, job_id: int) -> None:
    """The worker running ``job_id`` is alive."""
    conn.execute(sa.text("UPDATE jobs SET heartbeat_at = now() WHERE id = :i "
                         "AND state = 'running'"), {"i": job_id})


def reap_lost(conn: Connection, lease_s: float, max_attempts: int) -> list[int]:
    """Running jobs whose lease has lapsed (their worker died): queued again, or failed once
    they have been tried ``max_attempts`` times. The ids queued again (to hand to the queue)."""
    rows = conn.execute(sa.text(
        "UPDATE jobs SET state = CASE WHEN attempts < :n THEN 'queued' ELSE 'failed' END, "
        "error = CASE WHEN attempts < :n THEN NULL ELSE :e END, "
        "error_kind = CASE WHEN attempts < :n THEN NULL ELSE 'WorkerLost' END, "
        "finished_at = CASE WHEN attempts < :n THEN NULL ELSE now() END "
        "WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => :s) "
        "RETURNING id, state"),
        {"s": lease_s, "n": max_attempts,
         "e": "the worker running this job stopped, every time it was tried"}).all()
    return [r.id for r in rows if r.state == "queued"]


def set_progress(conn: Connection, job_id: int, progress: float, step: str) -> None:
    conn.execute(sa.text("UPDATE jobs SET progress = :p, step = :s WHERE id = :i"),
                 {"i": job_id, "p": min(max(progress, 0.0), 1.0), "s": step})


def finish_job(conn: Connection, job_id: int, *, result: dict[str, Any] | None,
               payload: bytes | None) -> None:
    conn.execute(sa.text(
        "UPDATE jobs SET state = 'done', progress = 1, result = CAST(:r AS jsonb), "
        "payload = :p, finished_at = now() WHERE id = :i"),
        {"i": job_id, "r": json.dumps(result), "p": payload})


def fail_job(conn: Connection, job_id: int, *, error: str, kind: str) -> None:
    conn.execute(sa.text(
        "UPDATE jobs SET state = 'failed', error = :e, error_kind = :k, finished_at = now() "
        "WHERE id = :i"), {"i": job_id, "e": error[:2000], "k": kind[:64]})


def payload(conn: Connection, job_id: int) -> bytes | None:
    return conn.execute(sa.text("SELECT payload FROM jobs WHERE id = :i"),
                        {"i": job_id}).scalar()


async def wake_workers(connector: Any, queue: str) -> None:
    """Tell the workers of ``queue`` to look for due work now, as the queue does when a job
    is added (its LISTEN/NOTIFY channel and message): a timer that has fallen due is run
    without waiting for their poll. ``connector``: the queue's async connector."""
    await connector.execute_query_async(
        "SELECT pg_notify(%(channel)s, %(payload)s)", channel=f"procrastinate_queue_v1#{queue}",
        payload=json.dumps({"type": "job_inserted", "job_id": None}))
