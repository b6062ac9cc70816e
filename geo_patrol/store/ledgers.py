"""Hazards (with status history), reports and incidents: keyed upserts, one statement each."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import N_, InputError, NotFoundError
from geo_patrol.ingest.problems import Problems
from geo_patrol.rules import Rules
from geo_patrol.store.areas import community_at_sql
from geo_patrol.store.scope import in_scope, scope_params

_NO_TIME = np.iinfo("int64").min
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"


def _clean(value: Any) -> Any:
    """``None`` for pandas/numpy missing values; plain Python scalars otherwise."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _utc(us: int) -> dt.datetime | None:
    return None if us == _NO_TIME else dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


def _params(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in rec.items()} for rec in frame.to_dict("records")]


def assign_communities(conn: Connection, table: str, upload_id: int) -> None:
    """Set ``community_id`` of the upload's rows to the finest stored area containing them."""
    conn.execute(sa.text(
        f"UPDATE {table} h SET community_id = (SELECT x.id FROM areas x "  # noqa: S608
        "WHERE ST_Intersects(x.geom, h.geom) ORDER BY CASE x.level WHEN 'grid' THEN 0 "
        "WHEN 'community' THEN 1 WHEN 'station' THEN 2 WHEN 'district' THEN 3 ELSE 4 END "
        "LIMIT 1) WHERE h.upload_id = :u"), {"u": upload_id})


def store_hazards(conn: Connection, values: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, *,
                  rules: Rules, upload_id: int, srid: int) -> tuple[int, int, int]:
    """Upsert hazards by id; returns (new, updated, status changes recorded)."""
    v = values.assign(lon=lon, lat=lat, order=np.arange(len(values)))
    latest = v.sort_values(["status_at", "order"]).groupby("external_id", sort=False).tail(1)
    params = []
    for rec in _params(latest):
        rule = rules.categories[rec["category"]]
        params.append({**rec, "status_at": _utc(rec["status_at"]) if rec["dated"] else None,
                       "rule": json.dumps(rule.as_dict()), "upload": upload_id, "srid": srid,
                       "attrs": json.dumps({"note": rec["note"]} if rec["note"] else {},
                                           ensure_ascii=False)})
    before = set(conn.execute(sa.text(
        "SELECT external_id FROM hazards WHERE external_id = ANY(:ids)"),
        {"ids": latest["external_id"].tolist()}).scalars())
    conn.execute(sa.text(
        "INSERT INTO hazards (external_id, category, name, address, status, status_at, source, "
        "upload_id, visit_rule, attrs, geom, geom_m) VALUES (:external_id, :category, :name, "
        f":address, :status, :status_at, :source, :upload, CAST(:rule AS jsonb), "
        f"CAST(:attrs AS jsonb), {_POINT}, ST_Transform({_POINT}, :srid)) "
        "ON CONFLICT (external_id) DO UPDATE SET category = EXCLUDED.category, "
        "name = EXCLUDED.name, address = EXCLUDED.address, source = EXCLUDED.source, "
        "visit_rule = EXCLUDED.visit_rule, geom = EXCLUDED.geom, geom_m = EXCLUDED.geom_m, "
        "upload_id = EXCLUDED.upload_id, "
        "status = CASE WHEN hazards.status_at IS NULL OR EXCLUDED.status_at >= hazards.status_at "
        "THEN EXCLUDED.status ELSE hazards.status END, "
        "status_at = GREATEST(hazards.status_at, EXCLUDED.status_at)"), params)
    history = [{"id": r["external_id"], "status": r["status"],
                "at": _utc(r["status_at"]) if r["dated"] else None, "note": r["note"],
                "upload": upload_id} for r in _params(v)]
    changes = conn.execute(sa.text(
        "INSERT INTO hazard_status_history (hazard_id, status, changed_at, note, upload_id) "
        "SELECT h.id, CAST(:status AS varchar), coalesce(CAST(:at AS timestamptz), now()), "
        ":note, :upload FROM hazards h WHERE h.external_id = :id AND NOT EXISTS (SELECT 1 FROM "
        "hazard_status_history x WHERE x.hazard_id = h.id AND x.status = CAST(:status AS varchar) "
        "AND x.changed_at = coalesce(CAST(:at AS timestamptz), x.changed_at))"), history)
    assign_communities(conn, "hazards", upload_id)
    new = len(set(latest["external_id"]) - before)
    return new, len(latest) - new, max(changes.rowcount, 0)


