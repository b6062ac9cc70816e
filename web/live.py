"""The live loop on the web: position intake (``/osmand``, the OsmAnd / Traccar Client
protocol), the force now (``/live``, ``/api/live``), devices and call-outs.

One position intake (:func:`geo_patrol.services.intake.start_intake`: a writer and a coverage
worker per city) runs per process, started on first use (or handed in by ``geo-patrol serve``).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from geo_patrol import clock
from geo_patrol.access import Resource
from geo_patrol.analysis.places import Place, place_text
from geo_patrol.errors import N_, DatabaseError, InputError, NotFoundError
from geo_patrol.ingest.positions import (
    ACK_TIMEOUT_S,
    MAX_BODY_BYTES,
    NOT_STORED,
    STORED,
    TOO_LARGE,
    PositionRefused,
    answer_headers,
    answer_refusal,
)
from geo_patrol.privacy import mask_name
from geo_patrol.render.maps import callout_tip, map_html
from geo_patrol.render.rota import navigate_urls, site_map
from geo_patrol.services import callouts, devices, live_coverage
from geo_patrol.services import maps as map_service
from geo_patrol.services.live import force_now
from geo_patrol.services.intake import Intake, Intakes, start_intake
from geo_patrol.services.accounts import audit
from geo_patrol.vocab import CERT_SKILLS
from web.auth import principal, requires
from web.db import cities, get_conn, get_db, get_engine, settings
from web.forms import refills, refuse
from web.params import int_arg, lang

bp = Blueprint("live", __name__)
_START = threading.Lock()


def intake() -> Intake | Intakes:
    """This process's position intake, one per city (and each city's coverage worker),
    started on first use unless ``geo-patrol serve`` handed one in."""
    ext = current_app.extensions
    if "geo_patrol_intake" not in ext:
        with _START:
            if "geo_patrol_intake" not in ext:
                base = current_app.config["GEO_PATROL_SETTINGS"]
                ext["geo_patrol_intake"] = current_app.config.get("GEO_PATROL_INTAKE") or \
                    start_intake({c.key: (get_engine(key=c.key), c.settings(base))
                                  for c in cities()})
    return ext["geo_patrol_intake"]


def answer_positions(submit: Any, query: bytes, body: bytes, address: str | None
                     ) -> tuple[int, str]:
    """Status and text for one position request, once its batch has committed."""
    try:
        future = submit(query, body, address=address)
    except (PositionRefused, DatabaseError) as exc:
        return answer_refusal(exc)
    try:
        future.result(ACK_TIMEOUT_S)
    except (DatabaseError, FutureTimeout):
        return NOT_STORED
    return STORED


@bp.route("/osmand", methods=["GET", "POST"])
def osmand() -> Any:
    """OsmAnd / Traccar Client positions (query, form or JSON body), answered when stored."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return Response(TOO_LARGE[1], TOO_LARGE[0], mimetype="text/plain")
    body = request.get_data(cache=False)
    status, text = answer_positions(intake().submit, request.query_string, body,
                                    request.remote_addr)
    return Response(text, status, mimetype="text/plain", headers=answer_headers(status))


# -- the force now ----------------------------------------------------------------------------

@bp.get("/live")
@requires(Resource.TRACKS)
def live_page() -> Any:
    me = principal()
    me.within(Resource.TRACKS)  # not for own-only or aggregate-only roles
    intake()  # the coverage updater runs wherever the live map is watched
    cfg = settings()
    shown = int_arg("callout")
    return render_template("live.html", run=None, lang=lang(), shown=shown,
                           offline_min=cfg.live_offline_min,
                           can_call=me.grant(Resource.CALLOUTS, "write") is not None,
                           skills=CERT_SKILLS, ring_size=cfg.rules.dispatch.ring_size,
                           **_dispatch_parts(shown))


