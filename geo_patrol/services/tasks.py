"""Tasks use cases: a rota's walks offered as tasks, taken or turned down by volunteers,
checked against their own fixes, and paid in points; verified reports paid once their place
and time match the reporter's fixes; payout lists for a period; planned against delivered
dose per community and week.

Who may take or turn down a task is decided in one place, :func:`answer`: only the volunteer
it is offered to (or, for a task open to the community, a volunteer of that community), and
only their own. Points are never written but through the ledger's one entry per item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.analysis.delivery import TaskPlaces, Verdict, verify_tasks
from geo_patrol.analysis.places import walking_order
from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.visits import Calendar
from geo_patrol.errors import N_, ConflictError, ForbiddenError, InputError, NotFoundError
from geo_patrol.planning.crew import SLOTS
from geo_patrol.planning.network import walking_distances
from geo_patrol.privacy import mask_name
from geo_patrol.services import notify
from geo_patrol.services.analysis import default_params
from geo_patrol.services.rota import make_rota, save, view
from geo_patrol.settings import Settings
from geo_patrol.store import tasks as store
from geo_patrol.store.accounts import audit
from geo_patrol.store.areas import segments_near
from geo_patrol.store.tasks import TASK_FILTERS as TASK_FILTERS  # the task list's
from geo_patrol.store.tasks import TASK_SORTS as TASK_SORTS
from geo_patrol.store.tasks import task_page as task_page  # read by the tasks page
from geo_patrol.store.tasks import task_table as task_table

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


def offer_rota(db: Database, settings: Settings, rota_id: int, *, by: str,
               within: frozenset[int] | None = None) -> int:
    """Offer each walk of a stored rota as a task: to the volunteer the rota gave it to, or
    to its community when nobody was free; its window is the walk's time slot. A walk offered
    before is not offered again. Returns how many tasks were made; audit-logged."""
    view(db, settings, rota_id, within=within)  # 404 outside the reader's scope
    tz = ZoneInfo(settings.timezone)
    rules = settings.rules.delivery
    with db.begin() as conn:
        walks = store.walks_of(conn, rota_id)
        if within is not None:
            walks = walks[walks["community_id"].isin(within)]
        rows = []
        for w in walks.to_dict("records"):
            lo, hi = SLOTS[w["slot"]]
            start = dt.datetime.combine(w["day"], dt.time(lo), tz)
            rows.append({**w, "window_start": start,
                         "window_end": start + dt.timedelta(hours=hi - lo),
                         "points": rules.points(w["kind"], "delivered"),
                         "offered_to": None if pd.isna(w["offered_to"])
                         else int(w["offered_to"]),
                         "community_id": None if pd.isna(w["community_id"])
                         else int(w["community_id"]),
                         "hotspot_segment_id": None if pd.isna(w["hotspot_segment_id"])
                         else int(w["hotspot_segment_id"])})
        made = store.create_tasks(conn, rows, by=by)
        notify.enqueue(conn, volunteer_ids=[r["offered_to"] for r in rows
                                            if r["offered_to"] is not None],
                       kind="task", ref=f"rota {rota_id}",
                       title="新的巡逻任务 · Patrol task offered",
                       body="有巡逻任务等你确认。· A patrol task waits for your answer.",
                       url="/me")
        audit(conn, by, "tasks_offer", f"rota {rota_id}", details={"tasks": made})
    return made


def make_task(db: Database, settings: Settings, *, hazard_id: int, day: dt.date,
              slot: str, by: str, number: str | None = None,
              within: frozenset[int] | None = None, by_volunteer: int | None = None) -> int:
    """A task made by hand: visit a hazard (a stop of the inspection dwell there) in one time
    slot of a day, offered to a volunteer (``number``) or to the hazard's community; the
    route is the street nearest the hazard; never to the officer making it (``by_volunteer``:
    their own roster row). Audit-logged; returns the task's id."""
    if slot not in SLOTS:
        raise InputError(N_("Choose a time slot from the list."), field="slot", values={})
    tz = ZoneInfo(settings.timezone)
    lo, hi = SLOTS[slot]
    start = dt.datetime.combine(day, dt.time(lo), tz)
    if start + dt.timedelta(hours=hi - lo) <= dt.datetime.now(dt.UTC):
        raise InputError(N_("This time slot is over: a task is for a time still to come."),
                         field="day", values={})
    with db.begin() as conn:
        place = store.hazard_street(conn, hazard_id)
        if place is None or (within is not None and place["community_id"] not in within):
            raise InputError(N_("Choose a hazard near a street in your communities from the "
                                "list."), field="hazard", values={})
        if store.same_hazard_task(conn, hazard_id, start) is not None:
            raise InputError(N_("This hazard already has a task in this time slot: a visit "
                                "is paid once."), field="hazard", values={})
        offered_to = None
        if number:
            offered_to = store.active_volunteer(conn, number.strip(), within)
            if offered_to is None:
                raise InputError(N_("No active volunteer “%(number)s” in your communities: "
                                    "choose one from the list."), field="number",
                                 values={"number": number.strip()[:30]})
            if offered_to == by_volunteer:
                raise InputError(N_("A task cannot be offered to the officer who makes it."),
                                 field="number", values={})
        task_id = store.create_task(conn, {
            "rota_walk_id": None, "kind": "hotspot", "community_id": place["community_id"],
            "day": day, "window_start": start,
            "window_end": start + dt.timedelta(hours=hi - lo),
            "minutes": float(settings.rules.dwell_min) + 10.0,
            "length_m": float(place["length_m"]), "segment_ids": [int(place["segment_id"])],
            "hazard_ids": [hazard_id], "hotspot_segment_id": None,
            "points": settings.rules.delivery.points_hotspot, "offered_to": offered_to,
            "wkt": place["wkt"]}, by=by)
        audit(conn, by, "task_make", f"task {task_id}",
              details={"hazard": hazard_id, "day": day.isoformat(), "slot": slot})
    return task_id