def store_reports(conn: Connection, values: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, *,
                  upload_id: int, srid: int, source: str, unit: str) -> tuple[int, int]:
    """Upsert reports by id (verification and reward follow the newest file)."""
    numbers = sorted(set(values["volunteer"]))
    people = dict(conn.execute(sa.text(
        "SELECT number, id FROM volunteers WHERE number = ANY(:n)"), {"n": numbers}).all())
    problems = Problems(source, unit)  # every row the database refuses, named at once
    rows = values.index.to_numpy()
    problems.flag((~values["volunteer"].isin(list(people))).to_numpy(), rows, "volunteer",
                  N_("No volunteer numbered %(value)s in the roster."),
                  lambda i: {"value": str(values["volunteer"].iloc[i])[:40]})
    wanted = sorted(set(values["hazard"].dropna()))
    hazards = dict(conn.execute(sa.text(
        "SELECT external_id, id FROM hazards WHERE external_id = ANY(:h)"), {"h": wanted}).all())
    problems.flag((values["hazard"].notna() & ~values["hazard"].isin(list(hazards))).to_numpy(),
                  rows, "hazard", N_("No hazard numbered %(value)s in the register."),
                  lambda i: {"value": str(values["hazard"].iloc[i])[:40]})
    problems.raise_if_any()
    before = set(conn.execute(sa.text(
        "SELECT external_id FROM reports WHERE external_id = ANY(:ids)"),
        {"ids": values["external_id"].tolist()}).scalars())
    params = [{**rec, "vid": people[rec["volunteer"]], "hid": hazards.get(rec["hazard"]),
               "t": _utc(rec["t"]), "upload": upload_id, "srid": srid, "lon": x, "lat": y}
              for rec, x, y in zip(_params(values), lon, lat)]
    conn.execute(sa.text(
        "INSERT INTO reports (external_id, volunteer_id, hazard_id, reported_at, category, text, "
        "verification, reward, upload_id, geom, geom_m) VALUES (:external_id, :vid, :hid, :t, "
        f":category, :text, :verification, :reward, :upload, {_POINT}, "
        f"ST_Transform({_POINT}, :srid)) ON CONFLICT (external_id) DO UPDATE SET "
        "verification = EXCLUDED.verification, reward = EXCLUDED.reward"), params)
    conn.execute(sa.text(
        "UPDATE reports r SET community_id = (SELECT x.id FROM areas x WHERE x.level = "
        "'community' AND ST_Intersects(x.geom, r.geom) ORDER BY x.id LIMIT 1) "
        "WHERE r.upload_id = :u AND r.community_id IS NULL"), {"u": upload_id})
    new = len(set(values["external_id"]) - before)
    return new, len(values) - new


def store_incidents(conn: Connection, values: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, *,
                    upload_id: int, srid: int, tz: str) -> int:
    """Insert incidents not stored before (by content key); returns how many were new."""
    params = [{**rec, "at": _utc(rec["occurred_at"]) if rec["timed"] else None,
               "attrs": json.dumps({"description": rec["description"]}
                                   if rec["description"] else {}, ensure_ascii=False),
               "upload": upload_id, "srid": srid, "lon": x, "lat": y, "tz": tz}
              for rec, x, y in zip(_params(values), lon, lat)]
    before = conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one()
    conn.execute(sa.text(
        "INSERT INTO incidents (external_id, key, category, occurred_on, occurred_at, upload_id, "
        "attrs, geom, geom_m) VALUES (:external_id, :key, :category, "
        "coalesce(:occurred_on, (CAST(:at AS timestamptz) AT TIME ZONE :tz)::date), :at, :upload, "
        f"CAST(:attrs AS jsonb), {_POINT}, ST_Transform({_POINT}, :srid)) "
        "ON CONFLICT (key) DO NOTHING"), params)
    return int(conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one() - before)


def community_at(conn: Connection, lon: float, lat: float) -> int | None:
    """The community containing a point, if any."""
    return conn.execute(sa.text(f"SELECT {community_at_sql(_POINT)}"),
                        {"lon": lon, "lat": lat}).scalar()