@bp.get("/live/dispatch")
@requires(Resource.TRACKS)
def live_dispatch() -> Any:
    """The SOS alarms, the call-outs and the one shown: the part of /live refreshed on an
    event and every few seconds."""
    principal().within(Resource.TRACKS)
    shown = int_arg("callout")
    return render_template("_dispatch.html", lang=lang(), shown=shown,
                           can_call=principal().grant(Resource.CALLOUTS, "write") is not None,
                           **_dispatch_parts(shown))


def _dispatch_parts(shown: int | None) -> dict[str, Any]:
    me = principal()
    cfg = settings()
    if me.grant(Resource.CALLOUTS) is None:
        return {"board": None, "alarms": None, "targets": None, "left_out": None,
                "shown_row": None}
    board = callouts.callouts(get_db(), me.community_ids, tz=cfg.timezone)
    alarms = callouts.alarms(get_db(), me.community_ids, tz=cfg.timezone)
    people = me.grant(Resource.PEOPLE) is not None
    alarms = alarms.assign(name=[mask_name(n) if people else "" for n in alarms["name"]])
    targets = left = row = None
    if shown:
        targets = callouts.callout_detail(get_db(), settings(), shown, me)
        targets = targets.assign(name=[mask_name(n) for n in targets["name"]])
        left = callouts.left_out(get_db(), shown, me)
        left = left.assign(name=[mask_name(n) for n in left["name"]])
        found = board[board["id"] == shown]
        if not len(found):  # older than the board's recent ones: read on its own
            found = callouts.callouts(get_db(), me.community_ids, tz=cfg.timezone,
                                      callout_id=shown)
        row = found.iloc[0] if len(found) else None
    reached = None if row is None or pd.isna(row["escalated_at"]) else \
        callouts.escalation_reached(get_db(), shown, row["kind"])
    return {"board": board, "alarms": alarms, "targets": targets, "left_out": left,
            "shown_row": row, "still_min": cfg.rules.dispatch.still_min,
            "escalation_reached": reached}


@bp.get("/maps/live")
@requires(Resource.TRACKS)
def live_map() -> Any:
    me = principal()
    me.within(Resource.TRACKS)
    shown = int_arg("callout")
    sites = callouts.callout_progress(get_db(), settings(), shown, me) \
        if shown and me.grant(Resource.CALLOUTS) is not None else None
    feed = url_for("live.live_feed", callout=shown) if sites else url_for("live.live_feed")
    return Response(map_service.live_map(get_conn(), lang=lang(), basemap=settings().basemap,
                                         within=me.community_ids, callout=sites, feed=feed),
                    mimetype="text/html")


@bp.get("/api/live")
@requires(Resource.TRACKS)
def live_feed() -> Any:
    """The force now: volunteers (masked), trails, state counts and today's coverage."""
    me = principal()
    within = me.within(Resource.TRACKS)
    cfg = settings()
    force = force_now(get_db(), cfg, within=within)
    coverage, segments = live_coverage.coverage_today(get_db(), cfg, within=within)
    people = force.volunteers
    shown = int_arg("callout")
    moving = None
    if shown and me.grant(Resource.CALLOUTS) is not None:
        incident, called = callouts.callout_progress(get_db(), cfg, shown, me)
        moving = {"id": shown, "site": [round(float(incident["lat"]), 6),
                                        round(float(incident["lon"]), 6)],
                  "people": [{"number": r.number, "lat": None if r.lat != r.lat else r.lat,
                              "lon": None if r.lon != r.lon else r.lon,
                              "tip": callout_tip(r, lang())}
                             for r in called.itertuples()]}
    trails: dict[str, list[list[float]]] = {}
    for vid, part in force.trails.groupby("volunteer_id"):
        trails[str(int(vid))] = [[round(a, 6), round(b, 6)]
                                 for a, b in zip(part["lat"], part["lon"])]
    return jsonify(
        at=force.at.isoformat(), at_text=clock.local_text(force.at, cfg.timezone, "second"),
        counts=force.counts,
        volunteers=[{"id": int(r.volunteer_id), "number": r.number, "name": mask_name(r.name),
                     "community": r.community, "state": r.state, "lat": round(float(r.lat), 6),
                     "lon": round(float(r.lon), 6), "t": r.t.isoformat(),
                     "battery": None if r.battery_pct != r.battery_pct else r.battery_pct}
                    for r in people.itertuples()],
        trails=trails, callout=moving,
        coverage=[{"area_id": int(r.area_id), "name": r.name, "total_m": round(r.total_m, 1),
                   "covered_m": round(r.covered_m, 1),
                   "pct": round(100 * r.covered_m / r.total_m, 1) if r.total_m else None}
                  for r in coverage.itertuples()],
        segments={"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": json.loads(r.geometry),
             "properties": {"share": round(float(r.share), 3)}}
            for r in segments.itertuples()]})


