"""Call-outs that run themselves: an incident marked (or an SOS raised), the volunteers
ranked by their travel time along the streets in their own mode, called in rings until one
accepts, then the station's group and the command; answers, the lead, cancel and close.

Every message to a person goes through :func:`_announce`. Timers (the next ring, an SOS not
acknowledged) run in the job queue's worker (:func:`geo_patrol.services.jobs.defer_timer`),
never on a web thread."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj

from geo_patrol.analysis.places import Place, place_text
from geo_patrol.clock import local_times
from geo_patrol.access import Resource
from geo_patrol.errors import (
    N_,
    CalloutEndedError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    NoVolunteerError,
)
from geo_patrol.planning.network import StreetGraph, Ways
from geo_patrol.rules import Dispatch
from geo_patrol.services import jobs, notify
from geo_patrol.services.sources import entered_point, form_text
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import ledgers as ledger_store
from geo_patrol.store import live as live_store
from geo_patrol.store.accounts import audit
from geo_patrol.store.db import metric_srid
from geo_patrol.vocab import CERT_SKILLS, COMMAND_OUTCOMES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from geo_patrol.access import Principal
    from geo_patrol.store.db import Database

log = logging.getLogger(__name__)

#: How each occupation on the roster travels to an incident (others walk, unless their
#: recent speed says they ride).
OCCUPATION_MODES = {"taxi_driver": "drive", "delivery_rider": "ride"}
#: Seconds of positions that tell a volunteer's recent speed.
RECENT_S = 300.0
#: Most volunteers ranked for one call-out (its rings together).
MAX_CALLED = 200
#: How far past the ETA cap the ways are searched: the command sees by how much the ones
#: left out as too far miss it, up to this many times the cap.
HORIZON = 2.0

_STREETS: OrderedDict[tuple[str, str], tuple[tuple[int, int], StreetGraph]] = OrderedDict()
_STREETS_LOCK = threading.Lock()
#: The ways of volunteers to a call-out from their last positions, by (call-out, each
#: volunteer and the time of their last position): see :func:`_ways_now`.
_WAYS: OrderedDict[tuple[int, tuple[tuple[int, str], ...]],
                   dict[int, tuple[float, float, str]]] = OrderedDict()
_WAYS_KEPT = 4096
_WAYS_LOCK = threading.Lock()


def street_graph(db: Database, settings: Settings, conn: Connection) -> StreetGraph:
    """The city's streets as a graph, read once by this process and kept until they change
    (a few cities at a time): a call-out only searches it."""
    key = (str(db.url), settings.city)
    version = area_store.segments_version(conn)
    with _STREETS_LOCK:
        found = _STREETS.get(key)
        if found is not None and found[0] == version:
            _STREETS.move_to_end(key)
            return found[1]
        graph = StreetGraph(area_store.all_segments(conn))
        _STREETS[key] = (version, graph)
        while len(_STREETS) > 4:
            _STREETS.popitem(last=False)
        return graph


@dataclass
class Ranking:
    """Who is called, best first (``volunteer_id, number, name, mode, walk_m, eta_s,
    certified``), and who near the incident is not, with the reason (``reason``: too far,
    off duty, stale position, lacking the skill, unreachable by the streets)."""

    called: pd.DataFrame
    left_out: pd.DataFrame


def travel_mode(occupation: str | None, speed_mps: float | None, dispatch: Dispatch) -> str:
    """Walk, ride or drive: by the roster's occupation (taxi drivers drive, delivery riders
    ride), else by the recent speed (faster than ``ride_kmh``: rides)."""
    if occupation in OCCUPATION_MODES:
        return OCCUPATION_MODES[occupation]
    if speed_mps is not None and speed_mps == speed_mps and speed_mps * 3.6 > dispatch.ride_kmh:
        return "ride"
    return "walk"


def rank(db: Database, settings: Settings, *, lon: float, lat: float,
         skill: str | None = None, require_skill: bool = True,
         exclude: tuple[int, ...] = (), only: tuple[int, ...] | None = None,
         now: dt.datetime | None = None) -> Ranking:
    """The volunteers near a point ranked by travel time along the streets in their mode,
    within the city's ETA cap (``[dispatch] eta_cap_min``), with the ones left out.

    With ``skill`` (a certified skill: first aid, mediation...) only volunteers holding a
    current certificate in it are called, or with ``require_skill=False`` they come first
    and the others after them; ``certified`` tells which is which. A skill only declared
    on the roster does not count."""
    if skill is not None and skill not in CERT_SKILLS:
        raise InputError(f"unknown skill {skill[:40]!r}: use one of {', '.join(CERT_SKILLS)}")
    dispatch = settings.rules.dispatch
    now = now or dt.datetime.now(dt.UTC)
    cap_s = dispatch.eta_cap_min * 60
    fastest = max(dispatch.walk_mps, dispatch.ride_mps, dispatch.drive_mps) \
        * max(dispatch.major_factor, 1.0)
    reach = min(cap_s * fastest, 15_000.0)
    # the searches stop at HORIZON times the cap: within it every ETA is exact (a way of
    # that time cannot leave the disc its fastest pace covers), beyond it only "too far";
    # the walk of anyone within the cap is no longer than the cap at the fastest pace
    horizon_s = cap_s * HORIZON
    with db.connect() as conn:
        srid = metric_srid(conn)
        if srid is None:
            raise InputError("no areas are loaded yet")
        x, y = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{srid}",
                                           always_xy=True).transform(lon, lat)
        box = (x - reach, y - reach, x + reach, y + reach)
        people = live_store.candidates_near(
            conn, box, settings.today(now), now - dt.timedelta(days=1),
            now - dt.timedelta(seconds=RECENT_S))
        streets = street_graph(db, settings, conn)
    people = people[~people["volunteer_id"].isin(exclude)]
    if only is not None:
        people = people[people["volunteer_id"].isin(only)]
    people = people.reset_index(drop=True)
    people["certified"] = [skill in held for held in people.pop("skills_held")]
    people["mode"] = [travel_mode(o, s, dispatch)
                      for o, s in zip(people["occupation"], people["speed_mps"])]
    ways = Ways(streets, x, y, people["x"].to_numpy(float), people["y"].to_numpy(float))
    people["walk_m"] = ways.costs(key="metres", limit=cap_s * fastest) if len(people) else []
    eta = np.full(len(people), np.inf)
    for mode in ("walk", "ride", "drive"):
        mine = (people["mode"] == mode).to_numpy()
        if mine.any() and not streets.empty:
            speeds = (mode, dispatch.walk_mps, dispatch.ride_mps, dispatch.drive_mps,
                      dispatch.major_factor)
            pace = streets.kept(("pace", speeds), lambda mode=mode: 1.0 / dispatch.speeds(
                mode, streets.highway))
            eta[mine] = ways.costs(pace, mine, key=speeds, limit=horizon_s)
    people["eta_s"] = eta
    fresh = now - dt.timedelta(minutes=dispatch.fresh_min)
    # someone in trouble themselves is not sent to help others
    reason = np.select(
        [people["in_sos"].astype(bool).to_numpy(),
         ~people["active"].astype(bool).to_numpy(),
         (pd.to_datetime(people["t"], utc=True) < fresh).to_numpy(),
         np.asarray(bool(skill and require_skill) & ~people["certified"].astype(bool)),
         ~ways.connected(), eta > cap_s],
        ["in_sos", "off_duty", "stale", "no_skill", "unreachable", "too_far"], default="")
    people["reason"] = reason
    called = people[people["reason"] == ""].sort_values(["certified", "eta_s"],
                                                        ascending=[False, True])
    left_out = people[people["reason"] != ""].sort_values("eta_s")
    return Ranking(called.head(MAX_CALLED).reset_index(drop=True),
                   left_out.reset_index(drop=True))


def nearest_by_walking(db: Database, settings: Settings, *, lon: float, lat: float,
                       count: int, skill: str | None = None, require_skill: bool = True,
                       now: dt.datetime | None = None) -> pd.DataFrame:
    """The ``count`` best volunteers of :func:`rank` (the name kept for the API's readers)."""
    return rank(db, settings, lon=lon, lat=lat, skill=skill, require_skill=require_skill,
                now=now).called.head(count)


def _rings(called: pd.DataFrame, size: int, rings: int) -> pd.DataFrame:
    out = called.head(size * rings).copy()
    out["ring"] = np.arange(len(out)) // size + 1
    return out


#: What the volunteers of a call-out are told, by the change (both languages: a message
#: leaves before anyone's page language is known).
_TITLES = {"callout": "召集 · Call-out", "sos": "队员求助 SOS · A volunteer needs help",
           "callout_cancelled": "召集已取消 · Call-out cancelled",
           "callout_closed": "召集已结束 · Call-out closed",
           "sos_withdrawn": "求助已撤销：求助人已安全 · SOS withdrawn: the volunteer is safe"}


#: What the station's and the command's chats are told when a call-out escalates.
_GROUP_TITLES = {"callout_escalated": "召集无人接受 · Nobody accepted the call-out",
                 "sos_escalated": "求助无人处理 · SOS not acknowledged",
                 "sos_withdrawn": "求助已撤销 · SOS withdrawn"}
#: Why, in the chats' message.
_GROUP_WHY = {"sos_escalated": "无人确认 · No officer acknowledged it",
              "sos_withdrawn": "求助人已安全 · The volunteer is safe"}


def _message_ref(callout_id: int) -> str:
    return f"callout {callout_id}"


def _announce(conn: Connection, callout_id: int, volunteer_ids: list[int], kind: str, *,
              groups: bool = True) -> None:
    """Send one message about a call-out to these volunteers through the outbox (their
    channels, Web Push) and tell the pages open in its community (the command's /live, the
    volunteers' /me): the one place every call, alarm and change goes through. An
    escalation goes to the chats of the police station over its community and of the
    command (and, with ``groups``, what ends one they were told of)."""
    incident = live_store.callout_incident(conn, callout_id)
    if volunteer_ids and kind in ("callout", "sos"):
        live_store.mark_sent(conn, callout_id, volunteer_ids)
    place = place_text(Place(incident["street"], incident["cross_a"], incident["cross_b"]),
                       "zh") if incident["street"] else None
    body = " · ".join(str(v) for v in (incident["category"], place, incident["note"]) if v)
    ref = _message_ref(callout_id)
    message_kind = "sos" if incident["kind"] == "sos" else "callout"
    if volunteer_ids and kind in _TITLES:
        notify.enqueue(conn, volunteer_ids=volunteer_ids, kind=message_kind,
                       ref=ref if kind in ("callout", "sos") else f"{ref} {kind}",
                       title=_TITLES[kind], body=body, url="/me")
    if kind in _GROUP_TITLES and groups:
        called = len(live_store.called_ids(conn, callout_id))
        why = _GROUP_WHY.get(kind) or (
            f"已呼叫 {called} 人，无人接受 · {called} called, none accepted" if called
            else "范围内无义警可呼叫 · Nobody within reach to call")
        notify.enqueue_group(conn, community_id=incident["community_id"], kind=message_kind,
                             ref=f"{ref} escalated", title=_GROUP_TITLES[kind],
                             body=f"{body}\n{why}", url=f"/live?callout={callout_id}")
    notify.publish(conn, {"kind": kind, "ids": [callout_id],
                          "community": incident["community_id"],
                          "volunteers": [int(v) for v in volunteer_ids][:500]})


def escalation_reached(db: Database, callout_id: int, kind: str) -> bool | None:
    """Whether the escalation of a call-out (``kind`` ``sos`` for an SOS; asked once it has
    escalated, its message queued in the same transaction) reached a chat of the station or
    the command: ``True`` once one is sent or delivered, ``False`` when it went to none (no
    channel is set) or every one failed, ``None`` while some are still being sent."""
    states = notify.states(db, "sos" if kind == "sos" else "callout",
                           f"{_message_ref(callout_id)} escalated")["state"]
    if states.isin(["sent", "delivered", "answered"]).any():
        return True
    return False if (states == "failed").all() else None


def _start(conn: Connection, callout_id: int, kind: str) -> None:
    """Call the first ring (and alert the command of an SOS)."""
    first = live_store.ring_targets(conn, callout_id, 1)
    _announce(conn, callout_id, first, kind)
    if kind == "sos":
        _announce(conn, callout_id, [], "sos_raised")


def call_out(db: Database, settings: Settings, principal: Principal, *, lon: object,
             lat: object, category: str, note: str | None, count: int | None = None,
             skill: str | None = None, require_skill: bool = True) -> int:
    """Mark an incident and call the ``count`` best volunteers (the first ring; the city's
    ``[dispatch] ring_size`` by default); if nobody accepts within ``ring_s`` seconds the
    next ring is called, and after the last the station's group and the command
    (audit-logged)."""
    dispatch = settings.rules.dispatch
    note = form_text(note, "note", limit=500)
    category = (form_text(category, "category", limit=32) or "").strip()
    if not category:
        raise InputError("choose the incident's category", field="category",
                         shown=N_("Choose what happened."))
    count = dispatch.ring_size if count is None else count
    if not 1 <= count <= 50:
        raise InputError("call between 1 and 50 volunteers", field="count",
                         shown=N_("Call between 1 and 50 volunteers."))
    with db.begin() as conn:
        plon, plat, community = entered_point(conn, lon, lat, "wgs84", principal.community_ids)
    ranking = rank(db, settings, lon=plon, lat=plat, skill=skill, require_skill=require_skill)
    targets = _rings(ranking.called, count, dispatch.rings)
    with db.begin() as conn:
        callout_id = live_store.store_callout(
            conn, category=category, note=note, lon=plon, lat=plat,
            srid=int(metric_srid(conn) or 0), community_id=community, user_id=principal.id,
            targets=targets, skill=skill, skill_required=bool(skill and require_skill),
            ring_size=count, ring_s=dispatch.ring_s, rings=dispatch.rings,
            left_out=ranking.left_out)
        _start(conn, callout_id, "callout")
        audit(conn, principal.username, "callout", f"callout {callout_id}",
              details={"volunteers": targets["number"].tolist(), "category": category,
                       "skill": skill, "skill_required": bool(skill and require_skill),
                       "left_out": {str(k): int(v) for k, v in
                                    ranking.left_out["reason"].value_counts().items()}})
        if targets.empty:  # nobody to ring: the station and the command are told now
            _escalate(conn, callout_id, rings=0, reason="nobody within reach")
            return callout_id
    _defer(settings, "callout_ring", dispatch.ring_s, callout_id=callout_id, ring=1)
    return callout_id


def _escalate(conn: Connection, callout_id: int, *, rings: int, reason: str) -> None:
    """A call-out nobody accepted (or nobody could be called to) goes to the chats of the
    station and the command; audit-logged."""
    if live_store.escalate_callout(conn, callout_id):
        _announce(conn, callout_id, [], "callout_escalated")
        audit(conn, "system", "callout_escalate", f"callout {callout_id}",
              details={"rings": rings, "reason": reason})


def _defer(settings: Settings, name: str, delay_s: float, **params: Any) -> None:
    jobs.defer_timer(settings, name, delay_s, params)


@jobs.timer("callout_ring")
def next_ring(engine: Engine, settings: Settings, params: dict[str, Any]) -> None:
    """A ring's time is up: unless someone accepted (or the call-out was closed, or a later
    ring was called already), call the next ring; after the last, alert the station's group
    and the command."""
    callout_id, ring = int(params["callout_id"]), int(params["ring"])
    later: float | None = None
    with engine.begin() as conn:
        row = live_store.lock_callout(conn, callout_id)
        if row is None or row["closed_at"] is not None or row["ring"] != ring \
                or live_store.accepted_count(conn, callout_id):
            return
        targets = live_store.ring_targets(conn, callout_id, ring + 1)
        if targets:
            live_store.set_ring(conn, callout_id, ring + 1)
            _announce(conn, callout_id, targets, "callout" if row["kind"] != "sos" else "sos")
            audit(conn, "system", "callout_ring", f"callout {callout_id}",
                  details={"ring": ring + 1, "volunteers": len(targets)})
            later = float(row["ring_s"])
        elif row["kind"] != "sos":
            # (an SOS is escalated for want of an officer's acknowledgement, by its own
            # deadline: its rings running out must not use that up)
            _escalate(conn, callout_id, rings=ring, reason="nobody accepted")
    if later is not None:
        _defer(settings, "callout_ring", later, callout_id=callout_id, ring=ring + 1)


@jobs.timer("sos_ack")
def sos_deadline(engine: Engine, settings: Settings, params: dict[str, Any]) -> None:
    """An SOS not acknowledged by an officer in time: escalated to the command."""
    callout_id = int(params["callout_id"])
    with engine.begin() as conn:
        row = live_store.lock_callout(conn, callout_id)
        if row is None or row["closed_at"] is not None or row["acknowledged_at"] is not None:
            return
        if live_store.escalate_callout(conn, callout_id):
            _announce(conn, callout_id, [], "sos_escalated")
            audit(conn, "system", "sos_escalate", f"callout {callout_id}",
                  details={"after_s": settings.rules.dispatch.sos_ack_s})


#: A volunteer raises at most this many SOS in this many minutes (each calls people and
#: the station's chats; a real emergency past that is for 110).
SOS_REPEATS = 3
SOS_REPEAT_MIN = 10


def raise_sos(db: Database, settings: Settings, volunteer_id: int, *,
              lon: float | None = None, lat: float | None = None, source: str = "app",
              by: str | None = None) -> int:
    """A volunteer's SOS (from Traccar Client's alarm or the app's button): an alarm on
    /live until an officer acknowledges and closes it, escalated when not acknowledged in
    ``[dispatch] sos_ack_s``, and the nearest volunteers called to it. A second SOS while
    one is open joins it."""
    dispatch = settings.rules.dispatch
    with db.begin() as conn:
        found = live_store.open_sos(conn, volunteer_id)
        if found is not None:
            return found
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=SOS_REPEAT_MIN)
        if live_store.sos_raised(conn, volunteer_id, since) >= SOS_REPEATS:
            raise InputError(f"{SOS_REPEATS} SOS raised in the last {SOS_REPEAT_MIN} minutes",
                             values={"n": SOS_REPEATS, "min": SOS_REPEAT_MIN},
                             shown=N_("You have raised %(n)d SOS in the last %(min)d "
                                      "minutes: the command has them. If you are in danger "
                                      "now, call 110."))
        if lon is None or lat is None:
            last = live_store.last_position(conn, volunteer_id)
            if last is None:
                raise InputError("no position known: allow location, or send it with the SOS",
                                 shown=N_("Your position is not known yet: allow this page "
                                          "to use your location, then send the SOS again."))
            lon, lat = last
        srid = metric_srid(conn)
        # filed where it was raised (that station's officers are nearest), else at home
        community = ledger_store.community_at(conn, float(lon), float(lat)) or \
            live_store.volunteer_area(conn, volunteer_id)
    ranking = rank(db, settings, lon=float(lon), lat=float(lat), exclude=(volunteer_id,))
    targets = _rings(ranking.called, dispatch.sos_call, dispatch.rings)
    with db.begin() as conn:
        callout_id = live_store.store_callout(
            conn, category="sos", note=None, lon=float(lon), lat=float(lat),
            srid=int(srid or 0), community_id=community, user_id=None, targets=targets,
            kind="sos", raised_by=volunteer_id, ring_size=dispatch.sos_call,
            ring_s=dispatch.ring_s, rings=dispatch.rings, left_out=ranking.left_out)
        _start(conn, callout_id, "sos")
        audit(conn, by or "system", "sos", f"callout {callout_id}",
              details={"volunteer": volunteer_id, "source": source,
                       "called": targets["number"].tolist()})
    _defer(settings, "sos_ack", dispatch.sos_ack_s, callout_id=callout_id)
    _defer(settings, "callout_ring", dispatch.ring_s, callout_id=callout_id, ring=1)
    return callout_id


