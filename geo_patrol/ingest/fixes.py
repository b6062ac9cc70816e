"""GPS fixes from GPX, GeoJSON and CSV exports, and their cleaning into tracks.

Reading gives a :class:`RawFixes` (coordinates still in the declared CRS, times in UTC);
:func:`clean_fixes` then flags speed jumps, poor accuracy, duplicates and out-of-order fixes
and splits each volunteer's fixes into tracks on gaps. All of it is vectorised (numpy/pandas):
a city-day is millions of fixes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyproj
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo_patrol.errors import N_, InputError
from geo_patrol.ingest._files import open_maybe_compressed
from geo_patrol.ingest._xml import screen_xml
from geo_patrol.ingest.points import to_float
from geo_patrol.ingest.problems import Problems
from geo_patrol.ingest.tables import decode_text, match_columns
from geo_patrol.vocab import (
    FLAG_DUPLICATE,
    FLAG_NAMES,
    FLAG_OUT_OF_ORDER,
    FLAG_POOR_ACCURACY,
    FLAG_SPEED_JUMP,
)

COLUMNS = {
    "volunteer": ("volunteer_number", "number", "user", "user_id", "编号", "义警编号", "队员编号"),
    "time": ("t", "timestamp", "datetime", "date_time", "时间", "定位时间"),
    "lon": ("lng", "longitude", "x", "经度"),
    "lat": ("latitude", "y", "纬度"),
    "accuracy": ("accuracy_m", "acc", "hacc", "精度"),
    "speed": ("speed_mps", "速度"),
}
EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
#: Fixes up to this far in the future are tolerated (phone clocks drift).
FUTURE_SLACK = pd.Timedelta(days=1)
_US = 1_000_000


@dataclass
class RawFixes:
    """Fixes as read: ``t`` in µs since the epoch (UTC), x/y in the declared CRS."""

    volunteer: pd.Categorical | None  # volunteer numbers, or None for a file from one phone
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    accuracy: np.ndarray
    speed: np.ndarray
    rows: np.ndarray  # the row / point number each fix is reported by in errors
    unit: str = "row"
    #: GPX track points without a time, which are not fixes and are left out (and reported).
    skipped_untimed: int = 0

    def __len__(self) -> int:
        return len(self.t)


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {tz!r} (e.g. Asia/Shanghai)", field="tz",
                         values={"value": tz[:40]},
                         shown=N_("“%(value)s” is not a time zone (e.g. Asia/Shanghai).")
                         ) from None


def parse_times(values: pd.Series, rows: np.ndarray, *, tz: str | None, source: str,
                unit: str = "row", problems: Problems | None = None,
                column: str = "time") -> np.ndarray:
    """Times as µs since the epoch (UTC).

    Accepts ISO 8601 text (with or without a zone designator) and epoch seconds or
    milliseconds. Naive times are refused unless ``tz`` says which zone they are in. With
    ``problems``, every bad time (missing, not a time, without a zone when none was given)
    is noted there (as ``column``, and left 0) instead of refusing the first."""
    if problems is None:
        return _parse_times(values, rows, tz=tz, source=source, unit=unit)
    zone = _zone(tz)  # an unknown zone is the whole file's fault, not a row's
    try:
        return _parse_times(values, rows, tz=tz, source=source, unit=unit)
    except InputError:
        pass
    s = pd.Series(values).reset_index(drop=True)
    out = np.zeros(len(s), dtype="int64")
    if pd.api.types.is_numeric_dtype(s):
        num = s.to_numpy(dtype="float64")
        missing = np.isnan(num)
        problems.flag(missing, rows, column, N_("The time is missing."))
        scale = 1000 if np.nanmax(np.abs(num), initial=0) > 1e11 else 1  # epoch ms or s
        out[~missing] = (num[~missing] * (_US / scale)).astype("int64")
        return out
    text = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                 else str(v).strip())
    empty = text.isin(["", "nan", "None", "NaT"]).to_numpy()
    aware = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy()
    parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us, UTC]")
    if aware.any():
        parsed[aware] = pd.to_datetime(text[aware], format="mixed", errors="coerce",
                                       utc=True).dt.as_unit("us")
    naive = ~aware & ~empty
    local = pd.to_datetime(text[naive], format="mixed", errors="coerce")
    if zone is not None and naive.any():
        parsed[naive] = local.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT"
                                             ).dt.tz_convert("UTC").dt.as_unit("us")
    problems.flag(empty, rows, column, N_("The time is missing."))
    unzoned = naive & local.reindex(s.index).notna().to_numpy() & (zone is None)
    problems.flag(unzoned, rows, column,
                  N_("“%(value)s” has no time zone, and none was given for the file's times."),
                  lambda i: {"value": text.iloc[i][:40]})
    problems.flag(~empty & ~unzoned & parsed.isna().to_numpy(), rows, column,
                  N_("“%(value)s” is not a date and time."),
                  lambda i: {"value": text.iloc[i][:40]})
    good = parsed.notna().to_numpy()
    out[good] = parsed[good].astype("int64").to_numpy()
    return out


def _parse_times(values: pd.Series, rows: np.ndarray, *, tz: str | None, source: str,
                 unit: str = "row") -> np.ndarray:
    zone = _zone(tz)
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(s):
        num = s.to_numpy(dtype="float64")
        if np.isnan(num).any():
            i = int(np.flatnonzero(np.isnan(num))[0])
            raise InputError("time is missing", source=source, location=f"{unit} {rows[i]}")
        scale = 1000 if np.nanmax(np.abs(num)) > 1e11 else 1  # epoch ms or s
        return (num * (_US / scale)).astype("int64")
    s = s.astype(str).str.strip().fillna("")  # (None stays NaN through astype)
    empty = (s == "") | (s == "nan") | (s == "None")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError("time is missing", source=source, location=f"{unit} {rows[i]}")
    aware = s.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy()
    if not aware.all() and zone is None:
        i = int(np.flatnonzero(~aware)[0])
        if pd.isna(pd.to_datetime(s.iloc[i], format="mixed", errors="coerce")):
            msg = f"time {s.iloc[i]!r} is not a date and time"
            raise InputError(msg, source=source, location=f"{unit} {rows[i]}")
        msg = (f"time {s.iloc[i]!r} has no time zone: pass --tz Asia/Shanghai if the times "
               "are local times")
        raise InputError(msg, source=source, location=f"{unit} {rows[i]}",
                         values={"raw": s.iloc[i][:40], "row": rows[i]},
                         shown=N_("Row %(row)s: the time “%(raw)s” has no time zone: choose "
                                  "the file's time zone under “More”."))
    out = np.empty(len(s), dtype="int64")
    for mask, localise in ((aware, False), (~aware, True)):
        if not mask.any():
            continue
        part = s[mask]
        try:
            parsed = pd.to_datetime(part, format="ISO8601", utc=not localise)
        except (ValueError, TypeError):
            try:
                parsed = pd.to_datetime(part, format="mixed", utc=not localise)
            except (ValueError, TypeError):
                bad = pd.to_datetime(part, format="mixed", errors="coerce", utc=True).isna()
                i = int(np.flatnonzero(mask)[int(np.flatnonzero(bad.to_numpy())[0])]) \
                    if bad.any() else int(np.flatnonzero(mask)[0])
                msg = f"time {s.iloc[i]!r} is not a date and time"
                raise InputError(msg, source=source, location=f"{unit} {rows[i]}") from None
        if localise:
            parsed = parsed.dt.tz_localize(zone, ambiguous="raise", nonexistent="raise")
            parsed = parsed.dt.tz_convert("UTC")
        out[mask] = parsed.dt.as_unit("us").astype("int64").to_numpy()
    return out


# -- readers ----------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _finish(problems: Problems, own: bool) -> None:
    """A reader's problems: refused here when the reader made them (else the caller, which
    adds its own, refuses the file naming them all)."""
    if own:
        problems.raise_if_any()


def read_gpx(path: Path, *, tz: str | None = None,
             problems: Problems | None = None) -> RawFixes:
    """Track points of every track and segment of a GPX 1.0/1.1 file (XML screened first).
    Every bad point (a position or time that is not one) is noted in ``problems`` (the file
    is refused naming them all)."""
    source = str(path)
    own = problems is None
    problems = Problems(source, "point") if problems is None else problems
    screen_xml(path)
    lon: list[float] = []
    lat: list[float] = []
    times: list[str] = []
    acc: list[float] = []
    spd: list[float] = []
    point: dict[str, str] = {}
    in_point = False
    try:
        with open_maybe_compressed(path) as fh:
            for event, el in iterparse(fh, events=("start", "end"), forbid_dtd=True):
                name = _local(el.tag)
                if event == "start":
                    if name == "trkpt":
                        point, in_point = {}, True
                    continue
                if name == "trkpt":
                    in_point = False
                    n = len(lat) + 1
                    lat.append(_attr_float(el, "lat", n, problems))
                    lon.append(_attr_float(el, "lon", n, problems))
                    times.append(point.get("time", ""))
                    acc.append(_text_float(point.get("accuracy"), "accuracy", n, problems))
                    spd.append(_text_float(point.get("speed"), "speed", n, problems))
                    el.clear()
                elif in_point and name in ("time", "speed", "accuracy", "hacc") and el.text:
                    point["accuracy" if name == "hacc" else name] = el.text.strip()
    except (DefusedXmlException, SyntaxError) as exc:  # ParseError is a SyntaxError
        raise InputError(f"malformed GPX: {exc}", source=source) from None
    except ValueError as exc:
        raise InputError(f"malformed GPX: {exc}", source=source) from None
    if not lon:
        raise InputError("no track points (trkpt) in the GPX file", source=source)
    rows = np.arange(1, len(lon) + 1)
    # points without <time> (a planned route, a logger without a clock) are not fixes:
    # they are counted and reported, and a file with none timed is refused
    timed = np.array([bool(t) for t in times])
    if not timed.any():
        raise InputError("no track point has a <time>: these are not GPS fixes", source=source)
    keep = np.flatnonzero(timed)
    t = parse_times(pd.Series([times[i] for i in keep]), rows[keep], tz=tz, source=source,
                    unit="point", problems=problems)
    check_times(t, rows[keep], source=source, unit="point", problems=problems, tz=tz)
    _finish(problems, own)
    raw = RawFixes(None, t, np.array(lon)[keep], np.array(lat)[keep], np.array(acc)[keep],
                   np.array(spd)[keep], rows[keep], "point")
    raw.skipped_untimed = int(len(rows) - len(keep))
    return raw


def _attr_float(el: object, name: str, n: int, problems: Problems) -> float:
    """A track point's ``lat`` or ``lon`` attribute (a bad one is noted: NaN)."""
    value = el.get(name)  # type: ignore[attr-defined]
    try:
        return float(value)
    except (TypeError, ValueError):
        column = "latitude" if name == "lat" else "longitude"
        if value is None:
            problems.add(n, column, N_("The %(column)s is missing."), {"column": column})
        else:
            problems.add(n, column, N_("“%(value)s” is not a number."),
                         {"value": str(value)[:40]})
        return float("nan")