# -- devices ----------------------------------------------------------------------------------

@bp.route("/devices", methods=["GET", "POST"])
@requires(Resource.DEVICES)
def devices_page() -> Any:
    """The devices; a device registered with the form (a refusal beside its field, what was
    typed kept, nothing stored)."""
    me = principal()
    within = me.within(Resource.DEVICES)
    created = None
    status = 200
    if request.method == "POST":
        writes = me.within(Resource.DEVICES, "write")
        device = (request.form.get("device_id") or "").strip()
        # picked from the list, or a roster number typed as it is printed
        number = (request.form.get("number") or request.form.get("number_q") or "").strip()
        # a secret by default; a weak device only when asked for, deliberately
        secret = None if request.form.get("weak") else devices.new_secret()
        try:
            devices.add_device(get_db(), device, number, secret=secret, within=writes,
                               rebind=bool(request.form.get("rebind")))
        except InputError as exc:
            refuse(exc)
            status = 400
        else:
            with get_db().begin() as conn:
                audit(conn, me.username, "device_add", device,
                      details={"volunteer": number, "secret": secret is not None})
            created = _setup(device, number, secret)
    return _devices_page(within, created=created), status


def _devices_page(within: frozenset[int] | None, *, created: dict[str, Any] | None) -> str:
    """The devices and refusals of the user's communities (an officer's: their own)."""
    table = devices.devices(get_db(), within, tz=settings().timezone)
    table = table.assign(name=[mask_name(n) for n in table["name"]])
    return render_template("devices.html", run=None, lang=lang(), devices=table,
                           refusals=devices.refusals(get_db(), settings(), within=within),
                           created=created)


def _setup(device: str, number: str | None, secret: str | None) -> dict[str, Any]:
    """What a phone is set up with, shown once: the server address (on a host the deployment
    trusts: Flask refuses any other ``Host``) and, to scan into Traccar Client or OsmAnd,
    the same as a QR code."""
    query = urlencode({"id": device, **({"key": secret} if secret else {})})
    url = f"{request.host_url.rstrip('/')}/osmand?{query}"
    return {"device": device, "number": number, "secret": secret, "url": url,
            "qr": segno.make(url, error="m").svg_inline(scale=4, dark="#111")}


@bp.post("/devices/<path:device_id>/rotate")
@requires(Resource.DEVICES, "write")
def rotate_device(device_id: str) -> Any:
    """A new secret for a device (the old one is refused from now on), shown once."""
    me = principal()
    secret = devices.rotate_secret(get_db(), device_id,
                                   within=me.within(Resource.DEVICES, "write"))
    with get_db().begin() as conn:
        audit(conn, me.username, "device_rotate", device_id)
    return _devices_page(me.within(Resource.DEVICES), created=_setup(device_id, None, secret))


@bp.post("/devices/<path:device_id>/remove")
@requires(Resource.DEVICES, "write")
def remove_device(device_id: str) -> Any:
    devices.remove_device(get_db(), device_id,
                          within=principal().within(Resource.DEVICES, "write"))
    with get_db().begin() as conn:
        audit(conn, principal().username, "device_remove", device_id)
    return redirect(url_for("live.devices_page"), 303)


# -- call-outs --------------------------------------------------------------------------------