# -- no movement during a patrol ---------------------------------------------------------------

def watch_still(settings: Settings) -> bool:
    """Positions arrived: have the "no movement during a patrol" alarms checked by the job
    worker within ``Settings.still_check_s`` (one check waits at a time; nothing when the
    city has the alarm off, ``[dispatch] still_min = 0``). ``True`` when one was queued."""
    if settings.rules.dispatch.still_min <= 0:
        return False
    return jobs.defer_timer(settings, "still_check", settings.still_check_s, {}, once=True)


@jobs.timer("still_check")
def check_still(engine: Engine, settings: Settings, params: dict[str, Any]) -> None:
    """Every volunteer on patrol (a live device, a patrol track) whose positions have kept
    within the stay radius (``[inspection] radius_m``) for ``[dispatch] still_min`` minutes
    raises an alarm for the command, as an SOS is shown (it calls nobody); an open one
    whose volunteer has moved away since is cleared. One set-based statement each, one
    check at a time; audit-logged."""
    dispatch = settings.rules.dispatch
    if dispatch.still_min <= 0:
        return
    radius = settings.rules.radius_m
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        if not live_store.lock_still(conn):
            return  # another check runs now: it sees these positions
        srid = metric_srid(conn)
        if srid is None:
            return
        cleared = live_store.clear_still(conn, radius_m=radius)
        raised = live_store.raise_still(
            conn, still_s=dispatch.still_min * 60, radius_m=radius,
            fresh=now - dt.timedelta(minutes=dispatch.fresh_min), srid=int(srid))
        for row in cleared:
            audit(conn, "system", "still_clear", f"callout {row['id']}",
                  details={"volunteer": row["volunteer_id"], "reason": "moved"})
        for row in raised:
            audit(conn, "system", "still", f"callout {row['id']}",
                  details={"volunteer": row["volunteer_id"], "minutes": dispatch.still_min})
        for kind, rows in (("still_cleared", cleared), ("still_raised", raised)):
            for community in {r["community_id"] for r in rows}:
                mine = [r for r in rows if r["community_id"] == community]
                notify.publish(conn, {"kind": kind, "ids": [r["id"] for r in mine],
                                      "community": community,
                                      "volunteers": [r["volunteer_id"] for r in mine]})