def _text_float(text: str | None, column: str, n: int, problems: Problems) -> float:
    """A track point's optional number (``<speed>``, ``<hdop>``...; a bad one is noted)."""
    if not text:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        problems.add(n, column, N_("“%(value)s” is not a number."), {"value": text[:40]})
        return float("nan")


def read_geojson_fixes(path: Path, *, tz: str | None = None,
                       problems: Problems | None = None) -> RawFixes:
    """Points with a time property, or LineStrings with per-vertex times (``times`` /
    ``coordTimes`` / ``coordinateProperties.times``). Every bad feature (its geometry, a
    position or a time) is noted in ``problems`` (the file is refused naming them all)."""
    source = str(path)
    own = problems is None
    problems = Problems(source, "feature") if problems is None else problems
    with open_maybe_compressed(path) as fh:
        data = fh.read()
    try:
        doc = json.loads(decode_text(data, source))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed GeoJSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno}") from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise InputError("not a GeoJSON FeatureCollection", source=source)
    features = doc.get("features", []) if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list):
        raise InputError("not a GeoJSON FeatureCollection", source=source)
    vol: list[object] = []
    times: list[object] = []
    xs: list[object] = []
    ys: list[object] = []
    acc: list[object] = []
    spd: list[object] = []
    rows: list[int] = []
    for n, feat in enumerate(features, start=1):
        feat = feat if isinstance(feat, dict) else {}
        geom = feat.get("geometry") if isinstance(feat.get("geometry"), dict) else {}
        props = feat.get("properties") if isinstance(feat.get("properties"), dict) else {}
        who = next((props[k] for k in ("volunteer", *COLUMNS["volunteer"]) if k in props), None)
        kind, coords = geom.get("type"), geom.get("coordinates")
        if kind == "Point" and isinstance(coords, list) and len(coords) >= 2:
            when = next((props[k] for k in ("time", *COLUMNS["time"]) if k in props), None)
            pts, stamps = [coords], [when]
        elif kind in ("LineString", "MultiLineString") and isinstance(coords, list):
            pts = coords if kind == "LineString" else [
                p for part in coords if isinstance(part, list) for p in part]
            stamps = (props.get("times") or props.get("coordTimes")
                      or (props.get("coordinateProperties") or {}).get("times"))
            if isinstance(stamps, list) and stamps and isinstance(stamps[0], list):
                stamps = [s for part in stamps for s in part]
            if not isinstance(stamps, list) or len(stamps) != len(pts):
                problems.add(n, "time", N_("A line needs a “times” property with one time "
                                           "per vertex (%(n)s)."), {"n": len(pts)})
                continue
        else:
            problems.add(n, "position", N_("The geometry (%(kind)s) is not a point, or a "
                                           "line with its times."),
                         {"kind": str(kind or "-")[:30]})
            continue
        for p, when in zip(pts, stamps):
            if not isinstance(p, list) or len(p) < 2:
                problems.add(n, "position", N_("A coordinate is not a pair of numbers."), {})
                continue
            xs.append(p[0])
            ys.append(p[1])
            times.append(when)
            vol.append(who)
            acc.append(props.get("accuracy"))
            spd.append(props.get("speed"))
            rows.append(n)
    if not xs:
        problems.raise_if_any()  # every feature was bad: they are the reason
        raise InputError("no features", source=source)
    r = np.asarray(rows)
    tser = pd.Series(times, dtype=object)
    if all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
        tser = tser.astype("float64")
    t = parse_times(tser, r, tz=tz, source=source, unit="feature", problems=problems)
    check_times(t, r, source=source, unit="feature", problems=problems, tz=tz)
    x = to_float(xs, "longitude", r, source=source, unit="feature", problems=problems)
    y = to_float(ys, "latitude", r, source=source, unit="feature", problems=problems)
    accuracy = to_float(acc, "accuracy", r, source=source, unit="feature", required=False,
                        problems=problems)
    speed = to_float(spd, "speed", r, source=source, unit="feature", required=False,
                     problems=problems)
    _finish(problems, own)
    volunteers = None if all(v is None for v in vol) else pd.Categorical(
        ["" if v is None else str(v) for v in vol])
    return RawFixes(volunteers, t, x, y, accuracy, speed, r, "feature")


