"""Trials of hot-spot patrols as designed, and the streets around their hot spots.

The design is written once: the database refuses any update of a trial or its hot spots,
and their removal once the trial has started (triggers of migration 0033);
:func:`withdraw_trial` says so as a :class:`~geo_patrol.errors.ConflictError`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from geo_patrol.errors import ConflictError, NotFoundError
from geo_patrol.store.scope import meets_scope, scope_params

SPOT_COLUMNS = ("segment_id", "district_id", "block", "arm", "risk", "weekly")


def save_trial(conn: Connection, *, area_id: int | None, start: dt.date, starts_at: dt.datetime,
               weeks: int, seed: int, crime: str, outcome: str, fall: float,
               design: dict[str, Any], by: str, spots: pd.DataFrame) -> int:
    """Store a trial and its hot spots (``SPOT_COLUMNS``); returns its id."""
    trial_id = conn.execute(sa.text("""
        INSERT INTO trials (area_id, start_day, starts_at, weeks, seed, crime, outcome, fall,
                            design, created_by)
        VALUES (:area, :start, :starts_at, :weeks, :seed, :crime, :outcome, :fall,
                CAST(:design AS jsonb), :by) RETURNING id"""),
        {"area": area_id, "start": start, "starts_at": starts_at, "weeks": weeks, "seed": seed,
         "crime": crime, "outcome": outcome, "fall": fall,
         "design": json.dumps(design, ensure_ascii=False), "by": by}).scalar_one()
    conn.execute(sa.text("""
        INSERT INTO trial_spots (trial_id, segment_id, district_id, block, arm, risk, weekly)
        VALUES (:trial, :segment_id, :district_id, :block, :arm, :risk, :weekly)"""),
        [{"trial": trial_id, "segment_id": int(r.segment_id),
          "district_id": None if pd.isna(r.district_id) else int(r.district_id),
          "block": int(r.block), "arm": str(r.arm), "risk": float(r.risk),
          "weekly": float(r.weekly)} for r in spots.itertuples()])
    return int(trial_id)


def trials(conn: Connection, *, within: frozenset[int] | None = None,
           limit: int = 50) -> pd.DataFrame:
    """``id, area_id, area, start_day, weeks, seed, created_by, created_at, spots`` newest
    first (``area`` None: the whole city); with ``within``, only trials whose area meets
    those communities."""
    return pd.read_sql_query(sa.text(f"""
        SELECT t.id, t.area_id, a.name AS area, t.start_day, t.weeks, t.seed, t.created_by,
               t.created_at,
               (SELECT count(*) FROM trial_spots s WHERE s.trial_id = t.id) AS spots
        FROM trials t LEFT JOIN areas a ON a.id = t.area_id
        WHERE {meets_scope('SELECT area_subtree(t.area_id) WHERE t.area_id IS NOT NULL')}
        ORDER BY t.created_at DESC, t.id DESC LIMIT :limit"""), conn,
        params={**scope_params(within), "limit": limit})


def get_trial(conn: Connection, trial_id: int) -> dict[str, Any]:
    row = conn.execute(sa.text("""
        SELECT t.*, a.name AS area FROM trials t LEFT JOIN areas a ON a.id = t.area_id
        WHERE t.id = :id"""), {"id": trial_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"no trial {trial_id}")
    return dict(row)


def trial_spots(conn: Connection, trial_id: int) -> pd.DataFrame:
    """The trial's hot spots (``SPOT_COLUMNS`` and the district's name), by block."""
    return pd.read_sql_query(sa.text("""
        SELECT s.segment_id, s.district_id, d.name AS district, s.block, s.arm, s.risk,
               s.weekly
        FROM trial_spots s LEFT JOIN areas d ON d.id = s.district_id
        WHERE s.trial_id = :id ORDER BY s.block, s.segment_id"""), conn,
        params={"id": trial_id})


def withdraw_trial(conn: Connection, trial_id: int) -> None:
    """Remove a trial that has not started (the database refuses one that has)."""
    get_trial(conn, trial_id)
    try:
        with conn.begin_nested():
            conn.execute(sa.text("DELETE FROM trials WHERE id = :id"), {"id": trial_id})
    except DBAPIError as exc:
        if "has started" in str(exc.orig):
            raise ConflictError(f"trial {trial_id} has started: its design is kept") from exc
        raise


def running_spots(conn: Connection, first: dt.date, last: dt.date) -> pd.DataFrame:
    """``trial_id, segment_id, arm`` of every trial running on some day from ``first`` to
    ``last``."""
    return pd.read_sql_query(sa.text("""
        SELECT s.trial_id, s.segment_id, s.arm, s.risk
        FROM trials t JOIN trial_spots s ON s.trial_id = t.id
        WHERE t.start_day <= :last AND t.start_day + 7 * t.weeks > :first
        ORDER BY s.risk DESC, s.segment_id"""), conn, params={"first": first, "last": last})


def segment_districts(conn: Connection, segment_ids: list[int]) -> pd.DataFrame:
    """``segment_id, district_id`` (the district above each segment's area; None when
    there is none)."""
    return pd.read_sql_query(sa.text("""
        SELECT g.id AS segment_id,
               (SELECT d.id FROM areas d WHERE d.level = 'district'
                AND g.area_id IN (SELECT area_subtree(d.id)) ORDER BY d.id LIMIT 1)
                   AS district_id
        FROM street_segments g WHERE g.id = ANY(:ids) ORDER BY g.id"""), conn,
        params={"ids": [int(i) for i in segment_ids]})


def rings_around(conn: Connection, patrolled: list[int], control: list[int],
                 edges_m: list[float]) -> pd.DataFrame:
    """The street segments around a trial's hot spots, none of them a hot spot: ``segment_id,
    arm`` (the arm of the nearest hot spot) and ``ring`` (0 for within ``edges_m[0]`` metres
    of it, 1 up to ``edges_m[1]`` and so on)."""
    return pd.read_sql_query(sa.text("""
        WITH spots AS (
            SELECT g.id, g.geom_m, CASE WHEN g.id = ANY(:p) THEN 'patrolled' ELSE 'control'
                                   END AS arm
            FROM street_segments g WHERE g.id = ANY(:p) OR g.id = ANY(:c)),
        near AS (
            SELECT DISTINCT ON (g.id) g.id AS segment_id, s.arm,
                   ST_Distance(g.geom_m, s.geom_m) AS d
            FROM street_segments g JOIN spots s ON ST_DWithin(g.geom_m, s.geom_m, :reach)
            WHERE NOT (g.id = ANY(:p) OR g.id = ANY(:c))
            ORDER BY g.id, ST_Distance(g.geom_m, s.geom_m), s.id)
        SELECT segment_id, arm,
               (SELECT count(*) FROM unnest(CAST(:edges AS float8[])) e WHERE e < near.d)
                   AS ring
        FROM near ORDER BY segment_id"""), conn,
        params={"p": [int(i) for i in patrolled], "c": [int(i) for i in control],
                "reach": float(max(edges_m)), "edges": [float(e) for e in edges_m]})


def area_choices(conn: Connection, *, within: frozenset[int] | None = None) -> pd.DataFrame:
    """``id, name`` of the districts a trial may cover (with ``within``, those meeting those
    communities)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT a.id, a.name FROM areas a
        WHERE a.level = 'district' AND {meets_scope('SELECT area_subtree(a.id)')}
        ORDER BY a.name, a.id"""), conn, params=scope_params(within))
