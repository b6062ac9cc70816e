"""Sources: file to database, read with :mod:`geo_patrol.ingest`, stored with
:mod:`geo_patrol.store`, one transaction per file, the same file stored once.

:data:`SOURCES` is the registry the CLI, the web uploads and the demo load through.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_patrol.crs import utm_crs_for
from geo_patrol.errors import N_, ForbiddenError, InputError, ReportInputError
from geo_patrol.ingest._files import FileInfo, file_info
from geo_patrol.ingest.boundaries import read_boundaries
from geo_patrol.ingest.fixes import RawFixes, clean_fixes, fixes_unit, read_fixes
from geo_patrol.ingest.landcover import read_land_cover
from geo_patrol.ingest.ledgers import Ledger, read_hazards, read_incidents, read_reports
from geo_patrol.ingest.points import points_to_wgs84
from geo_patrol.ingest.problems import Problems
from geo_patrol.ingest.streets import read_streets
from geo_patrol.ingest.training import read_training, resolve_courses
from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS, read_volunteers
from geo_patrol.privacy import Vault
from geo_patrol.services import reports
from geo_patrol.services.places import communities_named, refresh_pieces
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import fixes as fix_store
from geo_patrol.store import places as place_store
from geo_patrol.store import ledgers as ledger_store
from geo_patrol.store import media as media_store
from geo_patrol.store import reports as report_store
from geo_patrol.store import training as training_store
from geo_patrol.store.db import ensure_metric_srid, require_metric_srid
from geo_patrol.store.uploads import (LoadResult, Timer, claim_upload, finish_upload,
                                     stored_upload)
from geo_patrol.store.volunteers import store_volunteers, volunteer_ids
from geo_patrol.vocab import AREA_LEVELS, PATROL_KINDS

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database

log = logging.getLogger(__name__)


def _metric_srid(conn: Connection, bounds: tuple[float, float, float, float],
                 settings: Settings) -> int:
    """The deployment's metric SRID: configured, recorded, or the UTM zone of ``bounds``."""
    if settings.metric_crs:
        ensure_metric_srid(conn, settings.metric_crs)
        return require_metric_srid(conn, settings.metric_crs)
    centre = shapely.centroid(shapely.box(*bounds))
    return ensure_metric_srid(conn, utm_crs_for(centre.x, centre.y))


def _deployment_srid(conn: Connection, frame: gpd.GeoDataFrame, settings: Settings,
                     source: str) -> int:
    """The metric SRID to store ``frame`` with, after checking it belongs to this deployment."""
    if not area_store.overlaps_stored_areas(conn, tuple(frame.total_bounds)):
        x0, y0, x1, y1 = frame.total_bounds
        msg = (f"the data ({x0:.3f}, {y0:.3f}) .. ({x1:.3f}, {y1:.3f}) lies outside every stored "
               "area: is the declared CRS right, or does it belong to another deployment?")
        raise InputError(msg, source=source)
    return _metric_srid(conn, tuple(frame.total_bounds), settings)


@contextmanager
def _claimed(db: Database, kind: str, info: FileInfo, options: dict[str, object], *,
             timer: Timer | None = None, proof: str = "import"
             ) -> Iterator[tuple[Connection, LoadResult]]:
    """One transaction for one file: its upload row claimed first (a file already stored
    gives a ``duplicate`` result and the caller stores nothing), finished with the result.
    ``proof`` is what vouches for its fixes (a volunteer's own file: ``none``)."""
    timer = timer or Timer()
    with db.begin() as conn:
        upload_id, is_new = claim_upload(conn, kind, info, options, proof=proof)
        result = LoadResult(kind, info.name, upload_id, duplicate=not is_new)
        yield conn, result
        if is_new:
            result.seconds = timer.seconds
            finish_upload(conn, result)