def my_still(db: Database, principal: Principal) -> dict | None:
    """The volunteer's own open "no movement" alarm (id, created_at), if any."""
    if principal.volunteer_id is None:
        return None
    with db.connect() as conn:
        return live_store.open_still(conn, principal.volunteer_id)


def answer_still(db: Database, principal: Principal, callout_id: int) -> None:
    """The volunteer answers their own "no movement" alarm ("I am all right"): it clears
    (audit-logged; the command's pages are told)."""
    if principal.volunteer_id is None:
        raise NotFoundError(f"no alarm {callout_id} for this account")
    with db.begin() as conn:
        found = live_store.open_still(conn, principal.volunteer_id)
        if found is None or int(found["id"]) != callout_id:
            raise NotFoundError(f"no open alarm {callout_id} for this volunteer")
        if not live_store.close_callout(conn, callout_id, "resolved", principal.id):
            raise ConflictError(f"alarm {callout_id} is closed already")
        audit(conn, principal.username, "still_answer", f"callout {callout_id}")
        notify.publish(conn, {"kind": "still_cleared", "ids": [callout_id],
                              "community": live_store.callout_area(conn, callout_id),
                              "volunteers": [principal.volunteer_id]})


def my_sos(db: Database, settings: Settings, principal: Principal, *, lon: object,
           lat: object) -> int:
    """The SOS button of /me: where the phone is now (anywhere in the city, a community's or
    not), or, when the browser gave no usable position, the phone's last reported one."""
    if principal.volunteer_id is None:
        raise NoVolunteerError()
    plon = plat = None
    if lon not in (None, "") and lat not in (None, ""):
        with db.connect() as conn:
            try:
                plon, plat, _ = entered_point(conn, lon, lat, "wgs84", None,
                                              in_community=False)
            except InputError:  # far outside the city: an alarm is never refused for it
                plon = plat = None
    return raise_sos(db, settings, principal.volunteer_id, lon=plon, lat=plat, source="app",
                     by=principal.username)


