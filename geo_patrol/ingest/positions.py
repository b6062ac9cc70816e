"""Live positions as the phone apps send them: the OsmAnd / Traccar Client HTTP protocol.

Two request shapes decode to :class:`Position` records:

* **query or form fields** (OsmAnd, Traccar Client before 9, many trackers): ``id`` or
  ``deviceid``; ``lat`` + ``lon`` or ``location=lat,lon``; ``timestamp`` as epoch seconds,
  epoch milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss`` (UTC); ``speed`` in knots;
  ``bearing``/``heading``, ``altitude``, ``accuracy``, ``hdop``, ``batt``; any other key is
  kept as an attribute;
* **the JSON body of Traccar Client 9+**: ``{"device_id": ..., "location": {"timestamp",
  "coords": {latitude, longitude, accuracy, speed (m/s), heading, altitude}, "battery":
  {"level", "is_charging"}, "is_moving", ...}}`` (``location`` may also be a list).

The shape is told by the body (JSON starts with ``{`` or ``[``), not the Content-Type, which
apps set inconsistently. Everything here is pure: no clock but the ``now`` passed in, no
database. A malformed request raises :class:`PositionRefused` with a short ``reason`` the
intake counts. The protocol's answers (status and text) are here too, so the web app's
``/osmand`` and the position port answer alike.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np

from geo_patrol.errors import DatabaseError, InputError
from geo_patrol.ingest.fixes import clean_fixes
from geo_patrol.ingest.tables import encodable
from geo_patrol.vocab import FLAG_OUT_OF_ORDER

KNOT_MPS = 1852 / 3600
#: Request bodies above this many bytes are refused before decoding.
MAX_BODY_BYTES = 64 * 1024
#: Positions more than this far in the future are refused (phone clocks drift a little).
FUTURE_SLACK_S = 300.0
EARLIEST_S = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
#: The last time a calendar can name (the year 9999 ends): a later one is said in seconds.
LATEST_S = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()
#: Attributes kept per position, and the longest text kept for one.
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_CHARS = 200
_ID_CHARS = 64

#: Refusal reasons (counted per device and shown to the command).
REASONS = ("no_id", "no_position", "bad_number", "out_of_range", "bad_time", "future_time",
           "too_old", "too_large", "malformed", "unknown_device", "ambiguous_device", "wrong_secret",
           "outside_areas", "rate_limited")


class PositionRefused(InputError):
    """A position request that stores nothing; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str, *, device: str | None = None):
        assert reason in REASONS, reason
        self.reason = reason
        self.device = device
        super().__init__(message)


@dataclass(frozen=True)
class Position:
    """One decoded position (WGS-84; ``t`` in µs since the epoch, UTC; NaN when not sent)."""

    device: str
    t: int
    lat: float
    lon: float
    speed_mps: float = math.nan
    heading: float = math.nan
    altitude: float = math.nan
    accuracy_m: float = math.nan
    battery_pct: float = math.nan
    moving: bool | None = None
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)


_QUERY_KNOWN = {"id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing",
                "heading", "altitude", "accuracy", "hdop", "batt", "key"}


def _number(value: object, name: str, device: str | None) -> float:
    """A finite float, or NaN for an absent value; text that is not a number is refused."""
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise PositionRefused("bad_number", f"{name} {value!r} is not a number", device=device)
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # (an integer of 400 digits)
        raise PositionRefused("bad_number", f"{name} {str(value)[:40]!r} is not a number",
                              device=device) from None
    if not math.isfinite(out):
        raise PositionRefused("bad_number", f"{name} is {value!r}: not a finite number",
                              device=device)
    return out