@bp.post("/live/callout")
@requires(Resource.CALLOUTS, "write")
@refills(live_page)
def call_out() -> Any:
    me = principal()
    callout_id = callouts.call_out(get_db(), settings(), me, lon=request.form.get("lon"),
                               lat=request.form.get("lat"),
                               category=request.form.get("category") or "",
                               note=request.form.get("note"),
                               count=_count(request.form.get("count"), settings()),
                               skill=request.form.get("skill") or None,
                               require_skill=request.form.get("skill_rule") != "prefer")
    # opened at the call-out's result (on a phone it is screens below the form)
    return redirect(url_for("live.live_page", callout=callout_id) + "#callout-result", 303)


@bp.post("/api/callouts")
@requires(Resource.CALLOUTS, "write")
def api_call_out() -> Any:
    body = request.get_json(silent=True) or {}
    me = principal()
    callout_id = callouts.call_out(get_db(), settings(), me, lon=body.get("lon"),
                               lat=body.get("lat"), category=str(body.get("category") or ""),
                               note=body.get("note"), count=_count(body.get("count"), settings()),
                               skill=body.get("skill") or None,
                               require_skill=body.get("skill_required", True) is not False)
    targets = callouts.callout_detail(get_db(), settings(), callout_id, me)
    people = me.grant(Resource.PEOPLE) is not None
    return jsonify(id=callout_id, targets=[
        {"number": r.number, "name": mask_name(r.name) if people else None, "rank": r.rank,
         "walk_m": round(r.walk_m, 1), "eta_s": round(r.eta_s), "status": r.status}
        for r in targets.itertuples()]), 201


@bp.post("/live/callouts/<int:callout_id>/close")
@requires(Resource.CALLOUTS, "write")
def close_callout(callout_id: int) -> Any:
    """Cancel a call-out (its own button), or close it with the outcome chosen."""
    outcome = "cancelled" if request.form.get("cancel") else request.form.get("outcome") or ""
    callouts.close(get_db(), principal(), callout_id, outcome)
    return redirect(url_for("live.live_page", callout=callout_id) + "#callout-result", 303)


@bp.post("/live/callouts/<int:callout_id>/acknowledge")
@requires(Resource.CALLOUTS, "write")
def acknowledge_alarm(callout_id: int) -> Any:
    """An officer takes an SOS: theirs from now on."""
    callouts.acknowledge(get_db(), principal(), callout_id)
    return redirect(url_for("live.live_page", callout=callout_id) + "#callout-result", 303)


@bp.post("/me/callouts/<int:callout_id>")
@requires(Resource.CALLOUTS, "answer")
def answer_callout(callout_id: int) -> Any:
    """Accept, decline, on my way, arrived."""
    callouts.answer(get_db(), principal(), callout_id, request.form.get("answer") or "",
                    settings=settings())
    return redirect(url_for("pages.me") + "#now", 303)


def _my_page() -> Any:
    """The volunteer's phone page (/me), which a refused SOS comes back to."""
    return current_app.view_functions["pages.me"]()


@bp.post("/me/sos")
@requires(Resource.CALLOUTS, "answer")
@refills(_my_page)
def sos() -> Any:
    """The SOS button: an alarm for the command and the nearest volunteers called (a
    refusal is said on /me, beside the button)."""
    callouts.my_sos(get_db(), settings(), principal(), lon=request.form.get("lon"),
                    lat=request.form.get("lat"))
    return redirect(url_for("pages.me") + "#now", 303)


@bp.post("/me/sos/<int:callout_id>/withdraw")
@requires(Resource.CALLOUTS, "answer")
def withdraw_sos(callout_id: int) -> Any:
    """"I am safe": the volunteer withdraws their own SOS."""
    callouts.withdraw_sos(get_db(), principal(), callout_id)
    return redirect(url_for("pages.me") + "#now", 303)


@bp.post("/me/still/<int:callout_id>")
@requires(Resource.CALLOUTS, "answer")
def answer_still(callout_id: int) -> Any:
    """"I am all right": the volunteer clears their own "no movement" alarm."""
    callouts.answer_still(get_db(), principal(), callout_id)
    return redirect(url_for("pages.me") + "#now", 303)