def callouts(db: Database, within: frozenset[int] | None, *, tz: str,
             callout_id: int | None = None) -> pd.DataFrame:
    """The recent call-outs of ``within`` communities (or only ``callout_id``'s, however
    old), times in ``tz``."""
    with db.connect() as conn:
        return local_times(live_store.callout_table(conn, within, callout_id=callout_id),
                           tz, "created_at")


def alarms(db: Database, within: frozenset[int] | None, *, tz: str) -> pd.DataFrame:
    """Open SOS alarms of ``within`` communities, oldest first, times in ``tz``."""
    with db.connect() as conn:
        return local_times(live_store.open_alarms(conn, within), tz, "created_at")


def _check_scope(conn: Connection, callout_id: int, principal: Principal) -> None:
    """404 for a call-out that is not there, 403/404 for one outside the user's scope."""
    try:
        area = live_store.callout_area(conn, callout_id)
    except LookupError:
        raise NotFoundError(f"no call-out {callout_id}") from None
    principal.check_area(area, "call-out")


def callout_sites(db: Database, callout_id: int, principal: Principal
                  ) -> tuple[dict, pd.DataFrame]:
    """A call-out's incident and its called volunteers' last positions, walks and ETAs
    (names as stored: the caller masks them), for a user whose scope holds it."""
    with db.connect() as conn:
        _check_scope(conn, callout_id, principal)
        incident, targets = live_store.callout_sites(conn, callout_id)
    # a call-out reaches the nearest volunteers whatever their community; where they are is
    # shown only to a user whose scope of tracks holds theirs (the others keep the way and
    # ETA they were called with)
    try:
        tracks = principal.within(Resource.TRACKS)
    except ForbiddenError:
        tracks = frozenset()
    if tracks is not None:
        unseen = ~targets["community_id"].isin(tracks)
        targets.loc[unseen, ["lon", "lat"]] = np.nan
        targets.loc[unseen, "seen_at"] = pd.NaT
    return incident, targets