def _volunteer(conn: Any, volunteer_id: int) -> dict[str, Any]:
    row = store.volunteer_home(conn, volunteer_id)
    if row is None:
        raise NotFoundError("no active volunteer record")
    return row


def near_me(db: Database, settings: Settings, volunteer_id: int, *,
            today: dt.date | None = None, now: dt.datetime | None = None,
            limit: int = 10) -> Any:
    """The tasks a volunteer may take from today whose window is still open (at ``now``),
    nearest first by walking along the streets from home (their community) to where each
    starts (``walk_m``)."""
    today = today or settings.today()
    with db.connect() as conn:
        me = _volunteer(conn, volunteer_id)
        offered = store.task_table(conn, offered_for=(volunteer_id, me["community_id"]),
                                   since=today)
        offered = offered[offered["window_end"] > (now or dt.datetime.now(dt.UTC))]
        if offered.empty or me["x"] is None:
            return offered.assign(walk_m=np.inf)
        xs = np.r_[offered["x"].to_numpy(float), me["x"]]
        ys = np.r_[offered["y"].to_numpy(float), me["y"]]
        pad = 1500.0
        segs = segments_near(conn, (xs.min() - pad, ys.min() - pad, xs.max() + pad,
                                    ys.max() + pad))
    walk = walking_distances(segs, float(me["x"]), float(me["y"]), offered["x"].to_numpy(float),
                             offered["y"].to_numpy(float))
    return offered.assign(walk_m=walk).sort_values(["walk_m", "day"]).head(limit)