def read_csv_fixes(path: Path, *, tz: str | None = None, mapping: dict[str, str] | None = None,
                   encoding: str | None = None, problems: Problems | None = None) -> RawFixes:
    """An app's CSV export: volunteer, time, lon, lat[, accuracy, speed] (mappable). Every
    bad value is noted in ``problems`` (the file is refused naming them all)."""
    source = str(path)
    with open_maybe_compressed(path) as fh:
        head = fh.read(1 << 16)
    text = decode_text(head, source, encoding) if head else ""
    if not text.strip():
        raise InputError("file is empty", source=source)
    header = [h.strip() for h in next(csv.reader(io.StringIO(text.splitlines()[0])))]
    original = match_columns(header, COLUMNS, mapping=mapping, required=("time", "lon", "lat"),
                             source=source)
    enc = encoding or ("utf8" if _is_utf8(head) else "gb18030")
    types = {original["time"]: pa.string()}
    if "volunteer" in original:  # dictionary-encoded: numbers repeat millions of times
        types[original["volunteer"]] = pa.dictionary(pa.int32(), pa.string())
    try:
        with open_maybe_compressed(path) as fh:
            table = pacsv.read_csv(
                fh, read_options=pacsv.ReadOptions(encoding=enc),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(original.values()), column_types=types,
                    null_values=[""], strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(_arrow_message(exc), source=source,
                         location=_first_bad_row(path, enc)) from None
    n = table.num_rows
    if n == 0:
        raise InputError("no fixes in the file", source=source)
    rows = np.arange(2, n + 2)
    own = problems is None  # every bad value of the file is named at once
    problems = Problems(source) if problems is None else problems

    def column(canon: str, required: bool = True) -> np.ndarray:
        if canon not in original:
            return np.full(n, np.nan)
        col = table.column(original[canon])
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            if required and col.null_count:
                problems.flag(col.is_null().to_numpy(zero_copy_only=False), rows, canon,
                              N_("The %(column)s is missing."), lambda i: {"column": canon})
            return col.to_numpy(zero_copy_only=False).astype("float64")
        return to_float(col.to_pandas(), canon, rows, source=source, required=required,
                        problems=problems)

    x, y = column("lon"), column("lat")
    t = parse_times(table.column(original["time"]).to_pandas(), rows, tz=tz, source=source,
                    problems=problems)
    check_times(t, rows, source=source, unit="row", problems=problems, tz=tz)
    accuracy, speed = column("accuracy", False), column("speed", False)
    _finish(problems, own)
    volunteers = None
    if "volunteer" in original:
        volunteers = table.column(original["volunteer"]).to_pandas().array
    return RawFixes(volunteers, t, x, y, accuracy, speed, rows)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3  # a character cut by the end of the sample
    return True


def _first_bad_row(path: Path, encoding: str) -> str | None:
    """The first row whose field count differs from the header's (pyarrow does not say)."""
    with open_maybe_compressed(path) as fh:
        text = io.TextIOWrapper(fh, encoding="gb18030" if encoding != "utf8" else "utf-8-sig",
                                errors="replace", newline="")
        reader = csv.reader(text)
        width = len(next(reader, []))
        for n, row in enumerate(reader, start=2):
            if row and len(row) != width:
                return f"row {n}"
    return None


def _arrow_message(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return f"malformed CSV: {text.removeprefix('CSV parse error: ')}"


def fixes_unit(path: Path | str, fmt: str | None = None) -> str:
    """How a track file's fixes are numbered in its errors: ``point`` (GPX), ``feature``
    (GeoJSON) or ``row`` (CSV)."""
    kind = fmt or _kind(Path(path))
    return {"gpx": "point", "geojson": "feature"}.get(kind or "", "row")


def _kind(p: Path) -> str | None:
    name = p.name.lower().removesuffix(".gz").removesuffix(".bz2")
    return next((k for k, ends in (("gpx", (".gpx",)), ("geojson", (".geojson", ".json")),
                                   ("csv", (".csv", ".txt"))) if name.endswith(ends)), None)


def read_fixes(path: Path | str, *, fmt: str | None = None, tz: str | None = None,
               mapping: dict[str, str] | None = None, encoding: str | None = None,
               problems: Problems | None = None) -> RawFixes:
    """Read a GPX, GeoJSON or CSV track file (format from ``fmt`` or the file name). With
    ``problems``, every bad value is noted there and the caller refuses the file (after
    adding its own); without, the reader refuses it naming them all."""
    p = Path(path)
    kind = fmt or _kind(p)
    if kind == "gpx":
        return read_gpx(p, tz=tz, problems=problems)
    if kind == "geojson":
        return read_geojson_fixes(p, tz=tz, problems=problems)
    if kind == "csv":
        return read_csv_fixes(p, tz=tz, mapping=mapping, encoding=encoding, problems=problems)
    msg = "unknown track file type: expected .gpx, .geojson or .csv (or pass --format)"
    raise InputError(msg, source=str(p))


# -- cleaning ---------------------------------------------------------------------------------

@dataclass
class CleanFixes:
    """Fixes sorted by volunteer and time, with flags and a track number each."""

    volunteer_id: np.ndarray  # int32
    t: np.ndarray  # µs UTC
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray  # metric CRS
    y: np.ndarray
    accuracy: np.ndarray
    speed: np.ndarray
    flags: np.ndarray  # int16
    track: np.ndarray  # 0..n_tracks-1

    def __len__(self) -> int:
        return len(self.t)

    def flag_counts(self) -> dict[str, int]:
        return {name: int(((self.flags & bit) != 0).sum()) for bit, name in FLAG_NAMES.items()}


def check_times(t: np.ndarray, rows: np.ndarray, *, source: str, unit: str,
                now: dt.datetime | None = None, problems: Problems | None = None,
                column: str = "time", tz: str | None = None) -> None:
    """Refuse times before 2000 or more than a day in the future (with ``problems``, note
    each there, shown in ``tz`` (the file's zone) when given, else in UTC; rows already
    noted are skipped)."""
    now_us = int(pd.Timestamp(now or dt.datetime.now(dt.UTC)).value // 1000)
    if problems is not None:
        fresh = ~problems.bad(rows)
        zone = _zone(tz)

        def shown(i: int) -> dict[str, str]:
            at = pd.Timestamp(int(t[i]), unit="us", tz="UTC")
            return {"value": f"{at.tz_convert(zone):%Y-%m-%d %H:%M}" if zone
                    else f"{at:%Y-%m-%d %H:%M}Z"}

        problems.flag(fresh & (t < EARLIEST.value // 1000), rows, column,
                      N_("%(value)s is before 2000: a GPS reset?"), shown)
        problems.flag(fresh & (t > now_us + FUTURE_SLACK.value // 1000), rows, column,
                      N_("%(value)s is in the future."), shown)
        return
    early = t < EARLIEST.value // 1000
    if early.any():
        i = int(np.flatnonzero(early)[0])
        when = pd.Timestamp(int(t[i]), unit="us", tz="UTC")
        raise InputError(f"time {when:%Y-%m-%d %H:%M:%S}Z is before 2000: a GPS reset?",
                         source=source, location=f"{unit} {rows[i]}")
    late = t > now_us + FUTURE_SLACK.value // 1000
    if late.any():
        i = int(np.flatnonzero(late)[0])
        when = pd.Timestamp(int(t[i]), unit="us", tz="UTC")
        raise InputError(f"time {when:%Y-%m-%d %H:%M:%S}Z is in the future",
                         source=source, location=f"{unit} {rows[i]}")


_TRANSFORMERS = threading.local()


def _to_metric(metric_crs: str) -> pyproj.Transformer:
    """WGS 84 to ``metric_crs``, made once per thread (making one reads the PROJ database:
    the position intake asks for it with every batch; a Transformer is not shared between
    threads)."""
    cache = getattr(_TRANSFORMERS, "cache", None)
    if cache is None:
        cache = _TRANSFORMERS.cache = {}
    if metric_crs not in cache:
        cache[metric_crs] = pyproj.Transformer.from_crs("EPSG:4326", metric_crs,
                                                        always_xy=True)
    return cache[metric_crs]


def clean_fixes(volunteer_id: np.ndarray, t: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                accuracy: np.ndarray, speed: np.ndarray, *, metric_crs: str,
                gap_s: float = 120.0, max_speed_kmh: float = 200.0,
                max_accuracy_m: float = 50.0) -> CleanFixes:
    """Sort, flag and split fixes into tracks; nothing is dropped.

    * out of order: earlier than a fix that came before it in the file (same volunteer);
    * duplicate: same volunteer and time as another fix (the first one is kept clean);
    * poor accuracy: reported accuracy worse than ``max_accuracy_m``;
    * speed jump: reached from the previous clean fix, and left to the next, faster than
      ``max_speed_kmh`` (a spike), or a track's first fix that only leads away that fast;
    * a new track starts after a gap of more than ``gap_s`` seconds.
    """
    n = len(t)
    file_order = np.arange(n)
    flags = np.zeros(n, dtype="int16")
    # out of order, judged in file order
    s = pd.Series(t)
    prev_max = s.groupby(volunteer_id, sort=False).cummax().groupby(volunteer_id,
                                                                    sort=False).shift(1)
    flags[(t < prev_max.to_numpy(dtype="float64", na_value=np.nan))] |= FLAG_OUT_OF_ORDER
    order = np.lexsort((file_order, t, volunteer_id))
    vid, t, lon, lat = volunteer_id[order], t[order], lon[order], lat[order]
    accuracy, speed, flags = accuracy[order], speed[order], flags[order]
    x, y = _to_metric(metric_crs).transform(lon, lat)
    same = np.zeros(n, dtype=bool)
    same[1:] = vid[1:] == vid[:-1]
    dup = np.zeros(n, dtype=bool)
    dup[1:] = same[1:] & (t[1:] == t[:-1])
    flags[dup] |= FLAG_DUPLICATE
    flags[accuracy > max_accuracy_m] |= FLAG_POOR_ACCURACY
    dt_s = np.zeros(n)
    dt_s[1:] = (t[1:] - t[:-1]) / _US
    new_track = ~same | (dt_s > gap_s)
    track = np.cumsum(new_track) - 1
    # speed spikes among the fixes still clean, within each track
    ok = np.flatnonzero(flags == 0)
    if len(ok) > 1:
        vmax = max_speed_kmh / 3.6
        kt, kx, ky, ktime = track[ok], x[ok], y[ok], t[ok]
        link = kt[1:] == kt[:-1]
        v = np.hypot(np.diff(kx), np.diff(ky)) / np.maximum(np.diff(ktime) / _US, 1e-6)
        fast = link & (v > vmax)
        fast_in = np.concatenate([[False], fast])
        fast_out = np.concatenate([fast, [False]])
        has_out = np.concatenate([link, [False]])
        has_in = np.concatenate([[False], link])
        spike = fast_in & (fast_out | ~has_out)
        # a first fix that only leads away too fast, while the next step is plausible
        next_ok = np.concatenate([~fast[1:], [True], [True]])[: len(ok)]
        spike |= ~has_in & fast_out & next_ok
        flags[ok[spike]] |= FLAG_SPEED_JUMP
    return CleanFixes(vid.astype("int32"), t, lon, lat, np.asarray(x), np.asarray(y),
                      accuracy, speed, flags, track)