def _earlier(db: Database, kind: str, info: FileInfo) -> LoadResult | None:
    """The duplicate result of a file stored before, found by its hash before the file is
    read (a city's street file takes a minute to parse); ``None`` for a new file."""
    with db.connect() as conn:
        found = stored_upload(conn, info.sha256)
    return None if found is None else LoadResult(kind, info.name, found, duplicate=True)


def load_boundaries(
    db: Database,
    path: Path | str,
    *,
    level: str,
    crs: str,
    name_field: str = "name",
    code_field: str | None = None,
    parent_field: str | None = None,
    repair: bool = False,
    settings: Settings,
) -> LoadResult:
    """Load a boundary file as areas of ``level``; see :func:`~geo_patrol.ingest.read_boundaries`."""
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}: use one of {', '.join(AREA_LEVELS)}"
        raise InputError(msg)
    timer = Timer()
    info = file_info(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    options = {"level": level, "crs": crs, "name_field": name_field, "code_field": code_field,
               "parent_field": parent_field, "repair": repair}
    boundaries = read_boundaries(info.path, crs=crs, name_field=name_field,
                                 code_field=code_field, parent_field=parent_field, repair=repair)
    with _claimed(db, "boundaries", info, options, timer=timer) as (conn, result):
        if result.duplicate:
            return result
        srid = _deployment_srid(conn, boundaries.frame, settings, str(path))
        place_store.clear_tiles(conn)  # the base map draws the outlines
        result.stored = area_store.store_areas(conn, boundaries.frame, level=level,
                                               upload_id=result.upload_id, srid=srid,
                                               source=str(path))
        result.details = {"level": level, "crs": boundaries.crs,
                          "repaired": len(boundaries.repairs),
                          "segments_reassigned": area_store.assign_segments(conn),
                          "repairs": [
                              {"feature": r.feature, "name": r.name, "reason": r.reason,
                               "area_change_pct": round(r.area_change_pct, 6)}
                              for r in boundaries.repairs]}
    return result


def load_streets(
    db: Database,
    path: Path | str,
    *,
    settings: Settings,
) -> LoadResult:
    """Load the street network of a local OSM file as segments of at most ~50 m."""
    timer = Timer()
    info = file_info(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    if (earlier := _earlier(db, "streets", info)) is not None:
        return earlier
    segments = read_streets(info.path, max_segment_m=settings.segment_max_m)
    land = read_land_cover(info.path)
    with _claimed(db, "streets", info, {"max_segment_m": settings.segment_max_m},
                  timer=timer) as (conn, result):
        if result.duplicate:
            return result
        srid = _deployment_srid(conn, segments, settings, str(path))
        result.stored = area_store.store_segments(conn, segments, upload_id=result.upload_id,
                                                  srid=srid)
        area_store.assign_segments(conn)
        refresh_pieces(conn)
        kept = place_store.store_land_cover(conn, land, int(result.upload_id))
        result.details = {"segments_read": len(segments),
                          "already_stored": len(segments) - result.stored,
                          "km": round(float(segments["length_m"].sum()) / 1000, 3),
                          "land_cover": {k: int(n) for k, n in
                                         land["kind"].value_counts().items()} if kept else {}}
    return result


class TableOptions(TypedDict, total=False):
    """Options every text table (a roster, a sign-in sheet) takes."""

    mapping: dict[str, str] | None  # canonical column -> the file's header
    encoding: str | None   # text encoding of CSV files (detected otherwise)
    sheet: str | None      # XLSX sheet (the first by default)
    settings: Required[Settings]  # the city's: its CRS, time zone and limits


def _settings_of(options: Mapping[str, object]) -> Settings:
    """The city's settings a load was given (a load never guesses the city)."""
    settings = options.get("settings")
    if not isinstance(settings, Settings):
        msg = "a load needs the city's settings (settings=...)"
        raise TypeError(msg)
    return settings


def _load_table(db: Database, kind: str, path: Path | str, options: TableOptions,
                read: Callable[..., pd.DataFrame],
                store: Callable[[Connection, pd.DataFrame, int, Settings],
                                tuple[int, dict[str, object]]]) -> LoadResult:
    """The shared path of text tables: read and check the file (``read(path, settings,
    mapping=, encoding=, sheet=)``), then claim the upload, store (``store`` returns rows
    stored and details) and finish, in one transaction."""
    settings = _settings_of(options)
    timer = Timer()
    info = file_info(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    kept = {k: options.get(k) for k in ("mapping", "encoding")}
    frame = read(info.path, settings, sheet=options.get("sheet"), **kept)
    with _claimed(db, kind, info, kept, timer=timer) as (conn, result):
        if result.duplicate:
            return result
        result.stored, result.details = store(conn, frame, result.upload_id, settings)
    return result


def load_volunteers(db: Database, path: Path | str, **options: Unpack[TableOptions]
                    ) -> LoadResult:
    """Load a volunteer roster (CSV or XLSX); volunteers already known by number are updated."""
    def store(conn: Connection, roster: pd.DataFrame, upload_id: int,
              settings: Settings) -> tuple[int, dict[str, object]]:
        inserted, updated = store_volunteers(conn, roster, vault=Vault.from_settings(settings),
                                             upload_id=upload_id, source=str(path))
        return inserted + updated, {"new": inserted, "updated": updated}

    return _load_table(db, "volunteers", path, options,
                       lambda p, _settings, **kw: read_volunteers(p, **kw), store)


def load_training(db: Database, path: Path | str, **options: Unpack[TableOptions]
                  ) -> LoadResult:
    """Load a training sign-in sheet (CSV or XLSX): courses, sessions and attendance; a
    volunteer already listed for a session gets the sheet's result."""
    def store(conn: Connection, rows: pd.DataFrame, upload_id: int,
              _settings: Settings) -> tuple[int, dict[str, object]]:
        courses = resolve_courses(rows, training_store.stored_courses(conn), str(path))
        counts = training_store.store_training(conn, rows, courses, upload_id=upload_id,
                                               source=str(path))
        return counts["new"] + counts["updated"], dict(counts)

    return _load_table(db, "training", path, options,
                       lambda p, settings, **kw: read_training(p, today=settings.today(), **kw),
                       store)


def _track_kinds(kind: str | None, occupations: np.ndarray) -> np.ndarray:
    if kind is not None:
        if kind not in PATROL_KINDS:
            raise InputError(f"--kind must be one of {', '.join(PATROL_KINDS)}")
        return np.full(len(occupations), kind, dtype=object)
    return np.where(np.isin(occupations, PASSIVE_OCCUPATIONS), "passive", "patrol")


def _check_owner(raw: RawFixes, owner: str, source: str) -> None:
    """A volunteer's own upload: every fix that names a volunteer names ``owner``."""
    if raw.volunteer is None:
        return
    named = np.array([str(v).strip() for v in raw.volunteer], dtype=object)
    other = np.flatnonzero((named != "") & (named != owner))
    if len(other):
        i = int(other[0])
        msg = (f"{Path(source).name}, {raw.unit} {raw.rows[i]}: this account may upload "
               f"only its own positions ({owner}), but the file names volunteer "
               f"{named[i]!r}; nothing was stored")
        raise ForbiddenError(msg)


def _resolve_volunteers(conn: Connection, raw: RawFixes, volunteer: str | None,
                        source: str, problems: Problems) -> tuple[np.ndarray, pd.DataFrame]:
    """Each fix's volunteer id, and the volunteers (id, occupation) by number; every fix
    without one, or naming a number the roster does not hold, is noted in ``problems``."""
    if raw.volunteer is None:
        if not volunteer:
            msg = ("the file has no volunteer column: pass --volunteer NUMBER for a track "
                   "from one phone")
            raise InputError(msg, source=source, values={}, shown=N_(
                "The file names no volunteer: give the volunteer number of its phone under "
                "“More”."))
        codes, numbers = np.zeros(len(raw), dtype="int32"), [volunteer]
    else:
        cat = pd.Categorical(raw.volunteer)
        numbers = [str(c).strip() for c in cat.categories]
        codes = cat.codes.astype("int32")
        blank = (codes == -1) | np.isin(codes, [i for i, n in enumerate(numbers) if not n])
        if blank.any():
            if not volunteer:
                problems.flag(blank, raw.rows, "volunteer", N_("The volunteer is empty."))
                codes[blank] = -1
            else:
                numbers.append(volunteer)
                codes[blank] = len(numbers) - 1
    used = np.unique(codes[codes >= 0])
    known = volunteer_ids(conn, [numbers[i] for i in used])
    missing = [i for i in used if numbers[i] not in known.index]
    if missing:
        unknown = np.isin(codes, missing)
        problems.flag(unknown, raw.rows, "volunteer",
                      N_("No volunteer numbered %(value)s in the roster."),
                      lambda i: {"value": numbers[codes[i]][:40]})
    lookup = np.zeros(len(numbers) + 1, dtype="int32")  # -1 (no one) reads the last
    found = [i for i in used if i not in missing]
    lookup[found] = known.loc[[numbers[i] for i in found], "id"].to_numpy()
    return lookup[codes], known.set_index("id")


def _check_track_shape(raw: RawFixes, source: str) -> None:
    """Refuse files that cannot make a track: one fix, or all fixes at one instant."""
    if len(raw) == 1:
        raise InputError("only one fix: a track needs at least two", source=source)
    keys = pd.DataFrame({"v": raw.volunteer if raw.volunteer is not None else "", "t": raw.t})
    if not keys.duplicated(keep="first").sum() < len(raw) - 1:
        msg = f"all {len(raw)} fixes are duplicates of one fix (same volunteer and time)"
        raise InputError(msg, source=source)


def load_tracks(
    db: Database,
    path: Path | str,
    *,
    crs: str | None = None,
    volunteer: str | None = None,
    tz: str | None = None,
    kind: str | None = None,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    owner: str | None = None,
) -> LoadResult:
    """Load GPS fixes (GPX, GeoJSON or CSV) into tracks and day partitions.

    ``crs`` is required for CSV; GPX and GeoJSON default to WGS-84, as their specifications
    say. Naive times need ``tz``. ``kind`` (patrol/passive) defaults per volunteer occupation.
    With ``owner`` (a volunteer's own upload) every fix must be that volunteer's: a file that
    names anyone else is refused whole (:class:`ForbiddenError`).
    """
    step = progress or (lambda _stage: None)
    timer = Timer()
    info = file_info(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    source = str(path)
    step("reading")
    # every bad fix of the file, read or looked up, is named at once (nothing is stored)
    problems = Problems(source, fixes_unit(info.path, fmt))
    raw = read_fixes(info.path, fmt=fmt, tz=tz, mapping=mapping, encoding=encoding,
                     problems=problems)
    is_csv = raw.unit == "row"
    if crs is None:
        if is_csv:
            msg = "declare the coordinates' CRS with --crs wgs84|gcj02|bd09|EPSG:<code>"
            raise InputError(msg, source=source)
        crs = "wgs84"
    if owner is not None:
        _check_owner(raw, owner, source)
        volunteer = owner
    if not problems.found:  # (bad rows' times are left 0: they would look alike)
        _check_track_shape(raw, source)
    options = {"crs": crs, "volunteer": volunteer, "tz": tz, "kind": kind, "mapping": mapping}
    # a volunteer's own file proves nothing: it counts for coverage, never for points
    with _claimed(db, "tracks", info, options, timer=timer,
                  proof="none" if owner is not None else "import") as (conn, result):
        if result.duplicate:
            problems.raise_if_any()
            return result
        upload_id = result.upload_id
        step("checking")
        lon, lat = points_to_wgs84(raw.x, raw.y, crs, raw.rows, source=source, unit=raw.unit,
                                   extent=area_store.deployment_extent(conn),
                                   problems=problems)
        vids, people = _resolve_volunteers(conn, raw, volunteer, source, problems)
        problems.raise_if_any()
        srid = _metric_srid(conn, (lon.min(), lat.min(), lon.max(), lat.max()), settings)
        known = fix_store.existing_fix_keys(conn, vids, raw.t)
        keep = np.ones(len(raw), dtype=bool)
        if known:
            keep = ~pd.MultiIndex.from_arrays([vids, raw.t]).isin(list(known))
        result.details = {"already_stored": int((~keep).sum()),
                          "untimed_points": raw.skipped_untimed}
        if keep.any():
            step("cleaning")
            fixes = clean_fixes(vids[keep], raw.t[keep], lon[keep], lat[keep],
                                raw.accuracy[keep], raw.speed[keep], metric_crs=f"EPSG:{srid}",
                                gap_s=settings.track_gap_s, max_speed_kmh=settings.max_speed_kmh,
                                max_accuracy_m=settings.max_accuracy_m)
            n_tracks = int(fixes.track.max()) + 1
            first = np.searchsorted(fixes.track, np.arange(n_tracks))
            occupations = people.loc[fixes.volunteer_id[first], "occupation"].to_numpy()
            kinds = _track_kinds(kind, occupations)
            step("storing")
            track_ids = fix_store.allocate_track_ids(conn, n_tracks)
            rows: list[list[tuple[object, ...]]] = []
            days = fix_store.store_fixes(
                conn, fixes, upload_id=upload_id, track_ids=track_ids, srid=srid,
                tz=settings.timezone,
                meanwhile=lambda: rows.append(fix_store.track_rows(
                    fixes, track_ids=track_ids, upload_id=upload_id, kinds=kinds)))
            fix_store.store_track_rows(conn, rows[0])
            result.stored = len(fixes)
            result.flagged = int((fixes.flags != 0).sum())
            result.details |= {"tracks": n_tracks, "volunteers": len(np.unique(vids)),
                               "days": days["days"], **fixes.flag_counts(),
                               "patrol_tracks": int((kinds == "patrol").sum()),
                               "passive_tracks": int((kinds == "passive").sum())}
    return result


def _ledger_points(conn: Connection, ledger: Ledger, source: str,
                   settings: Settings) -> tuple[np.ndarray, np.ndarray, int]:
    """The ledger's points in WGS-84 and the metric SRID; every point far outside the city
    (or not one) is named at once."""
    rec = ledger.records
    problems = Problems(source, rec.unit)
    lon, lat = points_to_wgs84(rec.x, rec.y, rec.crs, rec.rows, source=source, unit=rec.unit,
                               extent=area_store.deployment_extent(conn), problems=problems)
    problems.raise_if_any()
    srid = _metric_srid(conn, (lon.min(), lat.min(), lon.max(), lat.max()), settings)
    return lon, lat, srid


def _load_ledger(db: Database, kind: str, info: FileInfo, ledger: Ledger,
                 options: dict[str, object], settings: Settings,
                 store: Callable[[Connection, np.ndarray, np.ndarray, int, int],
                                 tuple[int, dict[str, object]]]) -> LoadResult:
    """The shared path of point ledgers: claim the upload, check and convert the points,
    store (``store`` returns rows stored and details), finish, in one transaction."""
    with _claimed(db, kind, info, options) as (conn, result):
        if result.duplicate:
            return result
        lon, lat, srid = _ledger_points(conn, ledger, str(info.path), settings)
        result.stored, result.details = store(conn, lon, lat, result.upload_id, srid)
    return result


class LedgerOptions(TypedDict, total=False):
    """Options every point ledger (hazards, reports, incidents) takes."""

    crs: str | None        # CRS of the coordinates (tables need it; vector files declare it)
    tz: str | None         # time zone of times written without one
    mapping: dict[str, str] | None  # canonical column -> the file's header
    encoding: str | None   # text encoding of CSV files (detected otherwise)
    sheet: str | None      # XLSX sheet (the first by default)
    settings: Required[Settings]  # the city's: its CRS, time zone and limits


def _open_ledger(path: Path | str, options: LedgerOptions
                 ) -> tuple[Settings, FileInfo, dict[str, object]]:
    """The settings, the checked file and the reader's options of a ledger load."""
    settings = _settings_of(options)
    info = file_info(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    read = {k: options.get(k) for k in ("crs", "tz", "mapping", "encoding", "sheet")}
    return settings, info, read


def _recorded(read: dict[str, object], **more: object) -> dict[str, object]:
    """The options an upload row keeps (what changes the result, not how the file is read)."""
    return {"crs": read["crs"], "tz": read["tz"], "mapping": read["mapping"], **more}


def load_hazards(db: Database, path: Path | str, **options: Unpack[LedgerOptions]
                 ) -> LoadResult:
    """Load a hazard ledger (CSV/XLSX with coordinates, or GeoJSON/GeoPackage/Shapefile)."""
    settings, info, read = _open_ledger(path, options)
    rules = settings.rules
    ledger = read_hazards(info.path, rules=rules, **read)

    def store(conn: Connection, lon: np.ndarray, lat: np.ndarray, upload_id: int,
              srid: int) -> tuple[int, dict[str, object]]:
        new, updated, changes = ledger_store.store_hazards(
            conn, ledger.values, lon, lat, rules=rules, upload_id=upload_id, srid=srid)
        return new + updated, {"new": new, "updated": updated, "status_changes": changes,
                               "ledger_rows": len(ledger.values)}

    return _load_ledger(db, "hazards", info, ledger, _recorded(read), settings, store)


def load_reports(db: Database, path: Path | str, **options: Unpack[LedgerOptions]
                 ) -> LoadResult:
    """Load volunteers' reports (CSV/XLSX or GeoJSON); the volunteers must be registered."""
    settings, info, read = _open_ledger(path, options)
    ledger = read_reports(info.path, **read)

    def store(conn: Connection, lon: np.ndarray, lat: np.ndarray, upload_id: int,
              srid: int) -> tuple[int, dict[str, object]]:
        new, updated = ledger_store.store_reports(
            conn, ledger.values, lon, lat, upload_id=upload_id, srid=srid,
            source=str(info.path), unit=ledger.records.unit)
        return new, {"already_stored": updated}

    return _load_ledger(db, "reports", info, ledger, _recorded(read), settings, store)


def load_incidents(db: Database, path: Path | str, *, category: str | None = None,
                   **options: Unpack[LedgerOptions]) -> LoadResult:
    """Load police incidents (CSV/XLSX, GeoJSON, GeoPackage or Shapefile, any CRS); rows
    without a category get ``category``."""
    settings, info, read = _open_ledger(path, options)
    ledger = read_incidents(info.path, category=category, **read)

    def store(conn: Connection, lon: np.ndarray, lat: np.ndarray, upload_id: int,
              srid: int) -> tuple[int, dict[str, object]]:
        stored = ledger_store.store_incidents(conn, ledger.values, lon, lat,
                                              upload_id=upload_id, srid=srid,
                                              tz=settings.timezone)
        return stored, {"already_stored": len(ledger.values) - stored,
                        "crs": str(ledger.records.crs)}

    return _load_ledger(db, "incidents", info, ledger,
                        _recorded(read, category=category), settings, store)


def entered_point(conn: Connection, lon: object, lat: object, crs: str,
                   within: frozenset[int] | None, *, in_community: bool = True
                   ) -> tuple[float, float, int | None]:
    """A point typed into a form: checked, in WGS-84, and the community it lies in (each
    refusal names the field at fault); with ``in_community`` false, a point in the city
    but in no community (or none of ``within``) is taken too, its community ``None``."""
    rows = np.array([1])
    xy = []
    if all(raw is None or str(raw).strip() == "" for raw in (lon, lat)):
        raise InputError("no place given: its longitude and latitude", source="form",
                         field="place", values={},
                         shown=N_("No place chosen: find it in the search box, tap it on the "
                                  "map or use your position."))
    for name, raw, bound in (("lon", lon, 180), ("lat", lat, 90)):
        text = "" if raw is None else str(raw).strip()
        if not text:
            raise InputError(N_("Give the %(column)s."), source="form", field=name,
                             values={"column": name})
        try:
            value = float(text)
        except ValueError:
            raise InputError(N_("The %(column)s “%(raw)s” is not a number."), source="form",
                             field=name, values={"column": name, "raw": text[:30]}) from None
        if not (abs(value) <= bound):  # NaN too
            raise InputError(N_("A %(column)s lies between -%(bound)s and %(bound)s, not "
                                "%(raw)s (are longitude and latitude swapped?)."),
                             source="form", field=name,
                             values={"column": name, "bound": bound, "raw": text[:30]})
        xy.append(value)
    try:
        lon_, lat_ = points_to_wgs84(np.array(xy[:1]), np.array(xy[1:]), crs, rows,
                                     source="form", unit="point",
                                     extent=area_store.deployment_extent(conn))
    except InputError:
        raise InputError(N_("The point (%(lon)s, %(lat)s) is far outside this city: is it in "
                            "WGS-84 (GPS) degrees?"), source="form", field="lon",
                         values={"lon": xy[0], "lat": xy[1]}) from None
    community = ledger_store.community_at(conn, float(lon_[0]), float(lat_[0]))
    if not in_community:
        return float(lon_[0]), float(lat_[0]), community
    if within is not None and community not in within:
        raise InputError(N_("The point lies outside the communities you may enter records "
                            "for: %(allowed)s."), source="form", field="lon",
                         values={"allowed": communities_named(conn, within)})
    if community is None:
        raise InputError(N_("The point lies outside the communities you may enter records "
                            "for."), source="form", field="lon", values={})
    return float(lon_[0]), float(lat_[0]), community


def form_text(value: str | None, what: str, *, limit: int, field: str | None = None
              ) -> str | None:
    """Text typed into a form (field ``field``, ``what`` by default): at most ``limit``
    characters, and nothing a spreadsheet would run as a formula when the record is
    exported (``= + - @`` first)."""
    text = (value or "").strip()
    field = field or what
    if len(text) > limit:
        raise InputError(N_("At most %(limit)s characters, not %(n)s."), source="form",
                         field=field, values={"limit": limit, "n": len(text)})
    if text[:1] in ("=", "+", "-", "@"):
        raise InputError(N_("May not start with %(char)s (a spreadsheet would run it as a "
                            "formula)."), source="form", field=field, values={"char": text[0]})
    return text or None


def _category(settings: Settings, value: str) -> str:
    category = settings.rules.category_of(value or "")
    if category is None:
        raise InputError(N_("Choose a category from the list."), source="form",
                         field="category", values={})
    return category


def enter_hazard(db: Database, *, category: str, name: str, lon: object, lat: object,
                 crs: str = "wgs84", by: str, proposal: bool,
                 within: frozenset[int] | None = None, settings: Settings) -> int:
    """Record one hazard from a form: a command's record, or an officer's proposal inside
    their own communities. Returns the hazard id."""
    name = form_text(name, "a hazard's name", limit=200, field="name")
    if not name:
        raise InputError(N_("Give the hazard a name."), source="form", field="name", values={})
    category = _category(settings, category)
    with db.begin() as conn:
        srid = require_metric_srid(conn, settings.metric_crs)
        x, y, community = entered_point(conn, lon, lat, crs, within)
        return ledger_store.add_hazard(conn, category=category, name=name, lon=x, lat=y,
                                       rules=settings.rules, srid=srid, community_id=community,
                                       source="proposal" if proposal else "web", by=by)


def enter_report(db: Database, *, volunteer_id: int, category: str, text: str | None,
                 lon: object, lat: object, crs: str = "wgs84", settings: Settings,
                 photos: list[tuple[str, bytes]] | None = None, key: str | None = None,
                 made_at: dt.datetime | None = None,
                 video: tuple[str, bytes] | None = None) -> int:
    """Record a volunteer's report (pending verification), with its photos and optional
    short video (``(name, bytes)``): each checked
    from its bytes and its EXIF compared with the reporter's own track before anything is
    stored; a refused photo stores nothing. ``key``: the phone's own id for the report, so
    one sent again (a phone back online) is stored once. Returns the report id."""
    found = settings.rules.report_category_of(category or "")
    if found is None:
        raise ReportInputError("category", f"unknown report category {category!r}")
    try:
        text = form_text(text, "a report's text", limit=2000)
    except InputError as exc:
        raise ReportInputError("text", exc.message) from None
    if any(v is None or str(v).strip() == "" for v in (lon, lat)):
        raise ReportInputError("place", "a report needs its place (longitude and latitude)")
    key = f"app-{volunteer_id}-{key}" if key else None
    # what costs a query is asked before what costs seconds (its photos decoded): a report
    # sent again, or refused for its place, decodes nothing
    with db.connect() as conn:
        if key and (done := report_store.report_by_key(conn, key, volunteer_id)):
            return int(done)
        _report_place(conn, lon, lat, crs)
    checked = reports.check_photos(photos or [], settings)
    clip = reports.check_video(video, settings)
    written: list[str] = []
    try:
        with db.begin() as conn:
            if key and (done := report_store.report_by_key(conn, key, volunteer_id)):
                return int(done)
            srid = require_metric_srid(conn, settings.metric_crs)
            x, y, community = _report_place(conn, lon, lat, crs)
            when = made_at or dt.datetime.now(dt.UTC)
            report_id = ledger_store.add_report(
                conn, volunteer_id=volunteer_id, category=found, text=text, lon=x, lat=y,
                srid=srid, community_id=community, reported_at=when, key=key)
            if report_id is None:  # the same report sent twice at once: the other one won
                return int(report_store.report_by_key(conn, key or "", volunteer_id) or 0)
            checks = reports.exif_checks(conn, checked, volunteer_id=volunteer_id,
                                         reported_at=when, srid=srid, settings=settings)
            written = reports.keep_photos(conn, report_id, checked, checks, settings)
            if clip is not None:
                written += reports.keep_video(conn, report_id, clip, settings)
            return int(report_id)
    except BaseException:
        # nothing stored: not the rows, not the files
        media_store.forget(media_store.for_settings(settings), written)
        raise


def _report_place(conn: Connection, lon: object, lat: object, crs: str
                  ) -> tuple[float, float, int | None]:
    try:
        return entered_point(conn, lon, lat, crs, None)
    except InputError as exc:
        raise ReportInputError("outside", exc.message) from None


#: Every file source by the name the CLI (``geo-patrol load NAME``) and uploads use.
SOURCES: dict[str, Callable[..., LoadResult]] = {
    "boundaries": load_boundaries, "streets": load_streets, "volunteers": load_volunteers,
    "tracks": load_tracks, "hazards": load_hazards, "reports": load_reports,
    "incidents": load_incidents, "training": load_training}


def load_source(db: Database, kind: str, path: Path | str, **options: object) -> LoadResult:
    """Load ``path`` as a source of ``kind`` (options as for its ``load_*`` function)."""
    loader = SOURCES.get(kind)
    if loader is None:
        raise InputError(f"unknown source {kind!r}: use one of {', '.join(SOURCES)}")
    return loader(db, path, **options)
