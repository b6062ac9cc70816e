"""Rotas as planned: the header with its figures, and its walks (loops per day and slot)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import NotFoundError
from geo_patrol.store.scope import in_scope, meets_scope, scope_params

WALK_COLUMNS = ("day", "slot", "starts_at", "minutes", "kind", "community_id", "volunteer_id",
                "length_m", "segment_ids", "hazard_ids", "hotspot_segment_id", "wkt")


def save_rota(conn: Connection, *, area_id: int, run_id: int | None, start: dt.date,
              days: int, revisit_days: int, minutes: float, seed: int,
              summary: dict[str, Any], by: str, walks: list[dict[str, Any]]) -> int:
    """Store a rota and its walks; returns its id."""
    rota_id = conn.execute(sa.text("""
        INSERT INTO rotas (area_id, run_id, start_day, days, revisit_days, minutes, seed,
                           summary, created_by)
        VALUES (:area, :run, :start, :days, :revisit, :minutes, :seed,
                CAST(:summary AS jsonb), :by) RETURNING id"""),
        {"area": area_id, "run": run_id, "start": start, "days": days,
         "revisit": revisit_days, "minutes": minutes, "seed": seed,
         "summary": json.dumps(summary, ensure_ascii=False), "by": by}).scalar_one()
    if walks:
        conn.execute(sa.text("""
            INSERT INTO rota_walks (rota_id, day, slot, starts_at, minutes, kind, community_id,
                                    volunteer_id, length_m, segment_ids, hazard_ids,
                                    hotspot_segment_id, geom)
            VALUES (:rota, :day, :slot, :starts_at, :minutes, :kind, :community_id,
                    :volunteer_id, :length_m, :segment_ids, :hazard_ids, :hotspot_segment_id,
                    ST_GeomFromText(:wkt, 4326))"""),
            [{"rota": rota_id, **{k: w[k] for k in WALK_COLUMNS}} for w in walks])
    return int(rota_id)


def rotas(conn: Connection, *, area_id: int | None = None,
          within: frozenset[int] | None = None, limit: int = 50) -> pd.DataFrame:
    """``id, area_id, area, start_day, days, revisit_days, seed, created_by, created_at,
    walks`` newest first; with ``within``, only rotas whose area lies in those communities'
    districts or is one of them."""
    return pd.read_sql_query(sa.text(f"""
        SELECT r.id, r.area_id, a.name AS area, r.start_day, r.days, r.revisit_days, r.seed,
               r.created_by, r.created_at,
               (SELECT count(*) FROM rota_walks w WHERE w.rota_id = r.id) AS walks
        FROM rotas r JOIN areas a ON a.id = r.area_id
        WHERE (CAST(:area AS integer) IS NULL OR r.area_id = :area)
          AND {meets_scope('SELECT area_subtree(r.area_id)')}
        ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"""), conn,
        params={"area": area_id, **scope_params(within), "limit": limit})


def get_rota(conn: Connection, rota_id: int) -> dict[str, Any]:
    row = conn.execute(sa.text("""
        SELECT r.*, a.name AS area FROM rotas r JOIN areas a ON a.id = r.area_id
        WHERE r.id = :id"""), {"id": rota_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"no rota {rota_id}")
    return dict(row)


def rota_walks(conn: Connection, rota_id: int, *, day: dt.date | None = None,
               within: frozenset[int] | None = None) -> Any:
    """The rota's walks (WGS-84 lines) with the community's name and the volunteer's roster
    number and name (the caller masks), in day, slot and start order; with ``within``, only
    the walks of those communities."""
    return gpd.read_postgis(sa.text(f"""
        SELECT w.id, w.day, w.slot, w.starts_at, w.minutes, w.kind, w.community_id,
               a.name AS community, w.volunteer_id, v.number, v.name, w.length_m,
               w.segment_ids, w.hazard_ids, w.hotspot_segment_id, w.geom
        FROM rota_walks w LEFT JOIN areas a ON a.id = w.community_id
        LEFT JOIN volunteers v ON v.id = w.volunteer_id
        WHERE w.rota_id = :rota AND (CAST(:day AS date) IS NULL OR w.day = :day)
          AND {in_scope('w.community_id')}
        ORDER BY w.day, w.starts_at, w.id"""), conn, geom_col="geom",
        params={"rota": rota_id, "day": day, **scope_params(within)})