def answer(db: Database, *, volunteer_id: int | None, task_id: int, accept: bool,
           by: str, now: dt.datetime | None = None) -> str:
    """A volunteer takes a task (``accept``) or gives it back / turns it down. Only the
    volunteer it is offered to — or, for a task open to its community, a volunteer of that
    community — may take it, and only for themselves, and only before its window ends (at
    ``now``): a closed task, or one already checked, cannot change. Its work counts from
    when it is taken, and a volunteer cannot hold two tasks for the same work at once (one
    walk is paid once). Returns the new state; audit-logged."""
    if volunteer_id is None:
        raise ForbiddenError("only a volunteer takes tasks")
    with db.begin() as conn:
        task = store.lock_task(conn, task_id)
        me = _volunteer(conn, volunteer_id)
        mine = task["offered_to"] == volunteer_id or (
            task["offered_to"] is None and task["community_id"] == me["community_id"])
        if not mine and task["volunteer_id"] != volunteer_id:
            raise NotFoundError(f"no task {task_id}")  # not theirs: nothing to learn
        if task["state"] not in ("offered", "accepted"):
            raise ConflictError(f"task {task_id} is {task['state']}: it cannot change now")
        if task["state"] == "accepted" and task["volunteer_id"] != volunteer_id:
            raise ConflictError(f"task {task_id} was taken by another volunteer")
        now = now or dt.datetime.now(dt.UTC)
        if task["window_end"] <= now:
            raise ConflictError(f"task {task_id} has closed: its window is over")
        if accept and task["state"] == "offered" and \
                store.same_work_held(conn, task_id, volunteer_id) is not None:
            raise ConflictError(N_("You already hold a task for some of the same streets or "
                                   "places at that time: one walk is paid once. Finish it "
                                   "or give it back first."), values={})
        if accept:
            store.set_taker(conn, task_id, volunteer_id, "accepted", at=now)
            state = "accepted"
        else:  # turned down: open to the community again
            store.set_taker(conn, task_id, None, "offered", at=now)
            if task["offered_to"] == volunteer_id:
                store.set_offered_to(conn, task_id, None)
            state = "offered"
        audit(conn, by, "task_accept" if accept else "task_decline", f"task {task_id}")
    return state


@dataclass
class Checked:
    task_id: int
    volunteer_id: int
    state: str
    verdict: dict[str, Any]
    points: int


def check(db: Database, settings: Settings, *, now: dt.datetime | None = None,
          task_ids: list[int] | None = None,
          within: frozenset[int] | None = None, by: str = "system") -> list[Checked]:
    """Check every accepted task whose window has closed (or those of ``task_ids``) against
    the taker's own clean fixes in its window, read for all of them at once, with the paths,
    reach and stays of the city's analysis (:func:`verdicts`); record each verdict and add
    the points it earns to the ledger (once per task)."""
    now = now or dt.datetime.now(dt.UTC)
    rule = settings.rules.delivery
    out = []
    with db.begin() as conn:
        ids = task_ids if task_ids is not None else store.due_for_check(conn, now, within)
        locked = [store.lock_task(conn, task_id) for task_id in dict.fromkeys(ids)]
        due = [t for t in locked if t["state"] == "accepted" and t["window_end"] <= now]
        for task, (verdict, unproven) in zip(due, verdicts(conn, settings, due)):
            task_id = task["id"]
            recorded = verdict.as_dict() | {"unproven_fixes": unproven}
            store.record_verdict(conn, task_id, verdict.state, recorded)
            points = rule.points(task["kind"], verdict.state)
            if points:
                store.add_points(conn, volunteer_id=task["volunteer_id"], source="task",
                                 item_id=task_id, points=points, earned_on=task["day"],
                                 note=f"{verdict.state} {100 * verdict.walked_share:.0f}%")
            out.append(Checked(task_id, task["volunteer_id"], verdict.state, recorded,
                               points))
        if out:
            audit(conn, by, "tasks_check", f"{len(out)} tasks",
                  details={s: sum(1 for c in out if c.state == s) for s in
                           ("delivered", "partly", "missed")}
                  | {"points": sum(c.points for c in out)})
    return out