def _ways_now(db: Database, settings: Settings, callout_id: int, lon: float, lat: float,
              seen: Mapping[int, Any]) -> dict[int, tuple[float, float, str]]:
    """The way of each volunteer of ``seen`` (volunteer id: the time of their last
    position) to a call-out's site from where they are now (``walk_m``, ``eta_s`` along the
    streets in their mode, and the mode), by volunteer id; someone further than the search
    goes, or with no position, is left out (their way when called still holds). The ways
    are worked out again only for a new position: the pages that show them, refreshed on
    every event, cost no search of the streets in between."""
    key = (callout_id, tuple(sorted((int(v), str(t)) for v, t in seen.items())))
    with _WAYS_LOCK:
        found = _WAYS.get(key)
    if found is not None:
        return found
    ways: dict[int, tuple[float, float, str]] = {}
    if seen:
        now = rank(db, settings, lon=lon, lat=lat, only=tuple(int(v) for v in seen))
        both = pd.concat([now.called, now.left_out])
        both = both[np.isfinite(both["walk_m"]) & np.isfinite(both["eta_s"])]
        ways = {int(v): (float(w), float(e), str(m)) for v, w, e, m in
                zip(both["volunteer_id"], both["walk_m"], both["eta_s"], both["mode"])}
    with _WAYS_LOCK:
        _WAYS[key] = ways
        while len(_WAYS) > _WAYS_KEPT:
            _WAYS.popitem(last=False)
    return ways