def add_hazard(conn: Connection, *, category: str, name: str, lon: float, lat: float,
               rules: Rules, srid: int, community_id: int, source: str, by: str,
               proposed: bool | None = None, report_id: int | None = None) -> int:
    """One hazard entered on a page (a command's record or an officer's proposal), or born
    from a volunteer's report (``report_id``, kept in its attributes)."""
    rule = rules.categories[category]
    hazard_id = conn.execute(sa.text(
        "INSERT INTO hazards (external_id, category, name, status, status_at, source, proposed, "
        "community_id, visit_rule, attrs, geom, geom_m) VALUES ("
        "'web-' || gen_random_uuid(), :category, :name, 'open', now(), :source, "
        ":proposed, :community, "
        f"CAST(:rule AS jsonb), CAST(:attrs AS jsonb), {_POINT}, "
        f"ST_Transform({_POINT}, :srid)) RETURNING id"),
        {"category": category, "name": name, "source": source, "community": community_id,
         "proposed": source == "proposal" if proposed is None else proposed,
         "rule": json.dumps(rule.as_dict()), "lon": lon, "lat": lat, "srid": srid,
         "attrs": json.dumps({"entered_by": by} | ({"report_id": report_id} if report_id
                                                   else {}), ensure_ascii=False)}).scalar_one()
    conn.execute(sa.text("INSERT INTO hazard_status_history (hazard_id, status, changed_at, "
                         "note) VALUES (:h, 'open', now(), :note)"),
                 {"h": hazard_id, "note": source})
    return hazard_id


def add_report(conn: Connection, *, volunteer_id: int, category: str, text: str | None,
               lon: float, lat: float, srid: int, community_id: int | None = None,
               reported_at: dt.datetime | None = None, key: str | None = None) -> int | None:
    """One report sent by a volunteer from the app or page (pending verification); ``key``
    (the phone's own id for it) makes sending it again store nothing (``None``: it was
    stored already, perhaps by a request racing this one)."""
    return conn.execute(sa.text(
        "INSERT INTO reports (external_id, volunteer_id, reported_at, category, text, "
        "verification, reward, community_id, geom, geom_m) VALUES ("
        "coalesce(:key, 'app-' || gen_random_uuid()), :v, coalesce(:at, now()), "
        f":category, :text, 'pending', 0, :c, {_POINT}, ST_Transform({_POINT}, :srid)) "
        "ON CONFLICT (external_id) DO NOTHING RETURNING id"),
        {"v": volunteer_id, "category": category, "text": text, "lon": lon, "lat": lat,
         "srid": srid, "c": community_id, "at": reported_at, "key": key}).scalar()


def review_proposal(conn: Connection, hazard_id: int, *, accept: bool,
                    within: frozenset[int] | None = None) -> str:
    """Accept (it joins analysis and maps) or reject (it is deleted) an officer's proposed
    hazard; returns its name. Only proposals ``within`` the reviewer's communities."""
    row = conn.execute(sa.text(
        f"SELECT name FROM hazards WHERE id = :h AND proposed AND {in_scope('community_id')}"),
        {"h": hazard_id, **scope_params(within)}).first()
    if row is None:
        raise NotFoundError(f"no proposed hazard {hazard_id}")
    if accept:
        conn.execute(sa.text("UPDATE hazards SET proposed = false, source = CASE source "
                             "WHEN 'report' THEN 'report' ELSE 'web' END WHERE id = :h"),
                     {"h": hazard_id})
    else:  # a report it was proposed from keeps its outcome, no longer the link
        conn.execute(sa.text("UPDATE reports SET hazard_id = NULL WHERE hazard_id = :h"),
                     {"h": hazard_id})
        conn.execute(sa.text("DELETE FROM hazards WHERE id = :h"), {"h": hazard_id})
    return str(row.name)


def proposal_table(conn: Connection, within: frozenset[int] | None = None) -> pd.DataFrame:
    """Hazards officers proposed that wait for review, newest first."""
    return pd.read_sql_query(sa.text(
        "SELECT h.id, h.name, h.category, a.name AS community, h.status_at AS proposed_at, "
        "h.attrs->>'entered_by' AS proposed_by FROM hazards h "
        "LEFT JOIN areas a ON a.id = h.community_id WHERE h.proposed "
        f"AND {in_scope('h.community_id')} ORDER BY h.id DESC"), conn,
        params=scope_params(within))
