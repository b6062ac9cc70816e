"""Training: courses, sessions and attendance stored; certificates, standings and
specialised teams read back.

A certificate is a pass of a course of a skill, valid for the course's months (0: no
expiry). The view ``certificate_passes`` gives each pass with the day its certificate ends,
and the database function ``certified_skills(volunteer, day)`` (built on it) the skills a
volunteer holds on a day, so every query that needs them asks the same question.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.problems import Problems
from geo_patrol.privacy import mask_name
from geo_patrol.store.scope import in_scope, scope_params
from geo_patrol.store.volunteers import volunteer_ids

#: Per volunteer and skill: last pass and when its certificate ends (NULL: never).
_CERTS = """
    SELECT volunteer_id, skill, max(held_on) AS passed_on,
           CASE WHEN bool_or(ends_on IS NULL) THEN NULL ELSE max(ends_on) END AS expires_on
    FROM certificate_passes WHERE held_on <= CAST(:on AS date)
    GROUP BY volunteer_id, skill"""


def stored_courses(conn: Connection) -> pd.DataFrame:
    """``id, skill, duty, validity_months`` of every course (index: name)."""
    return pd.read_sql_query(sa.text(
        "SELECT name, id, skill, duty, validity_months FROM courses ORDER BY name"),
        conn).set_index("name")


def store_training(conn: Connection, sheet: pd.DataFrame, courses: pd.DataFrame, *,
                   upload_id: int | None, source: str) -> dict[str, int]:
    """Store a checked sign-in sheet (see :func:`geo_patrol.ingest.training.read_training`)
    with its resolved ``courses``: courses and sessions upserted by their keys, attendance by
    (session, volunteer), so loading a corrected sheet again changes only what changed."""
    problems = Problems(source)  # every row the roster refuses, named at once
    people = volunteer_ids(conn, sorted(set(sheet["number"])))
    rows = sheet.index.to_numpy()
    numbers = sheet["number"].astype(str)
    problems.flag((~sheet["number"].isin(people.index)).to_numpy(), rows, "number",
                  N_("No volunteer numbered %(value)s in the roster."),
                  lambda i: {"value": numbers.iloc[i][:40]})
    named = sheet[sheet["name"].notna() & sheet["number"].isin(people.index)]
    if not named.empty:
        roster = dict(conn.execute(sa.text(
            "SELECT number, name FROM volunteers WHERE number = ANY(:n)"),
            {"n": sorted(set(named["number"]))}).all())
        wrong = named["name"].to_numpy() != named["number"].map(roster).to_numpy()
        problems.flag(wrong, named.index.to_numpy(), "name",
                      N_("Volunteer %(number)s is %(roster)s in the roster, not %(name)s: is "
                         "the number right?"),
                      lambda i: {"number": str(named["number"].iloc[i])[:40],
                                 "roster": mask_name(roster[named["number"].iloc[i]]),
                                 "name": mask_name(str(named["name"].iloc[i]))})
    problems.raise_if_any()
    before = conn.execute(sa.text("SELECT count(*) FROM attendance")).scalar_one()
    course_ids = dict(conn.execute(sa.text("""
        INSERT INTO courses (name, skill, duty, validity_months)
        SELECT * FROM unnest(CAST(:name AS text[]), CAST(:skill AS text[]),
                             CAST(:duty AS text[]), CAST(:months AS smallint[]))
        ON CONFLICT (name) DO UPDATE SET skill = EXCLUDED.skill, duty = EXCLUDED.duty,
            validity_months = EXCLUDED.validity_months
        RETURNING name, id"""), {
        "name": courses.index.tolist(), "skill": courses["skill"].tolist(),
        "duty": [None if pd.isna(d) else d for d in courses["duty"]],
        "months": [int(m) for m in courses["validity_months"]]}).all())
    sessions = sheet.drop_duplicates(["course", "held_on", "batch"])
    session_ids = {(c, d, b): i for c, d, b, i in conn.execute(sa.text("""
        INSERT INTO training_sessions (course_id, held_on, batch, place, mode, trainer,
                                       upload_id)
        SELECT * FROM unnest(CAST(:course AS integer[]), CAST(:day AS date[]),
                             CAST(:batch AS text[]), CAST(:place AS text[]),
                             CAST(:mode AS text[]), CAST(:trainer AS text[]),
                             CAST(:upload AS integer[]))
        ON CONFLICT (course_id, held_on, batch) DO UPDATE SET
            place = coalesce(EXCLUDED.place, training_sessions.place), mode = EXCLUDED.mode,
            trainer = coalesce(EXCLUDED.trainer, training_sessions.trainer)
        RETURNING (SELECT name FROM courses WHERE id = course_id), held_on, batch, id"""), {
        "course": [course_ids[c] for c in sessions["course"]],
        "day": sessions["held_on"].tolist(), "batch": sessions["batch"].tolist(),
        "place": sessions["place"].tolist(), "mode": sessions["mode"].tolist(),
        "trainer": sessions["trainer"].tolist(), "upload": [upload_id] * len(sessions)})}
    keys = list(zip(sheet["course"], sheet["held_on"], sheet["batch"]))
    changed = conn.execute(sa.text("""
        INSERT INTO attendance (session_id, volunteer_id, result, upload_id)
        SELECT * FROM unnest(CAST(:session AS integer[]), CAST(:volunteer AS integer[]),
                             CAST(:result AS text[]), CAST(:upload AS integer[]))
        ON CONFLICT (session_id, volunteer_id) DO UPDATE SET result = EXCLUDED.result,
            upload_id = EXCLUDED.upload_id
        WHERE attendance.result IS DISTINCT FROM EXCLUDED.result"""), {
        "session": [session_ids[k] for k in keys],
        "volunteer": people.loc[sheet["number"], "id"].astype(int).tolist(),
        "result": sheet["result"].tolist(), "upload": [upload_id] * len(sheet)}).rowcount
    after = conn.execute(sa.text("SELECT count(*) FROM attendance")).scalar_one()
    return {"courses": len(course_ids), "sessions": len(session_ids),
            "new": int(after - before), "updated": int(changed - (after - before))}


def standings(conn: Connection, on: dt.date, horizon_days: int, *,
              within: frozenset[int] | None = None, course_id: int | None = None
              ) -> pd.DataFrame:
    """Every active volunteer of a community (within ``within``) against every course
    (or ``course_id``) whose duty they hold (a course with no duty: everyone), with their
    standing in the course's skill on ``on``: untrained, expired, expiring (within
    ``horizon_days``) or current, and when the certificate ends. Names masked."""
    frame = pd.read_sql_query(sa.text(f"""
        WITH certs AS ({_CERTS})
        SELECT v.id AS volunteer_id, v.number, v.name, v.occupation, a.id AS community_id,
               a.name AS community, st.name AS station, c.id AS course_id, c.name AS course,
               c.skill, c.duty, ct.passed_on, ct.expires_on,
               CASE WHEN ct.volunteer_id IS NULL THEN 'untrained'
                    WHEN ct.expires_on <= CAST(:on AS date) THEN 'expired'
                    WHEN ct.expires_on <= CAST(:on AS date) + :h THEN 'expiring'
                    ELSE 'current' END AS standing
        FROM volunteers v JOIN areas a ON a.id = v.community_id
        LEFT JOIN LATERAL (
            SELECT p.name FROM areas p
            WHERE p.level = 'station' AND p.id <> a.id
              AND a.id IN (SELECT area_subtree(p.id))
            ORDER BY p.id LIMIT 1
        ) st ON true
        JOIN courses c ON c.duty IS NULL OR c.duty = ANY(v.duties)
        LEFT JOIN certs ct ON ct.volunteer_id = v.id AND ct.skill = c.skill
        WHERE v.active
          AND {in_scope('a.id')}
          AND (CAST(:course AS integer) IS NULL OR c.id = :course)
        ORDER BY a.name, c.name, v.number"""),  # noqa: S608  (a constant fragment)
        conn, params={"on": on, "h": int(horizon_days), **scope_params(within),
                      "course": course_id})
    frame["name"] = frame["name"].map(mask_name)
    return frame


def certificates(conn: Connection, on: dt.date, *, within: frozenset[int] | None = None,
                 volunteer_id: int | None = None) -> pd.DataFrame:
    """Certificates held (current or expired) on ``on``: number, masked name, community,
    skill, last pass, end (NaT: never), current."""
    frame = pd.read_sql_query(sa.text(f"""
        WITH certs AS ({_CERTS})
        SELECT v.id AS volunteer_id, v.number, v.name, a.name AS community, ct.skill,
               ct.passed_on, ct.expires_on,
               (ct.expires_on IS NULL OR ct.expires_on > CAST(:on AS date)) AS current
        FROM certs ct JOIN volunteers v ON v.id = ct.volunteer_id
        LEFT JOIN areas a ON a.id = v.community_id
        WHERE {in_scope('v.community_id')}
          AND (CAST(:one AS integer) IS NULL OR v.id = :one)
        ORDER BY ct.skill, a.name, v.number"""),  # noqa: S608  (a constant fragment)
        conn, params={"on": on, **scope_params(within), "one": volunteer_id})
    frame["name"] = frame["name"].map(mask_name)
    return frame


def session_table(conn: Connection, since: dt.date, *,
                  within: frozenset[int] | None = None) -> pd.DataFrame:
    """Sessions held since ``since`` (newest first) with the attendance of volunteers
    within ``within``: signed up, present, passed, absent."""
    return pd.read_sql_query(sa.text(f"""
        SELECT s.id, c.name AS course, c.skill, s.held_on, s.batch, s.place, s.mode,
               s.trainer, count(*) AS listed,
               count(*) FILTER (WHERE t.result <> 'absent') AS attended,
               count(*) FILTER (WHERE t.result = 'passed') AS passed,
               count(*) FILTER (WHERE t.result = 'absent') AS absent
        FROM training_sessions s JOIN courses c ON c.id = s.course_id
        JOIN attendance t ON t.session_id = s.id JOIN volunteers v ON v.id = t.volunteer_id
        WHERE s.held_on >= :since
          AND {in_scope('v.community_id')}
        GROUP BY s.id, c.name, c.skill ORDER BY s.held_on DESC, c.name, s.batch"""),
        conn, params={"since": since, **scope_params(within)})


def course_table(conn: Connection) -> pd.DataFrame:
    """Courses with their sessions held and passes given."""
    return pd.read_sql_query(sa.text("""
        SELECT c.id, c.name, c.skill, c.duty, c.validity_months,
               count(DISTINCT s.id) AS sessions,
               count(t.*) FILTER (WHERE t.result = 'passed') AS passes,
               max(s.held_on) AS last_held
        FROM courses c LEFT JOIN training_sessions s ON s.course_id = c.id
        LEFT JOIN attendance t ON t.session_id = s.id
        GROUP BY c.id ORDER BY c.name"""), conn)


def course_id(conn: Connection, name_or_id: str) -> int:
    """A course by its name or id."""
    found = conn.execute(sa.text(
        "SELECT id FROM courses WHERE name = :n OR CAST(id AS text) = :n "
        "ORDER BY name = :n DESC LIMIT 1"), {"n": name_or_id.strip()}).scalar()
    if found is None:
        raise InputError(f"no course {name_or_id!r}: see `geo-patrol training courses`")
    return int(found)