def _with_ways(frame: pd.DataFrame, ways: Mapping[int, tuple[float, float, str]],
               ids: Sequence[int]) -> pd.DataFrame:
    """``frame`` (a row per ``ids``) with ``walk_m``, ``eta_s`` and ``mode`` from ``ways``
    where known."""
    old = zip(frame["walk_m"], frame["eta_s"], frame["mode"])
    way = [ways.get(int(v), (w, e, m)) for v, (w, e, m) in zip(ids, old)]
    return frame.assign(walk_m=[w[0] for w in way], eta_s=[w[1] for w in way],
                        mode=[w[2] for w in way])


def _ways_of_located(db: Database, settings: Settings, callout_id: int, incident: dict,
                     sites: pd.DataFrame) -> dict[int, tuple[float, float, str]]:
    """The ways now of the volunteers a call-out tracks (:func:`live_store.callout_sites`:
    those with a position while it is open)."""
    located = sites[sites["lon"].notna()]
    return _ways_now(db, settings, callout_id, float(incident["lon"]), float(incident["lat"]),
                     dict(zip(located["volunteer_id"], located["seen_at"])))


def callout_progress(db: Database, settings: Settings, callout_id: int, principal: Principal
                     ) -> tuple[dict, pd.DataFrame]:
    """:func:`callout_sites` with each called volunteer's way and ETA from where they are
    now (``walk_m``, ``eta_s`` along the streets in their mode), as they move."""
    incident, targets = callout_sites(db, callout_id, principal)
    ways = _ways_of_located(db, settings, callout_id, incident, targets)
    return incident, _with_ways(targets, ways, list(targets["volunteer_id"]))