def verdicts(conn: Any, settings: Settings, tasks: list[dict[str, Any]]
             ) -> list[tuple[Verdict, int]]:
    """The verdicts on ``tasks`` (rows of the tasks table) from their takers' fixes, read in
    one query: walked, stayed and counted as the map counts them
    (:func:`geo_patrol.analysis.delivery.verify_tasks`), with the :class:`AnalysisParams` of
    the city's settings (its ``track_gap_s``, ``max_speed_kmh``) and paths cut at its local
    midnights; only fixes that prove work count (the taker's own phone with its secret,
    received before the window's end plus the city's ``proof_grace_min``, or the command's
    import), and each verdict comes with how many of the window's fixes did not."""
    if not tasks:
        return []
    # the work counts from when the task was taken: a walk before it proves nothing
    read = store.fixes_in_windows(conn, [(t["volunteer_id"],
                                          max(t["window_start"], t["accepted_at"]
                                              or t["window_start"]),
                                          t["window_end"]) for t in tasks],
                                  grace_s=settings.proof_grace_min * 60)
    unproven = np.bincount(read["item"].to_numpy("int64")[~read["proves"].to_numpy(bool)],
                           minlength=len(tasks))
    fixes = read[read["proves"].to_numpy(bool)]
    places = TaskPlaces.of([store.task_geometry(conn, t) for t in tasks])
    params = default_params(settings)
    cal = Calendar.for_window(min(t["window_start"] for t in tasks),
                              max(t["window_end"] for t in tasks), settings.timezone,
                              params.day_starts, params.night_starts)
    found = verify_tasks(places, Fixes(fixes["item"].to_numpy("int32"),
                                       np.zeros(len(fixes), "int8"), fixes["t"].to_numpy(float),
                                       fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)),
                         params=params, rules=settings.rules, breaks=cal.midnights)
    return [(v, int(n)) for v, n in zip(found, unproven)]


def credit_reports(db: Database, settings: Settings, *, by: str = "system",
                   report_ids: list[int] | None = None) -> dict[str, list[int]]:
    """Points for reports verified as true (of ``report_ids``, when given), once each, when
    the reporter's own fixes put them within ``report_radius_m`` of the report within
    ``report_minutes`` of its time and no photo's EXIF puts them elsewhere; the others are
    left for the verifier (``flagged``), never paid silently. The points follow the report's
    category and the outcome of its triage (``rules.toml``). A report of a hazard (or of the
    same category close by within a day) already reported is linked to the first report and
    not paid (``duplicates``)."""
    rule = settings.rules.delivery
    with db.begin() as conn:
        store.link_duplicate_reports(conn, radius_m=rule.duplicate_radius_m,
                                     hours=rule.duplicate_hours)
        duplicates = store.verified_duplicates(conn)
        rows = store.verified_unpaid_reports(conn, tz=settings.timezone,
                                             minutes=rule.report_minutes,
                                             radius_m=rule.report_radius_m,
                                             grace_s=settings.proof_grace_min * 60,
                                             report_ids=report_ids)
        paid, flagged = [], []
        for report_id, volunteer_id, day, matches, category, outcome in rows:
            if not matches:
                flagged.append(int(report_id))
                continue
            store.add_points(conn, volunteer_id=volunteer_id, source="report",
                             item_id=report_id,
                             points=settings.rules.report_points(category, outcome),
                             earned_on=day, note="verified report")
            paid.append(int(report_id))
        if paid:
            audit(conn, by, "reports_credit", f"{len(paid)} reports",
                  details={"paid": paid[:100], "flagged": flagged[:100]})
    return {"paid": paid, "flagged": flagged, "duplicates": duplicates}


def readable_task(db: Database, task_id: int, *, volunteer_id: int | None,
                  within: frozenset[int] | None) -> Any:
    """One task as a one-row frame, if the reader may see it: a volunteer a task offered to
    them (or open to their community) or taken by them; others a task of their communities
    (``within``). 404 otherwise."""
    with db.connect() as conn:
        task = store.task_table(conn, task_id=task_id, within=within)
        if volunteer_id is not None and len(task):
            me = _volunteer(conn, volunteer_id)
            row = task.iloc[0]
            offered = row["offered_to"] == volunteer_id or (
                row["offered_to"] != row["offered_to"] and row["state"] == "offered"
                and row["community_id"] == me["community_id"])
            if not offered and row["volunteer_id"] != volunteer_id:
                task = task.iloc[:0]
    if task.empty:
        raise NotFoundError(f"no task {task_id}")
    return task