def parse_timestamp(value: object, *, device: str | None = None) -> float:
    """Epoch seconds from epoch seconds or milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss``
    (a time without a zone is UTC, as the protocol sends it)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return number / 1000 if abs(number) > 1e11 else number
    if not math.isnan(number):
        raise PositionRefused("bad_time", f"timestamp {text[:40]!r} is not a time", device=device)
    try:
        when = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError:
        raise PositionRefused("bad_time", f"timestamp {text[:40]!r} is not a time",
                              device=device) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _device(value: object) -> str:
    device = str(value).strip() if value is not None else ""
    if not device:
        raise PositionRefused("no_id", "no device id: send id= (or deviceid=, device_id)")
    if len(device) > _ID_CHARS or not device.isprintable():
        raise PositionRefused("no_id", "the device id is not a short printable text")
    return device


def _checked(device: str, t_s: float, lat: float, lon: float, now: float, **rest: Any
             ) -> Position:
    if math.isnan(lat) or math.isnan(lon):
        raise PositionRefused("no_position", "no position: send lat and lon (or location)",
                              device=device)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PositionRefused("out_of_range", f"lat {lat}, lon {lon} is not a position on Earth",
                              device=device)
    if t_s < EARLIEST_S:
        raise PositionRefused("bad_time", "the time is before 2000: a GPS clock reset?",
                              device=device)
    if t_s > now + FUTURE_SLACK_S:
        when = f"{dt.datetime.fromtimestamp(t_s, dt.UTC):%Y-%m-%d %H:%M:%S}Z" \
            if t_s < LATEST_S else f"{t_s:.3g} s after 1970"
        raise PositionRefused("future_time", f"the time {when} is in the future",
                              device=device)
    return Position(device, round(t_s * 1e6), lat, lon, **rest)


#: One encoder for nested attributes (``json.dumps`` with an option builds one per call).
_ATTR_JSON = json.JSONEncoder(ensure_ascii=False)


def _storable(text: str) -> str:
    """``text`` as PostgreSQL can hold it: without NUL characters, and a lone UTF-16
    surrogate replaced."""
    return encodable(text).replace("\x00", "")


def _attrs(items: Mapping[str, Any]) -> dict[str, Any]:
    """A request's other fields as the position's attributes: at most
    :data:`MAX_ATTRIBUTES`, texts cut to :data:`MAX_ATTRIBUTE_CHARS` and made storable (a
    NUL character or a lone surrogate would fail the batch of positions it is stored with:
    it would be stored again in halves, at the others' cost)."""
    out: dict[str, Any] = {}
    for key, value in items.items():
        if len(out) >= MAX_ATTRIBUTES:
            break
        if isinstance(value, (dict, list)):
            value = _ATTR_JSON.encode(value)
        if isinstance(value, str):
            value = _storable(value[:MAX_ATTRIBUTE_CHARS])
        elif not isinstance(value, (int, float, bool)) and value is not None:
            value = _storable(str(value)[:MAX_ATTRIBUTE_CHARS])
        if isinstance(value, float) and not math.isfinite(value):
            continue
        out[_storable(str(key)[:40])] = value
    return out


def decode_fields(fields: Mapping[str, str], *, now: float) -> Position:
    """One position from OsmAnd query/form fields (the first value of each key)."""
    device = _device(fields.get("id") or fields.get("deviceid"))
    lat, lon = _number(fields.get("lat"), "lat", device), _number(fields.get("lon"), "lon", device)
    if "location" in fields and (math.isnan(lat) or math.isnan(lon)):
        parts = fields["location"].split(",")
        if len(parts) != 2:
            raise PositionRefused("no_position", "location must be lat,lon", device=device)
        lat, lon = (_number(p, "location", device) for p in parts)
    stamp = fields.get("timestamp")
    t_s = now if stamp in (None, "") else parse_timestamp(stamp, device=device)
    speed = _number(fields.get("speed"), "speed", device)
    heading = _number(fields.get("bearing") or fields.get("heading"), "bearing", device)
    battery = _number(fields.get("batt"), "batt", device)
    hdop = _number(fields.get("hdop"), "hdop", device)
    attrs = _attrs({k: v for k, v in fields.items() if k not in _QUERY_KNOWN})
    if not math.isnan(hdop):
        attrs["hdop"] = hdop
    return _checked(device, t_s, lat, lon, now,
                    speed_mps=speed * KNOT_MPS if not math.isnan(speed) else math.nan,
                    heading=heading, altitude=_number(fields.get("altitude"), "altitude", device),
                    accuracy_m=_number(fields.get("accuracy"), "accuracy", device),
                    battery_pct=battery, attrs=attrs)


def _json_location(device: str, loc: object, now: float) -> Position:
    if not isinstance(loc, dict):
        raise PositionRefused("no_position", "location must be an object", device=device)
    coords = loc.get("coords")
    if not isinstance(coords, dict):
        raise PositionRefused("no_position", "location.coords is missing", device=device)
    stamp = loc.get("timestamp")
    t_s = now if stamp in (None, "") else parse_timestamp(stamp, device=device)
    battery = loc.get("battery") if isinstance(loc.get("battery"), dict) else {}
    level = _number(battery.get("level"), "battery.level", device)
    moving = loc.get("is_moving")
    rest = {k: v for k, v in loc.items()
            if k not in ("coords", "timestamp", "battery", "is_moving")}
    if "is_charging" in battery:
        rest["charging"] = bool(battery["is_charging"])
    return _checked(device, t_s, _number(coords.get("latitude"), "latitude", device),
                    _number(coords.get("longitude"), "longitude", device), now,
                    speed_mps=_number(coords.get("speed"), "speed", device),
                    heading=_number(coords.get("heading"), "heading", device),
                    altitude=_number(coords.get("altitude"), "altitude", device),
                    accuracy_m=_number(coords.get("accuracy"), "accuracy", device),
                    battery_pct=level * 100 if 0 <= level <= 1 else level,
                    moving=moving if isinstance(moving, bool) else None,
                    attrs=_attrs(rest))


def decode_json(doc: object, *, now: float, device: str | None = None) -> list[Position]:
    """Positions from a Traccar Client 9+ JSON body (``device`` from the URL if it has none)."""
    if not isinstance(doc, dict):
        raise PositionRefused("malformed", "the JSON body must be an object")
    who = _device(doc.get("device_id") or device)
    loc = doc.get("location")
    locations = loc if isinstance(loc, list) else [loc]
    if not locations or loc is None:
        raise PositionRefused("no_position", "the JSON body has no location", device=who)
    if len(locations) > 1000:
        raise PositionRefused("too_large", "at most 1000 locations per request", device=who)
    return [_json_location(who, one, now) for one in locations]


def decode_request(query: str | bytes, body: bytes, *, now: float) -> tuple[list[Position],
                                                                             str | None]:
    """The positions of one request and the device secret it carries (``key``), if any.

    ``query`` is the raw query string, ``body`` the raw body (form fields or JSON).
    """
    if len(body) > MAX_BODY_BYTES:
        raise PositionRefused("too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    fields = _first_values(text)
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            doc = _BODY_JSON.decode(stripped.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise PositionRefused("malformed", "the body is not valid JSON") from None
        return decode_json(doc, now=now, device=fields.get("id") or fields.get("deviceid")), \
            fields.get("key")
    if stripped:
        try:
            form = _first_values(stripped.decode("utf-8"))
        except UnicodeDecodeError:
            raise PositionRefused("malformed", "the form body is not UTF-8") from None
        fields = {**form, **fields}
    return [decode_fields(fields, now=now)], fields.get("key")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


#: One decoder for every body (``json.loads`` with an option builds one per call).
_BODY_JSON = json.JSONDecoder(parse_constant=_no_constant)


#: A phone's request names a dozen fields; more than this is not a phone's.
MAX_FIELDS = 200


def _first_values(text: str) -> dict[str, str]:
    """The first value of each field of a query or form (as ``parse_qsl`` with blank values
    kept reads them, percent-decoding only the fields that need it)."""
    out: dict[str, str] = {}
    if not text:  # a JSON phone's query is empty
        return out
    if text.count("&") + 1 > MAX_FIELDS:  # more fields than any phone sends
        raise PositionRefused("malformed", f"more than {MAX_FIELDS} fields")
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key, value = unquote(key.replace("+", " ")), unquote(value.replace("+", " "))
        if key not in out:
            out[key] = value
    return out


# -- the protocol's answers ---------------------------------------------------------------------

#: Seconds a request waits for its batch to commit before the app is told to retry.
ACK_TIMEOUT_S = 15.0
#: Status and text of each answer (the phone apps read the status; the text is for people).
STORED = (200, "OK\n")
NOT_STORED = (503, "not stored yet: retry\n")
TOO_LARGE = (413, "too_large: the body is too large\n")
WRONG_METHOD = (405, "GET or POST\n")
_REFUSED_STATUS = {"too_large": 413, "wrong_secret": 403, "rate_limited": 429}
#: Seconds a phone refused for sending too fast is told to wait.
RETRY_AFTER_S = 1


def answer_headers(status: int) -> dict[str, str]:
    """Headers of an answer: a 429 says when to try again."""
    return {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else {}


def answer_refusal(exc: PositionRefused | DatabaseError) -> tuple[int, str]:
    """The answer to a request refused before it was queued (a database that is not reachable
    asks the app to retry)."""
    if isinstance(exc, DatabaseError):
        return 503, f"{exc}\n"
    return _REFUSED_STATUS.get(exc.reason, 400), f"{exc.reason}: {exc}\n"


# -- flags and tracks for positions as they arrive ----------------------------------------------

@dataclass
class Arrivals:
    """New positions of one batch after flagging, sorted by volunteer and time.

    ``track`` numbers the batch's tracks 0..n-1; ``continues[k]`` is the stored track id that
    batch track ``k`` continues (-1: a new track). ``step_m`` is the distance from the previous
    clean fix of the same track (0 for flagged fixes and a track's first clean fix).
    """

    order: np.ndarray  # index into the batch's input rows
    flags: np.ndarray
    track: np.ndarray
    continues: np.ndarray
    x: np.ndarray
    y: np.ndarray
    step_m: np.ndarray


def _rows_of(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Each wanted key's row in ``keys`` (each key at most once), -1 where it is not."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype="int64")
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
    return np.where(keys[order][at] == wanted, order[at], -1)


def _take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values`` at ``rows`` (floats), NaN where a row is -1."""
    out = np.full(len(rows), np.nan)
    found = rows >= 0
    out[found] = values[rows[found]]
    return out


#: Attribute names phone apps use to say a position came from a mock-location app.
MOCK_KEYS = ("mock", "is_mock", "isMock", "isFromMockProvider")


def alarm_of(attrs: Mapping[str, object] | None) -> str | None:
    """The alarm a position carries, lower case: ``alarm=sos`` in the OsmAnd query or form
    (kept as an attribute), or ``alarm`` in the JSON location's ``extras`` (Traccar Client
    9+ sends its SOS button's position with ``extras: {alarm: "sos"}``) or on the location
    itself."""
    if not attrs:
        return None
    value = attrs.get("alarm")
    extras = attrs.get("extras")
    if value is None and isinstance(extras, str) and extras.startswith("{"):
        try:
            extras = json.loads(extras)
        except ValueError:
            extras = None
    if value is None and isinstance(extras, dict):
        value = extras.get("alarm")
    return value.strip().lower() or None if isinstance(value, str) else None


def is_mock(attrs: Mapping[str, object] | None) -> bool:
    """Whether the phone said the position was mocked (``mock=true`` and the like)."""
    if not attrs:
        return False
    return any(str(attrs.get(k, "")).strip().lower() in ("true", "1", "yes") for k in MOCK_KEYS)


def flag_arrivals(volunteer_id: np.ndarray, t: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                  accuracy: np.ndarray, speed: np.ndarray, previous: Mapping[str, np.ndarray],
                  *, metric_crs: str, gap_s: float, max_speed_kmh: float,
                  max_accuracy_m: float) -> Arrivals:
    """Flag new positions as :func:`~geo_patrol.ingest.fixes.clean_fixes` flags a file, with
    each volunteer's last stored clean fix as context (``previous``: arrays volunteer_id
    (each once), t, clean_t, lon, lat, clean_track, NaN for none; see
    :func:`geo_patrol.store.live.open_batch`).

    A position older than the volunteer's last stored one is out of order.
    """
    n = len(t)
    # the context: the batch's volunteers' last clean fixes, by volunteer id
    row = _rows_of(previous["volunteer_id"], np.unique(volunteer_id))
    row = row[row >= 0]
    row = row[~np.isnan(previous["clean_t"][row])]
    k = len(row)
    all_vid = np.concatenate([previous["volunteer_id"][row].astype("int32"),
                              volunteer_id.astype("int32")])
    all_t = np.concatenate([previous["clean_t"][row].astype("int64"), t])
    all_lon = np.concatenate([previous["lon"][row], lon])
    all_lat = np.concatenate([previous["lat"][row], lat])
    all_acc = np.concatenate([np.full(k, np.nan), accuracy])
    all_speed = np.concatenate([np.full(k, np.nan), speed])
    order = np.lexsort((np.arange(n + k), all_t, all_vid))  # as clean_fixes sorts
    fixes = clean_fixes(all_vid, all_t, all_lon, all_lat, all_acc, all_speed,
                        metric_crs=metric_crs, gap_s=gap_s, max_speed_kmh=max_speed_kmh,
                        max_accuracy_m=max_accuracy_m)
    is_new = order >= k
    last_t = _take(previous["t"], _rows_of(previous["volunteer_id"], fixes.volunteer_id))
    flags = fixes.flags.copy()
    flags[is_new & (fixes.t < np.nan_to_num(last_t, nan=-np.inf))] |= FLAG_OUT_OF_ORDER
    # distances between consecutive clean fixes of one track (context included)
    clean = np.flatnonzero((flags == 0) | ~is_new)
    step = np.zeros(n + k)
    if len(clean) > 1:
        same = fixes.track[clean[1:]] == fixes.track[clean[:-1]]
        d = np.hypot(np.diff(fixes.x[clean]), np.diff(fixes.y[clean]))
        step[clean[1:][same]] = d[same]
    # batch tracks: renumber those holding new fixes; a context row's track continues
    tracks = np.unique(fixes.track[is_new])
    local = np.searchsorted(tracks, fixes.track)
    continues = np.full(len(tracks), -1, dtype="int64")
    if len(tracks):
        at = np.flatnonzero(~is_new)  # context rows: order[at] is their row of ctx
        j = np.minimum(np.searchsorted(tracks, fixes.track[at]), len(tracks) - 1)
        held = tracks[j] == fixes.track[at]
        continues[j[held]] = previous["clean_track"][row].astype("int64")[order[at][held]]
    sel = np.flatnonzero(is_new)
    return Arrivals(order[sel] - k, flags[sel], local[sel], continues, fixes.x[sel],
                    fixes.y[sel], np.where(flags[sel] == 0, step[sel], 0.0))