def callout_detail(db: Database, settings: Settings, callout_id: int, principal: Principal
                   ) -> pd.DataFrame:
    """Who a call-out called and where they stand (an arrival their own positions show, or
    only their word: ``seen_there``), with the way and ETA of each from where they are now
    while it is open (as :func:`callout_progress`)."""
    incident, sites = callout_sites(db, callout_id, principal)
    with db.connect() as conn:
        targets = live_store.callout_targets(conn, callout_id, settings.callout_arrival_m)
    ways = _ways_of_located(db, settings, callout_id, incident, sites)
    return _with_ways(targets, ways, list(targets["volunteer_id"]))


def left_out(db: Database, callout_id: int, principal: Principal) -> pd.DataFrame:
    """Who near the call-out was not called, and why."""
    with db.connect() as conn:
        _check_scope(conn, callout_id, principal)
        return live_store.callout_left_out(conn, callout_id)


def my_callouts(db: Database, volunteer_id: int, *, tz: str,
                settings: Settings | None = None) -> pd.DataFrame:
    """A volunteer's call-outs of the last day that reached them, open first, times in
    ``tz``. With ``settings``, the open ones they have yet to reach carry their way and ETA
    from where they are now (as the command's board shows them), not from where the call
    found them."""
    with db.connect() as conn:
        mine = local_times(live_store.volunteer_callouts(conn, volunteer_id), tz,
                           "created_at", "closed_at")
    if settings is None:
        return mine
    going = mine["closed_at"].isna() & mine["status"].isin(["sent", "accepted", "on_way"])
    for i in mine.index[going]:
        row = mine.loc[[i]]
        ways = _ways_now(db, settings, int(row["id"].iloc[0]), float(row["lon"].iloc[0]),
                         float(row["lat"].iloc[0]), {volunteer_id: row["seen_at"].iloc[0]})
        mine.loc[[i], ["walk_m", "eta_s", "mode"]] = _with_ways(
            row, ways, [volunteer_id])[["walk_m", "eta_s", "mode"]]
    return mine


#: A call-out or SOS that ended is told on the phone of those it had called (and of its
#: raiser) for this many minutes.
ENDED_SHOWN_MIN = 30.0


def my_ended_sos(db: Database, volunteer_id: int, *, tz: str) -> Any:
    """The volunteer's own SOS closed in the last :data:`ENDED_SHOWN_MIN` minutes (how, by
    whom, when in ``tz``), or ``None``."""
    with db.connect() as conn:
        found = local_times(live_store.ended_sos(conn, volunteer_id, ENDED_SHOWN_MIN), tz,
                            "closed_at")
    return next(found.itertuples(), None)


