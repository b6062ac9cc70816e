"""Messages to people on the web: the command's outbox (each message's state per person and
channel), the channels (apprise URLs per city, police station and volunteer), notices to
the volunteers around a place and who read them; on /me, a volunteer's quiet hours, their
browser's push subscription and the notices they read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    NoVolunteerError,
)
from geo_patrol.paging import page_frame
from geo_patrol.privacy import mask_name
from geo_patrol.render.i18n import in_language
from geo_patrol.services import notify as service
from web.auth import principal, requires
from web.clues import photos_sent
from web.db import get_db, settings
from web.forms import error_text, refills
from web.params import lang, paging_args

bp = Blueprint("notify", __name__)


def form_id(name: str) -> int:
    """A record's id posted in a form field (a missing or malformed one names no record)."""
    value = request.form.get(name, "")
    if not value.isdigit() or len(value) > 12:
        raise NotFoundError(f"no {name} {value[:20]!r}")
    return int(value)


@bp.get("/notify")
@requires(Resource.CALLOUTS, "write")
def outbox_page() -> Any:
    """Each message's state per person and channel (names masked), and the channels."""
    me = principal()
    paging = paging_args(sortable=service.OUTBOX_SORTS, filters=service.OUTBOX_FILTERS)
    table = service.outbox_page(get_db(), paging, me.within(Resource.CALLOUTS, "write"),
                                tz=settings().timezone)
    table.rows["name"] = table.rows["name"].map(mask_name)
    table.rows["title"] = table.rows["title"].map(lambda t: in_language(t, lang()))
    manage = me.grant(Resource.DEVICES, "write") is not None
    keeps = me.within(Resource.DEVICES, "write") if manage else frozenset()
    return render_template("notify.html", run=None, outbox=table,
                           channels=service.channels(get_db(), keeps) if manage else None,
                           stations=service.stations(get_db(), keeps) if manage else [],
                           city_channels=manage and keeps is None)


@bp.post("/notify/channels")
@requires(Resource.DEVICES, "write")
@refills(outbox_page)
def add_channel() -> Any:
    """Keep a channel; a refusal comes back on /notify with what was typed kept."""
    form = request.form
    service.add_channel(get_db(), settings(), scope=form.get("scope", ""),
                        url=form.get("url", ""), station=form.get("station"),
                        volunteer=form.get("volunteer"), label=form.get("label", ""),
                        by=principal().username,
                        within=principal().within(Resource.DEVICES, "write"))
    return redirect(url_for("notify.outbox_page"))


@bp.post("/notify/channels/remove")
@requires(Resource.DEVICES, "write")
def remove_channel() -> Any:
    service.remove_channel(get_db(), form_id("channel"), by=principal().username,
                           within=principal().within(Resource.DEVICES, "write"))
    return redirect(url_for("notify.outbox_page"))


@bp.get("/notices")
@requires(Resource.CALLOUTS, "write")
def notices_page() -> Any:
    me = principal()
    readers, reached, told = None, None, None
    shown = request.args.get("notice", type=int)
    if shown:
        readers = service.notice_readers(get_db(), me, shown, tz=settings().timezone)
        readers["name"] = readers["name"].map(mask_name)
        # how many it went to, and how many of them a channel tells now (the others see it
        # when they open the app)
        reached, told = len(readers), int(readers["by_channel"].sum())
        # paged on the server as every long table is (its own ``?readers_page=``), in the
        # store's order: who read it first, then who has not
        readers = page_frame(readers, paging_args(sortable=(), page_key="readers_page"),
                             sortable={}, order=["read_at", "number"])
    notices = service.notices(get_db(), me.within(Resource.CALLOUTS, "write"),
                              tz=settings().timezone)
    notices["title"] = notices["title"].map(lambda t: in_language(t, lang()))
    # the notice whose readers are listed, named above them
    chosen = next(notices[notices["id"] == shown].itertuples(), None) if shown else None
    return render_template("notices.html", run=None, notices=notices,
                           shown=shown, chosen=chosen, readers=readers,
                           sent=request.args.get("sent", type=int),
                           reached=reached, told=told,
                           kinds=service.NOTICE_KINDS,
                           reach=service.notice_reach(get_db(), me))


@bp.post("/notices")
@requires(Resource.CALLOUTS, "write")
@refills(notices_page)
def send_notice() -> Any:
    """A notice to the volunteers around a place picked on the map; a refused value shows
    beside its field, with what was typed kept."""
    form = request.form
    notice_id, _ = service.broadcast(
        get_db(), settings(), principal(), kind=form.get("kind", ""),
        title=form.get("title"), body=form.get("body"), place=form.get("place"),
        lon=form.get("lon"), lat=form.get("lat"), radius_m=form.get("radius_m", ""),
        photo=next(iter(photos_sent([request.files.get("photo")])), None))
    return redirect(url_for("notify.notices_page", sent=notice_id, notice=notice_id))


def _jpeg(data: bytes) -> Response:
    return Response(data, mimetype="image/jpeg", headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@bp.get("/notices/<int:notice_id>/<copy>.jpg")
@requires(Resource.CALLOUTS, "write")
def notice_photo(notice_id: int, copy: str) -> Any:
    """A notice's photo as shown (``shown`` or ``thumb``), without EXIF, for the command."""
    return _jpeg(service.notice_photo(get_db(), settings(), principal(), notice_id, copy))


@bp.get("/me/notices/<int:message_id>/<copy>.jpg")
@requires(Resource.CALLOUTS, "answer")
def my_notice_photo(message_id: int, copy: str) -> Any:
    """The photo of a notice the volunteer was sent."""
    return _jpeg(service.my_notice_photo(get_db(), settings(), principal(), message_id,
                                         copy))


@bp.post("/me/notices/read")
@requires(Resource.CALLOUTS, "answer")
def read_notice() -> Any:
    service.read_notice(get_db(), principal(), form_id("message"))
    return redirect(url_for("pages.me"))


@bp.post("/me/notify-rules")
@requires(Resource.CALLOUTS, "answer")
def my_rules() -> Any:
    me = principal()
    if me.volunteer_id is None:
        raise NoVolunteerError()
    service.set_rules(get_db(), me.volunteer_id,
                      on_duty_only=request.form.get("on_duty_only") == "1",
                      quiet_start=request.form.get("quiet_start") or None,
                      quiet_end=request.form.get("quiet_end") or None)
    return redirect(url_for("pages.me"))


@bp.get("/me/push-key")
@requires(Resource.CALLOUTS, "answer")
def push_key() -> Any:
    """The deployment's public VAPID key, for the browser to subscribe with."""
    if principal().volunteer_id is None:
        raise NoVolunteerError()
    return jsonify(key=service.vapid_keys(get_db())[1])


@bp.post("/me/push")
@requires(Resource.CALLOUTS, "answer")
def push_subscribe() -> Any:
    """Keep the browser's push subscription (JSON, as ``PushSubscription.toJSON()``); a
    refusal says why in the page's language (409: the subscription is another account's,
    the page asks the browser for a new one)."""
    try:
        service.subscribe(get_db(), settings(), principal(), request.get_json(silent=True) or {})
    except (InputError, ConflictError) as exc:
        return jsonify(error=type(exc).__name__, message=error_text(exc)), \
            409 if isinstance(exc, ConflictError) else 400
    return jsonify(ok=True), 201