def task_sites(db: Database, task: Any) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """What a task (a one-row frame of :func:`readable_task`) visits: its hazards numbered
    in walking order along its route (``order``) and its site: the middle of its hot-spot
    street, else the hazard a visit (a ``hotspot`` task) stops at, else none."""
    row = task.iloc[0]
    with db.connect() as conn:
        hazards, site = store.task_sites(conn, list(row["hazard_ids"] or []),
                                         None if pd.isna(row["hotspot_segment_id"])
                                         else int(row["hotspot_segment_id"]))
    if len(hazards):
        hazards["order"] = walking_order(task.geometry.iloc[0], hazards["lon"].to_numpy(),
                                         hazards["lat"].to_numpy())
        hazards = hazards.sort_values("order").reset_index(drop=True)
        if site is None and row["kind"] == "hotspot":
            stop = hazards.iloc[0]
            site = {k: stop[k] for k in ("lon", "lat", "street", "cross_a", "cross_b")} | \
                {"name": stop["name"]}
    return hazards, site


def my_tasks(db: Database, volunteer_id: int) -> tuple[Any, int]:
    """A volunteer's own tasks (newest first) and their points in all."""
    with db.connect() as conn:
        own = store.task_table(conn, volunteer_id=volunteer_id)
        points = store.ledger(conn, volunteer_id=volunteer_id)
    return own.iloc[::-1], int(points["points"].sum()) if len(points) else 0


def payout(db: Database, *, start: dt.date, end: dt.date, by: str
           ) -> tuple[int, pd.DataFrame]:
    """Pay every unpaid entry earned in [start, end]: the payout's id and its list, one line
    per volunteer (roster number, masked name, community, points) with the items it pays
    (``task 12; report 7``). Audit-logged; an entry is never paid twice. A period with
    nothing left to pay records no payout (an :class:`InputError` says so)."""
    if end < start:
        raise InputError(N_("The period ends before it starts."), field="to", values={})
    with db.begin() as conn:
        payout_id = store.make_payout(conn, start=start, end=end, by=by)
        entries = store.ledger(conn, payout_id=payout_id)
        if entries.empty:  # raised inside the transaction: the empty payout is rolled back
            raise InputError(N_("Nothing to pay from %(start)s to %(end)s: no points were "
                                "earned then, or they were paid already. No payout was "
                                "recorded."),
                             values={"start": start.isoformat(), "end": end.isoformat()})
        for vid, points in entries.groupby("volunteer_id")["points"].sum().items():
            notify.enqueue(conn, volunteer_ids=[int(vid)], kind="points",
                           ref=f"payout {payout_id}", title="积分已发放 · Points paid",
                           body=f"本期发放 {int(points)} 积分。· {int(points)} points paid.",
                           url="/me")
        audit(conn, by, "payout", f"payout {payout_id}",
              details={"from": start.isoformat(), "to": end.isoformat(),
                       "entries": len(entries), "points": int(entries["points"].sum())})
    return payout_id, payout_lines(entries, mask_name)


def payouts(db: Database) -> pd.DataFrame:
    """The latest payouts, with the numbers their lists are known by."""
    with db.connect() as conn:
        return store.payout_table(conn)


def payout_lines(entries: pd.DataFrame, mask: Any) -> pd.DataFrame:
    cols = ["number", "name", "community", "points", "items"]
    if entries.empty:
        return pd.DataFrame(columns=cols)
    entries = entries.assign(item=entries["source"] + " " + entries["item_id"].astype(str))
    out = entries.groupby(["volunteer_id", "number", "name"], dropna=False).agg(
        community=("community", "first"), points=("points", "sum"),
        items=("item", "; ".join)).reset_index()
    out["name"] = out["name"].map(mask)
    return out.sort_values(["points", "number"], ascending=[False, True])[cols]