def my_open_sos(db: Database, volunteer_id: int, *, tz: str) -> Any:
    """The open SOS a volunteer raised, as they follow it (:func:`~geo_patrol.store.live.
    own_sos`), time in ``tz``; ``None`` when there is none."""
    with db.connect() as conn:
        found = local_times(live_store.own_sos(conn, volunteer_id), tz, "created_at",
                            "acknowledged_at")
    return next(found.itertuples(), None)


ANSWERS = {"accept": "accepted", "decline": "declined", "on_way": "on_way",
           "arrived": "arrived"}


def answer(db: Database, principal: Principal, callout_id: int, choice: str | bool, *,
           settings: Settings | None = None) -> None:
    """A volunteer answers their own call-out: accept, decline, on my way, arrived (the
    first to accept leads). With ``settings``, a decline that leaves everyone called so far
    declining calls the next ring now, not when the ring's time is up."""
    if isinstance(choice, bool):
        choice = "accept" if choice else "decline"
    if choice not in ANSWERS:
        raise InputError(f"answer is one of {', '.join(ANSWERS)}",
                         shown=N_("Answer with one of the page's buttons."))
    if principal.volunteer_id is None:
        raise NotFoundError(f"no call-out {callout_id}")
    with db.begin() as conn:
        if not live_store.answer_callout(conn, callout_id, principal.volunteer_id,
                                         ANSWERS[choice]):
            raise CalloutEndedError(f"no open call-out {callout_id} for this volunteer")
        notify.answered(conn, kind="sos" if live_store.callout_incident(
            conn, callout_id)["kind"] == "sos" else "callout", ref=_message_ref(callout_id),
            volunteer_id=principal.volunteer_id)
        audit(conn, principal.username, "callout_answer", f"callout {callout_id}",
              details={"answer": ANSWERS[choice]})
        _announce(conn, callout_id, [], f"answer_{ANSWERS[choice]}")
        ring = live_store.lock_callout(conn, callout_id)["ring"] \
            if choice == "decline" and live_store.all_declined(conn, callout_id) else None
    if ring is not None and settings is not None:  # the timer's own step, now
        _defer(settings, "callout_ring", 0, callout_id=callout_id, ring=ring)


def acknowledge(db: Database, principal: Principal, callout_id: int) -> None:
    """An officer takes an alarm: they own it from now on (one owner: a second is refused
    with the first's name)."""
    with db.begin() as conn:
        _check_scope(conn, callout_id, principal)
        owner = live_store.acknowledge_callout(conn, callout_id, principal.id)
        if owner:
            raise ConflictError(N_("%(who)s has acknowledged this alarm already."),
                                values={"who": owner})
        if owner is not None:
            raise ConflictError(N_("This call-out is closed already."), values={})
        kind = live_store.callout_incident(conn, callout_id)["kind"]
        audit(conn, principal.username, "still_acknowledge" if kind == "still"
              else "sos_acknowledge", f"callout {callout_id}")
        _announce(conn, callout_id, [], "sos_acknowledged")


def close(db: Database, principal: Principal, callout_id: int, outcome: str) -> None:
    """Close a call-out with an outcome (``cancelled`` cancels it); the volunteers called
    are told."""
    if outcome not in COMMAND_OUTCOMES:
        raise InputError(f"outcome is one of {', '.join(COMMAND_OUTCOMES)}", field="outcome",
                         shown=N_("Choose the outcome from the list."))
    with db.begin() as conn:
        _check_scope(conn, callout_id, principal)
        if not live_store.close_callout(conn, callout_id, outcome, principal.id):
            raise ConflictError(N_("This call-out is closed already."), values={})
        audit(conn, principal.username, "callout_close", f"callout {callout_id}",
              details={"outcome": outcome})
        _announce(conn, callout_id, live_store.called_targets(conn, callout_id),
                  "callout_cancelled" if outcome == "cancelled" else "callout_closed")


def withdraw_sos(db: Database, principal: Principal, callout_id: int) -> None:
    """"I am safe": a volunteer withdraws their own open SOS. It is closed as withdrawn
    (gone from every /live, kept on the board), the volunteers it called are told, and so
    are the chats it was escalated to; audit-logged."""
    if principal.volunteer_id is None:
        raise NoVolunteerError()
    with db.begin() as conn:
        row = live_store.lock_callout(conn, callout_id)
        if row is None or live_store.open_sos(conn, principal.volunteer_id) != callout_id \
                or not live_store.close_callout(conn, callout_id, "withdrawn", principal.id):
            raise CalloutEndedError(f"no open SOS {callout_id} of this volunteer")
        audit(conn, principal.username, "sos_withdraw", f"callout {callout_id}")
        _announce(conn, callout_id, live_store.called_targets(conn, callout_id),
                  "sos_withdrawn", groups=row["escalated_at"] is not None)