@bp.get("/me/now")
@requires(Resource.CALLOUTS, "answer")
def me_now() -> Any:
    """What needs the volunteer's answer now (refreshed on an event and every few
    seconds)."""
    return render_template("_now.html", lang=lang(), **now_parts())


def now_parts() -> dict[str, Any]:
    """A volunteer's call-outs: the open ones first, each named by place, with its site's
    navigation links."""
    me = principal()
    mine = callouts.my_callouts(get_db(), me.volunteer_id, tz=settings().timezone,
                                settings=settings()) \
        if me.volunteer_id is not None else None
    if mine is None:
        return {"now": None, "recent": None, "links": {}, "still": None, "my_sos": None,
                "ended": None, "my_sos_ended": None}
    links = {int(r.id): navigate_urls(float(r.lon), float(r.lat), _place(r, lang()))
             for r in mine.itertuples()}
    places = {int(r.id): _place(r, lang()) for r in mine.itertuples()}
    # a call-out declined stays on top while it is open: the volunteer may come after all;
    # one they arrived at too: the site, its note and the lead are what they need there
    open_ = mine[mine["closed_at"].isna() & mine["status"].isin(
        ["sent", "accepted", "on_way", "arrived", "declined"])]
    rest = mine.drop(open_.index)
    # ended lately while the volunteer was called and had not declined: told they need not
    # go on (the command closed or cancelled it, or its raiser is safe)
    lately = pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=callouts.ENDED_SHOWN_MIN)
    ended = rest[rest["closed_at"].notna() & (rest["closed_at"] > lately)
                 & rest["status"].isin(["sent", "accepted", "on_way", "arrived"])]
    # of one volunteer's SOS raised again and again, the last one's end is enough
    sos = ended["kind"] == "sos"
    ended = pd.concat([ended[~sos], ended[sos].sort_values("closed_at", ascending=False)
                       .drop_duplicates("raised_by_number")]).sort_values(
        "closed_at", ascending=False)
    still = callouts.my_still(get_db(), me)
    tz = settings().timezone
    my_sos = callouts.my_open_sos(get_db(), me.volunteer_id, tz=tz)
    return {"now": open_, "recent": rest, "links": links, "places": places, "still": still,
            "still_min": settings().rules.dispatch.still_min, "my_sos": my_sos,
            "ended": ended, "my_sos_ended": None if my_sos is not None
            else callouts.my_ended_sos(get_db(), me.volunteer_id, tz=tz)}


def _place(r: Any, lang_: str) -> str:
    street = r.street if isinstance(r.street, str) else None
    if street is None:
        return f"{r.lat:.5f}, {r.lon:.5f}"
    return place_text(Place(street, r.cross_a if isinstance(r.cross_a, str) else None,
                            r.cross_b if isinstance(r.cross_b, str) else None), lang_)


@bp.get("/maps/callout/<int:callout_id>")
@requires(Resource.CALLOUTS, "answer")
def callout_map(callout_id: int) -> Any:
    """A call-out's site on a small map for the volunteer called, with navigation links."""
    me = principal()
    mine = callouts.my_callouts(get_db(), me.volunteer_id, tz=settings().timezone) \
        if me.volunteer_id is not None else None
    if mine is None or callout_id not in set(mine["id"]):
        raise NotFoundError(f"no call-out {callout_id} for this volunteer")
    r = next(mine[mine["id"] == callout_id].itertuples())
    m = site_map(float(r.lon), float(r.lat), _place(r, lang()), lang(),
                 basemap=settings().basemap)
    return Response(map_html(m, lang=lang()), mimetype="text/html")


def _count(raw: str | None, cfg: Any) -> int:
    try:
        return int(raw or cfg.rules.dispatch.ring_size)
    except ValueError:
        raise InputError(f"count must be a whole number, not {str(raw)[:40]!r}", field="count",
                         shown=N_("Call between 1 and 50 volunteers.")) from None