def dose(db: Database, *, within: frozenset[int] | None, since: dt.date,
         until: dt.date, rota_id: int | None = None) -> pd.DataFrame:
    """Planned against delivered minutes per community and week (of one rota's tasks)."""
    with db.connect() as conn:
        return store.dose(conn, within=within, since=since, until=until, rota_id=rota_id)


def rankings(db: Database, *, since: dt.date, until: dt.date,
             within: frozenset[int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Commendations (表彰): points earned in the period per community and per team."""
    with db.connect() as conn:
        return store.rankings(conn, since=since, until=until, within=within)


def demo_week(db: Database, settings: Settings, run: dict, area: dict, *,
              start: dt.date, walk: Callable[[list[dict[str, Any]]], None]
              ) -> tuple[int, pd.DataFrame]:
    """The demo's week as tasks: a rota over the analysed week sized to that week's own
    patrols, each walk offered and taken as the week begins by a volunteer of its community
    with no patrol of their own in its slot (the one the rota gave it to first; one task a
    day each), walked (or not) by ``walk`` — given each taken task's ``id, number,
    window_start, window_end``, its route (WGS-84 ``geom``) and its stops' ``lon, lat`` in
    the order they are checked — and checked against the takers' own fixes once the week is
    over; returns the rota's id and its planned and delivered dose."""
    with db.connect() as conn:
        plan = make_rota(conn, settings, run, area, start=start, days=7, revisit_days=3,
                         per_community=1, time_limit=15, draws=5,
                         force_until=start + dt.timedelta(days=6))
    rota_id = save(db, plan, by="demo")
    offer_rota(db, settings, rota_id, by="demo")
    pad = dt.timedelta(minutes=30)
    taken: list[dict[str, Any]] = []
    with db.begin() as conn:
        offered = store.task_table(conn, since=start, until=start + dt.timedelta(days=6),
                                   states=("offered",))
        offered = offered[offered["rota_walk_id"].isin(store.walks_of(conn, rota_id)
                                                       ["rota_walk_id"])]
        busy: set[tuple[int, dt.date]] = set()
        for t in offered.itertuples():
            if t.community_id != t.community_id:
                continue
            free = store.free_volunteers(conn, int(t.community_id), t.window_start - pad,
                                         t.window_end + pad)
            free.sort(key=lambda v: v[0] != t.offered_to)  # the rota's choice first
            taker = next((v for v in free if (v[0], t.day) not in busy), None)
            if taker is None:
                continue
            busy.add((taker[0], t.day))
            store.set_offered_to(conn, int(t.id), taker[0])
            hazards, site = store.task_sites(conn, list(t.hazard_ids or []),
                                             None if pd.isna(t.hotspot_segment_id)
                                             else int(t.hotspot_segment_id))
            stops = [(float(h.lon), float(h.lat)) for h in hazards.itertuples()]
            if site is not None:
                stops.append((float(site["lon"]), float(site["lat"])))
            taken.append({"id": int(t.id), "volunteer_id": taker[0], "number": taker[1],
                          "window_start": t.window_start, "window_end": t.window_end,
                          "geom": t.geom, "stops": stops})
    # taken as the week begins, before any of its windows closes
    tz = ZoneInfo(settings.timezone)
    week_begins = dt.datetime.combine(start, dt.time(), tz)
    for task in taken:
        answer(db, volunteer_id=task["volunteer_id"], task_id=task["id"], accept=True,
               by="demo", now=week_begins)
    walk(taken)
    check(db, settings, now=dt.datetime.combine(start + dt.timedelta(days=7), dt.time(), tz))
    return rota_id, dose(db, within=None, since=start, until=start + dt.timedelta(days=6),
                         rota_id=rota_id)
