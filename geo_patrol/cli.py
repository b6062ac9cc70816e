"""The ``geo-patrol`` command: thin click wrappers over the library."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from geo_patrol.errors import GeoPatrolError, InputError
from geo_patrol.settings import Settings

BUNDLED_BOUNDARIES = Path(__file__).resolve().parents[1] / "data" / "boundaries"
BAOTOU_DISTRICTS = BUNDLED_BOUNDARIES / "baotou_districts_wgs84.geojson"
CRS_HELP = "CRS of the coordinates: wgs84, cgcs2000, gcj02, bd09, EPSG:<code>, or 'file'."


class _Group(click.Group):
    """Turns domain errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return super().invoke(ctx)
        except GeoPatrolError as exc:
            raise click.ClickException(str(exc)) from None
        except (OperationalError, InterfaceError) as exc:
            # the server went away mid-command: the transaction was rolled back
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise click.ClickException(f"database connection lost, nothing from this file "
                                       f"was stored: {first}") from None


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]


def _engine(ctx: click.Context):  # noqa: ANN202 - sqlalchemy Engine
    from geo_patrol.store.db import open_database

    obj = ctx.ensure_object(dict)
    if "engine" not in obj:
        obj["engine"] = open_database(_settings(ctx))
    return obj["engine"]


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the embedded database lives (GEO_PATROL_DATA_DIR).")
@click.version_option(package_name="geo-patrol")
@click.pass_context
def cli(ctx: click.Context, verbose: int, data_dir: Path | None) -> None:
    """Patrol coverage and hazard mapping for volunteer community patrols."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)["settings"] = Settings.from_env(data_dir=data_dir)


# -- database -------------------------------------------------------------------------------

@cli.group(cls=_Group)
def db() -> None:
    """The database: the embedded PostGIS cluster, or DATABASE_URL when set."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Start (creating if needed) the database and migrate it to the latest schema."""
    from geo_patrol.store.db import current_revision, open_database

    settings = _settings(ctx)
    engine = open_database(settings)
    where = "DATABASE_URL" if settings.database_url else str(settings.cluster_dir)
    click.echo(f"database ready ({where}), schema {current_revision(engine)}")


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the embedded PostGIS cluster."""
    from geo_patrol.store.db import local_cluster

    settings = _settings(ctx)
    if settings.database_url:
        raise click.ClickException("DATABASE_URL is set: that server is not managed here")
    stopped = local_cluster(settings).stop()
    click.echo("database stopped" if stopped else "database was not running")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the database is running, where, and at which schema revision."""
    from geo_patrol.store.db import create_engine, current_revision, local_cluster

    settings = _settings(ctx)
    if settings.database_url:
        engine = create_engine(settings.database_url)
        click.echo(f"external database (DATABASE_URL), schema {current_revision(engine)}")
        return
    cluster = local_cluster(settings)
    if not cluster.is_running():
        click.echo(f"stopped ({cluster.root})")
        sys.exit(3)
    revision = current_revision(create_engine(cluster.url()))
    click.echo(f"running on 127.0.0.1:{cluster.running_port()} ({cluster.root}), "
               f"schema {revision}")


@db.command("migrate")
@click.option("--revision", default="head", show_default=True)
@click.option("--down", is_flag=True, help="Downgrade to REVISION instead ('base' empties it).")
@click.pass_context
def db_migrate(ctx: click.Context, revision: str, down: bool) -> None:
    """Apply schema migrations (Alembic)."""
    from geo_patrol.store.db import create_engine, current_revision, database_url, downgrade, migrate

    engine = create_engine(database_url(_settings(ctx), start=True))
    if down:
        if revision == "head":
            raise click.BadParameter("give --revision (e.g. base) to downgrade to",
                                     param_hint="--revision")
        click.confirm(f"Downgrade the schema to {revision}? Data in dropped tables is lost",
                      abort=True)
        downgrade(engine, revision)
    else:
        migrate(engine, revision)
    click.echo(f"schema {current_revision(engine)}")


@db.command("psql-url")
@click.pass_context
def db_psql_url(ctx: click.Context) -> None:
    """Print a libpq URL for psql and other tools."""
    from geo_patrol.store.db import database_url

    url = database_url(_settings(ctx), start=False)
    click.echo(url.replace("postgresql+psycopg://", "postgresql://"))


# -- loading --------------------------------------------------------------------------------

@cli.group(cls=_Group)
def load() -> None:
    """Load files into the database: one transaction per file, the same file stored once."""


def _load_files(ctx: click.Context, files: tuple[Path, ...], loader: Any,
                stop_on_error: bool, report: Any = None, **options: Any) -> None:
    """Run ``loader`` on each file, one summary line each.

    A refused file is reported on stderr and the others still load (or, with
    ``--stop-on-error``, nothing more is tried); the exit status is 1 if any file was refused.
    """
    engine = _engine(ctx)
    refused = 0
    for path in files:
        try:
            result = loader(engine, path, settings=_settings(ctx), **options)
        except GeoPatrolError as exc:
            refused += 1
            click.echo(f"Error: {exc}", err=True)
            if stop_on_error:
                break
            continue
        if report is not None:
            report(result)
        click.echo(result.summary_line())
    if refused:
        ctx.exit(1)


_stop_option = click.option(
    "--stop-on-error", is_flag=True,
    help="Stop at the first refused file (by default the other files still load).")
_column_option = click.option(
    "--column", "columns", multiple=True, metavar="NAME=HEADER",
    help="Read column NAME from the file's HEADER (repeatable), e.g. --column name=队员姓名.")
_encoding_option = click.option("--encoding", default=None,
                                help="Text encoding of CSV files (detected: UTF-8, BOM, GBK).")
_sheet_option = click.option("--sheet", default=None, help="XLSX sheet (the first by default).")
_tz_option = click.option("--tz", default=None,
                          help="Time zone of times written without one (e.g. Asia/Shanghai); "
                               "without it such times are refused.")


def _mapping(columns: tuple[str, ...]) -> dict[str, str] | None:
    from geo_patrol.ingest.tables import parse_mapping

    return parse_mapping(columns) or None


def _print_repairs(result: Any) -> None:
    for repair in result.details.get("repairs", []):
        click.echo(f"  repaired feature {repair['feature']} ({repair['name']}): "
                   f"{repair['reason']}; area change {repair['area_change_pct']:+.4f}%")


@load.command("boundaries")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--level", required=True,
              type=click.Choice(["city", "district", "station", "community", "grid"]))
@click.option("--crs", required=True, help=CRS_HELP)
@click.option("--name-field", default="name", show_default=True)
@click.option("--code-field", default=None, help="Attribute with an area code (e.g. adcode).")
@click.option("--parent-field", default=None,
              help="Attribute naming the parent area; by default parents are found by location.")
@click.option("--repair", is_flag=True, help="Make invalid polygons valid and report each one.")
@_stop_option
@click.pass_context
def load_boundaries_cmd(ctx: click.Context, files: tuple[Path, ...], stop_on_error: bool,
                        **options: Any) -> None:
    """Load district, police station, community or grid boundaries (GeoJSON/GPKG/Shapefile)."""
    from geo_patrol.loading import load_boundaries

    _load_files(ctx, files, load_boundaries, stop_on_error, _print_repairs, **options)


@load.command("streets")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_stop_option
@click.pass_context
def load_streets_cmd(ctx: click.Context, files: tuple[Path, ...], stop_on_error: bool) -> None:
    """Load the street network from local OSM files (.osm, .osm.bz2, .osm.pbf)."""
    from geo_patrol.loading import load_streets

    _load_files(ctx, files, load_streets, stop_on_error)


@load.command("volunteers")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_column_option
@_encoding_option
@_sheet_option
@_stop_option
@click.pass_context
def load_volunteers_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                        stop_on_error: bool, **options: Any) -> None:
    """Load volunteer rosters (CSV or XLSX; English or Chinese headers).

    Volunteers already registered (same number) are updated. ID numbers are checked
    (GB 11643), encrypted at rest and hashed to catch the same person twice.
    """
    from geo_patrol.loading import load_volunteers

    _load_files(ctx, files, load_volunteers, stop_on_error, mapping=_mapping(columns),
                **options)


def _progress(path: Path) -> tuple[Any, Any]:
    """A tqdm bar over a load's stages that only appears when the load takes a while."""
    from tqdm import tqdm

    stages = ("reading", "checking", "cleaning", "storing")
    bar = tqdm(total=len(stages), desc=path.name, unit="stage", delay=2.0, leave=False,
               file=sys.stderr)

    def step(stage: str) -> None:
        bar.set_postfix_str(stage)
        if stage != stages[0]:
            bar.update(1)

    return bar, step


@load.command("tracks")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crs", default=None,
              help="CRS of the coordinates: wgs84, gcj02, bd09 or EPSG:<code> (required for CSV; "
                   "GPX and GeoJSON default to wgs84).")
@click.option("--volunteer", default=None,
              help="Volunteer number for files without a volunteer column (a phone's GPX).")
@_tz_option
@click.option("--kind", type=click.Choice(["patrol", "passive"]), default=None,
              help="Deliberate patrol or passive coverage at work; by default from each "
                   "volunteer's occupation (taxi drivers and delivery riders are passive).")
@click.option("--format", "fmt", type=click.Choice(["gpx", "geojson", "csv"]), default=None,
              help="File format when the file name does not tell.")
@_column_option
@_encoding_option
@_stop_option
@click.pass_context
def load_tracks_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                    stop_on_error: bool, **options: Any) -> None:
    """Load GPS fixes from GPX, GeoJSON or CSV exports.

    Fixes are split into tracks on gaps over 120 s; speed jumps, poor accuracy, duplicates and
    out-of-order fixes are flagged and counted (kept, but left out of coverage).
    """
    from geo_patrol.loading import load_tracks

    def one(engine: Any, path: Path, **kw: Any) -> Any:
        bar, step = _progress(Path(path))
        try:
            return load_tracks(engine, path, progress=step, **kw)
        finally:
            bar.close()

    def report(result: Any) -> None:
        d = result.details
        if result.flagged or d.get("untimed_points"):
            click.echo(f"  flagged: {d.get('speed_jump', 0)} speed jumps, "
                       f"{d.get('poor_accuracy', 0)} poor accuracy, {d.get('duplicate', 0)} "
                       f"duplicates, {d.get('out_of_order', 0)} out of order; "
                       f"{d.get('untimed_points', 0)} points without time skipped")

    _load_files(ctx, files, one, stop_on_error, report, mapping=_mapping(columns), **options)


def _ledger_command(kind: str, crs_help: str, extra: list[Any] | None = None) -> Any:
    """A ``load <kind>`` command for a point ledger: files, CRS, time zone, column mapping,
    encoding, sheet, stop-on-error; the docstring of the decorated function is its help."""

    def wrap(fn: Any) -> Any:
        def command(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                    stop_on_error: bool, **options: Any) -> None:
            from geo_patrol import loading

            _load_files(ctx, files, getattr(loading, f"load_{kind}"), stop_on_error,
                        mapping=_mapping(columns), **options)

        command.__doc__ = fn.__doc__
        decorated: Any = click.pass_context(command)
        for option in reversed([
                click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
                click.option("--crs", default=None, help=CRS_HELP + " " + crs_help),
                *(extra or []), _tz_option, _column_option, _encoding_option, _sheet_option,
                _stop_option]):
            decorated = option(decorated)
        return load.command(kind)(decorated)

    return wrap


@_ledger_command("hazards", "Required for CSV/XLSX.")
def load_hazards_cmd() -> None:
    """Load campaign hazard ledgers; rows sharing an id are one hazard's status history."""


@_ledger_command("reports", "Required for CSV/XLSX.")
def load_reports_cmd() -> None:
    """Load volunteers' reports (who, when, where, category, text, verification, reward)."""


@_ledger_command("incidents", "Vector files default to their own.", [click.option(
    "--category", default=None, help="Category for files without a category column.")])
def load_incidents_cmd() -> None:
    """Load police incidents (CSV/XLSX, GeoJSON, GeoPackage, Shapefile; any CRS)."""


# -- reading --------------------------------------------------------------------------------

def _print_summary(engine: Any, level: str) -> None:
    from geo_patrol.store.areas import area_summary

    with engine.connect() as conn:
        table = area_summary(conn, level=level)
    if table.empty:
        click.echo(f"no {level} areas loaded")
        return
    click.echo(f"{'code':<8} {'name':<14} {'area km²':>10} {'sub-areas':>9} "
               f"{'segments':>9} {'street km':>10}")
    for row in table.itertuples(index=False):
        name = row.name + " " * max(0, 14 - 2 * len(row.name))  # CJK glyphs are double width
        click.echo(f"{row.code or '':<8} {name} {row.area_km2:>10.1f} {row.sub_areas:>9} "
                   f"{row.segments:>9} {row.street_km:>10.1f}")


@cli.command("summary")
@click.option("--level", default="district", show_default=True,
              type=click.Choice(["city", "district", "station", "community", "grid"]))
@click.pass_context
def summary(ctx: click.Context, level: str) -> None:
    """Print each area of a level with its size, sub-areas and street length."""
    _print_summary(_engine(ctx), level)


# -- analysis -------------------------------------------------------------------------------

def parse_window(start: str, end: str, tz: str) -> tuple[Any, Any]:
    """``--from``/``--to`` as an aware window; plain dates are whole local days (inclusive)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from geo_patrol.errors import InputError

    zone = ZoneInfo(tz)

    def one(text: str, is_end: bool) -> dt.datetime:
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if is_end else 0)
                return dt.datetime.combine(day, dt.time(), zone)
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"{text!r} is not a date (YYYY-MM-DD) or date and time") from None
        return value if value.tzinfo else value.replace(tzinfo=zone)

    return one(start, False), one(end, True)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def _print_areas(table: Any, title: str) -> None:
    click.echo(title)
    click.echo(f"  {'area':<16} {'street km':>9} {'visited km':>10} {'cover':>6} {'patrol':>6} "
               f"{'passive':>7} {'day':>6} {'night':>6} {'vols':>5} {'overdue':>7} {'gaps':>5}")
    for r in table.itertuples(index=False):
        name = r.name + " " * max(0, 16 - 2 * len(r.name))
        click.echo(f"  {name} {r.total_m / 1000:>9.2f} {r.covered_m / 1000:>10.2f} "
                   f"{_pct(r.covered_m, r.total_m):>6} {_pct(r.covered_patrol_m, r.total_m):>6} "
                   f"{_pct(r.covered_passive_m, r.total_m):>7} "
                   f"{_pct(r.covered_day_m, r.total_m):>6} {_pct(r.covered_night_m, r.total_m):>6} "
                   f"{r.active_volunteers:>5} {r.hazards_overdue + r.hazards_never:>7} "
                   f"{r.gaps:>5}")


def _json_rows(table: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(table.to_json(orient="records", date_format="iso", force_ascii=False))


@cli.command("analyze")
@click.option("--from", "start", required=True, help="First day (YYYY-MM-DD) or date and time.")
@click.option("--to", "end", required=True, help="Last day, inclusive (or an exact end time).")
@click.option("--district", default=None, help="Only this district (name or id).")
@click.option("--community", default=None, help="Only this community (name or id).")
@click.option("--radius-m", type=float, default=None, help="Visit radius R (default 30 m).")
@click.option("--stale-days", type=float, default=None,
              help="A street not visited this many days before the end is a gap (default 3).")
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
@click.pass_context
def analyze_cmd(ctx: click.Context, start: str, end: str, district: str | None,
                community: str | None, radius_m: float | None, stale_days: float | None,
                as_json: bool) -> None:
    """Analyse coverage, hazard compliance and gaps for a period, store the results and print
    per-community and per-district coverage, worst first."""
    import json
    from dataclasses import replace

    from geo_patrol.analysis import AnalysisParams
    from geo_patrol.analysis.run import analyze, find_area
    from geo_patrol.store.results import area_table

    settings = _settings(ctx)
    window = parse_window(start, end, settings.timezone)
    params = AnalysisParams(gap_s=settings.track_gap_s, max_speed_kmh=settings.max_speed_kmh)
    if radius_m is not None:
        params = replace(params, radius_m=radius_m)
    if stale_days is not None:
        params = replace(params, stale_days=stale_days)
    engine = _engine(ctx)
    area = None
    with engine.connect() as conn:
        if district:
            area = find_area(conn, district, "district")["id"]
        if community:
            area = find_area(conn, community, "community")["id"]
    summary = analyze(engine, *window, area=area, params=params, settings=settings)
    with engine.connect() as conn:
        tables = {lvl: area_table(conn, summary.run_id, level=lvl)
                  for lvl in ("community", "station", "district")}
    if as_json:
        click.echo(json.dumps({"run_id": summary.run_id, "seconds": round(summary.seconds, 2),
                               "stats": summary.stats,
                               **{lvl: _json_rows(t) for lvl, t in tables.items()}},
                              ensure_ascii=False, default=str))
        return
    s = summary.stats
    cover = f"{100 * s['coverage']:.1f}%" if s["coverage"] is not None else "-"
    click.echo(f"run #{summary.run_id}{' (replaced the earlier run)' if summary.replaced else ''}: "
               f"{s['fixes']} fixes, {s['segments']} street segments, coverage {cover}, "
               f"{s['hazards_overdue'] + s['hazards_never']} of {s['hazards']} hazards overdue, "
               f"{s['gaps']} gaps ({summary.seconds:.1f} s)")
    for lvl, title in (("community", "Communities"), ("district", "Districts")):
        if not tables[lvl].empty:
            _print_areas(tables[lvl], title)


@cli.command("gaps")
@click.option("--run", "run_id", type=int, default=None, help="Analysis run (the latest).")
@click.option("--area", default=None, help="Only gaps in this area (name or id).")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def gaps_cmd(ctx: click.Context, run_id: int | None, area: str | None, limit: int,
             as_json: bool) -> None:
    """List the gaps of an analysis run, highest priority first."""
    import json

    from geo_patrol.analysis.run import find_area
    from geo_patrol.store.results import find_run, gap_table

    with _engine(ctx).connect() as conn:
        run = find_run(conn, run_id)
        area_id = find_area(conn, area)["id"] if area else None
        table = gap_table(conn, run["id"], area_id=area_id, limit=limit)
    if as_json:
        click.echo(json.dumps(_json_rows(table), ensure_ascii=False))
        return
    click.echo(f"run #{run['id']} {run['window_start']:%Y-%m-%d} .. {run['window_end']:%Y-%m-%d}:"
               f" {len(table)} gaps shown")
    click.echo(f"  {'gap':<14} {'area':<14} {'length m':>9} {'hazards':>8} {'overdue':>8} "
               f"{'incidents':>9} {'priority':>8}")
    for r in table.itertuples(index=False):
        name = (r.area or "-") + " " * max(0, 14 - 2 * len(r.area or "-"))
        click.echo(f"  {r.gap_key:<14} {name} {r.length_m:>9.0f} {r.hazards:>8} "
                   f"{r.hazards_overdue:>8} {r.incidents:>9} {r.priority:>8.2f}")


@cli.group(cls=_Group)
def hazards() -> None:
    """Hazards and their compliance with the visit rules."""


@hazards.command("status")
@click.option("--run", "run_id", type=int, default=None, help="Analysis run (the latest).")
@click.option("--area", default=None, help="Only hazards in this area (name or id).")
@click.option("--status", type=click.Choice(["compliant", "overdue", "never_visited", "cleared"]),
              default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def hazards_status_cmd(ctx: click.Context, run_id: int | None, area: str | None,
                       status: str | None, as_json: bool) -> None:
    """Each hazard's compliance, worst first; inspectors' names are masked."""
    import json

    from geo_patrol.analysis.run import find_area
    from geo_patrol.privacy import mask_name
    from geo_patrol.store.results import find_run, hazard_table

    with _engine(ctx).connect() as conn:
        run = find_run(conn, run_id)
        area_id = find_area(conn, area)["id"] if area else None
        table = hazard_table(conn, run["id"], area_id=area_id, status=status)
    table["inspector_name"] = table["inspector_name"].map(mask_name)
    if as_json:
        click.echo(json.dumps(_json_rows(table), ensure_ascii=False))
        return
    click.echo(f"run #{run['id']}: {len(table)} hazards")
    for r in table.itertuples(index=False):
        last = f"{r.last_inspection:%m-%d %H:%M} by {r.inspector_name}" \
            if r.last_inspection is not None and not _isnat(r.last_inspection) else "none"
        click.echo(f"  {r.status:<13} {r.category:<22} {r.name} ({r.area or '-'}): "
                   f"{r.inspections} inspections, {r.passes} passes, missed {r.missed_days}/"
                   f"{r.due_days} due; last inspection {last}")


def _isnat(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


# -- exports, serving, the demo ---------------------------------------------------------------

@cli.group(cls=_Group)
def export() -> None:
    """Export results: offline HTML briefings."""


@export.command("briefing")
@click.option("--district", required=True, help="District name or id.")
@click.option("--from", "start", default=None, help="First day; with --to, analyses if needed.")
@click.option("--to", "end", default=None, help="Last day, inclusive.")
@click.option("--run", "run_id", type=int, default=None, help="A stored run (the latest).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--basemap", default=None, help="none (default), osm, tianditu, amap or an XYZ URL.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.pass_context
def export_briefing_cmd(ctx: click.Context, district: str, start: str | None, end: str | None,
                        run_id: int | None, lang: str, basemap: str | None,
                        output: Path) -> None:
    """One self-contained HTML briefing of a district (map, legend, tables; no personal data)."""
    from geo_patrol.analysis.run import analyze, find_area
    from geo_patrol.render.briefing import export_briefing

    settings = _settings(ctx)
    engine = _engine(ctx)
    if (start is None) != (end is None):
        raise click.UsageError("give both --from and --to, or neither")
    if start is not None and end is not None:
        run_id = analyze(engine, *parse_window(start, end, settings.timezone),
                         settings=settings).run_id
    with engine.connect() as conn:
        from geo_patrol.store.results import find_run

        run = find_run(conn, run_id)
        area = find_area(conn, district, "district")
        path = export_briefing(conn, run["id"], area["id"], output, rules=settings.rules,
                               lang=lang, basemap=basemap)
    click.echo(f"{path} ({path.stat().st_size / 1e6:.1f} MB): {area['name']}, run #{run['id']}")


@export.command("results")
@click.option("--run", "run_id", type=int, default=None, help="A stored run (the latest).")
@click.option("--layer", type=click.Choice(["communities", "gaps", "hazards"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "csv"]), default="geojson",
              show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.pass_context
def export_results_cmd(ctx: click.Context, run_id: int | None, layer: str, fmt: str,
                       output: Path) -> None:
    """A run's communities, gaps or hazards as GeoJSON, GeoPackage or CSV (masked)."""
    from geo_patrol.render.exports import export_bytes, result_layer
    from geo_patrol.store.results import find_run

    with _engine(ctx).connect() as conn:
        run = find_run(conn, run_id)
        frame = result_layer(conn, run["id"], layer)
    output.write_bytes(export_bytes(frame, fmt))
    click.echo(f"{output}: {len(frame)} {layer} of run #{run['id']}")


@cli.group(cls=_Group)
def plan() -> None:
    """Plan patrols from the latest analysis: posts, balanced zones, loops and who walks them."""


@plan.command("posts")
@click.option("--k", "k", type=int, default=None, help="Number of posts (maximal covering).")
@click.option("--cover-all", is_flag=True,
              help="Instead: the fewest posts covering all demand (set covering).")
@click.option("--distance-m", type=float, default=500.0, show_default=True,
              help="Walking distance from a post along the streets.")
@click.option("--area", default=None, help="District or community (name or id).")
@click.option("--run", "run_id", type=int, default=None, help="Analysis run (the latest).")
@click.option("--time-limit", type=float, default=60.0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the posts as GeoJSON.")
@click.pass_context
def plan_posts_cmd(ctx: click.Context, k: int | None, cover_all: bool, distance_m: float,
                   area: str | None, run_id: int | None, time_limit: float,
                   output: Path | None) -> None:
    """Choose patrol posts at street nodes covering the most demand (stale streets, overdue
    hazards, incidents) within walking distance; reports the optimality gap."""
    import json

    import numpy as np

    from geo_patrol.analysis.run import find_area
    from geo_patrol.planning.demand import segment_demand
    from geo_patrol.planning.network import dense_nodes, node_points
    from geo_patrol.planning.posts import (
        greedy,
        maximal_covering,
        network_coverage,
        set_covering,
    )
    from geo_patrol.store.results import find_run

    if (k is None) == (not cover_all):
        raise click.UsageError("give --k N, or --cover-all")
    with _engine(ctx).connect() as conn:
        run = find_run(conn, run_id)
        area_id = find_area(conn, area)["id"] if area else None
        demand = segment_demand(conn, run["id"], area_id)
        if demand.empty:
            raise click.ClickException("no street segments in scope")
        ids, a, b = dense_nodes(demand)
        points = node_points(demand)
    cov = network_coverage(a, b, demand["length_m"].to_numpy(), np.arange(len(ids)),
                           distance_m, demand["weight"].to_numpy())
    sol = set_covering(cov, time_limit=time_limit) if cover_all else \
        maximal_covering(cov, int(k), time_limit=time_limit)
    total = float(cov.weights.sum())
    click.echo(f"{len(sol.chosen)} posts cover {sol.objective:.2f} of {total:.2f} demand "
               f"({100 * sol.objective / total if total else 0:.1f}%) within {distance_m:.0f} m; "
               f"{sol.status}, gap {100 * sol.gap:.2f}%, build {sol.build_s:.2f} s, "
               f"solve {sol.solve_s:.2f} s")
    if not cover_all:
        g = greedy(cov, int(k))
        click.echo(f"greedy heuristic: {g.objective:.2f} ({100 * g.objective / total if total else 0:.1f}%)")
    features = []
    for j in sol.chosen:
        lon, lat = points[int(ids[j])]
        reach = cov.matrix[:, j].nonzero()[0]
        features.append({"type": "Feature", "geometry": {"type": "Point",
                                                         "coordinates": [lon, lat]},
                         "properties": {"node": int(ids[j]), "segments": len(reach),
                                        "demand": round(float(cov.weights[reach].sum()), 3)}})
        click.echo(f"  post at {lat:.6f}, {lon:.6f}: {len(reach)} segments within reach")
    if output is not None:
        output.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                     ensure_ascii=False), encoding="utf-8")


def _plan_options(command: Any) -> Any:
    for option in reversed([
        click.option("--area", required=True, help="District or community (name or id)."),
        click.option("--zones", type=int, default=4, show_default=True),
        click.option("--minutes", type=float, default=90.0, show_default=True,
                     help="Time budget of one loop."),
        click.option("--speed-kmh", type=float, default=4.5, show_default=True,
                     help="Walking speed."),
        click.option("--dwell-min", type=float, default=10.0, show_default=True,
                     help="An inspection stop at an overdue hazard."),
        click.option("--hazard-weight", type=float, default=1.0, show_default=True,
                     help="Demand of an overdue hazard, in km of unpatrolled street."),
        click.option("--incident-weight", type=float, default=0.25, show_default=True,
                     help="Demand of a recent incident near a street."),
        click.option("--run", "run_id", type=int, default=None, help="Analysis run (latest)."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="Write the plan (zones, posts, loops) as GeoJSON."),
        click.option("--briefing", type=click.Path(path_type=Path), default=None,
                     help="Write the plan as an offline HTML briefing."),
        click.option("--lang", type=click.Choice(["zh", "en"]), default="zh",
                     show_default=True),
        click.pass_context]):
        command = option(command)
    return command


def _make_plan(ctx: click.Context, area: str, zones: int, minutes: float, speed_kmh: float,
               dwell_min: float, hazard_weight: float, incident_weight: float,
               run_id: int | None, output: Path | None, briefing: Path | None,
               lang: str) -> Any:
    import json

    from geo_patrol.analysis.run import find_area
    from geo_patrol.planning.plan import PlanParams, make_plan, plan_geojson
    from geo_patrol.render.plan import plan_briefing_html
    from geo_patrol.store.results import find_run

    settings = _settings(ctx)
    with _engine(ctx).connect() as conn:
        run = find_run(conn, run_id)
        result = make_plan(conn, run, find_area(conn, area),
                           PlanParams(zones=zones, minutes=minutes, speed_kmh=speed_kmh,
                                      dwell_min=dwell_min, hazard_weight=hazard_weight,
                                      incident_weight=incident_weight), tz=settings.timezone)
    if output is not None:
        output.write_text(json.dumps(plan_geojson(result), ensure_ascii=False),
                          encoding="utf-8")
        click.echo(f"plan written to {output}")
    if briefing is not None:
        briefing.write_text(plan_briefing_html(result, lang=lang), encoding="utf-8")
        click.echo(f"plan briefing written to {briefing}")
    return result


@plan.command("zones")
@_plan_options
def plan_zones_cmd(ctx: click.Context, **options: Any) -> None:
    """Split an area into balanced zones, contiguous along the streets, around patrol posts;
    compared with today's communities."""
    result = _make_plan(ctx, **options)
    c = result.communities
    click.echo(f"{len(result.zones)} zones of {result.area['name']} (run #{result.run_id}): "
               f"workload max/mean {c['zones_imbalance']:.2f}; today's {c['count']} "
               f"communities: {c['imbalance']:.2f}")
    for z in result.zones.itertuples():
        click.echo(f"  zone {z.zone}: {z.segments} segments, {z.street_km} street km, "
                   f"{z.stale_km} km not patrolled, {z.overdue_hazards} overdue hazards, "
                   f"workload {z.workload}, {z.pieces} piece(s)")


@plan.command("loops")
@_plan_options
def plan_loops_cmd(ctx: click.Context, **options: Any) -> None:
    """A patrol loop per zone from its post through the most urgent stale streets within the
    time budget, who should walk it, and the coverage expected if the plan is followed."""
    result = _make_plan(ctx, **options)
    for z in result.zones.itertuples():
        click.echo(f"  zone {z.zone}: loop {z.loop_km} km, {z.loop_min} min, "
                   f"{z.loop_streets} priority streets, {z.loop_hazards} hazard stops")
        for c in result.crew[result.crew["zone"] == z.zone].itertuples():
            click.echo(f"      {c.slot:<9} {c.number} {c.name}  ({c.reason})")
    b, a = result.before, result.after
    click.echo(f"coverage: last period {100 * b['coverage']:.1f}% -> expected "
               f"{100 * a['coverage']:.1f}%; hazard compliance {100 * b['hazard_compliance']:.1f}% "
               f"-> {100 * a['hazard_compliance']:.1f}% ({a['hazards_inspected']} inspections)")
    t = result.seconds
    click.echo(f"posts {t['posts_s']:.2f} s (gap {100 * result.posts_gap:.2f}%), zones "
               f"{t['zones_s']:.2f} s, loops {t['loops_s']:.2f} s")


@cli.group(cls=_Group)
def users() -> None:
    """Accounts: district command, community officer, planner, volunteer, admin."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["command", "officer", "planner", "volunteer", "admin"]))
@click.option("--area", "areas", multiple=True,
              help="Community (officer) or district the account is bound to, by name or code.")
@click.option("--volunteer", default=None, help="Roster number (volunteer accounts).")
@click.option("--password", default=None,
              help="Read from GEO_PATROL_NEW_PASSWORD or asked for when not given.")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, areas: tuple[str, ...],
              volunteer: str | None, password: str | None) -> None:
    """Add an account (officers need --area, volunteers --volunteer)."""
    import os

    from geo_patrol.store.accounts import add_user

    password = password or os.environ.get("GEO_PATROL_NEW_PASSWORD") or click.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    add_user(_engine(ctx), username, role, password, areas=list(areas), volunteer=volunteer)
    click.echo(f"added {username} ({role})")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List accounts with their role, state and bound areas."""
    from geo_patrol.store.accounts import user_table

    with _engine(ctx).connect() as conn:
        table = user_table(conn)
    if table.empty:
        click.echo("no accounts")
        return
    for r in table.itertuples():
        state = "disabled" if r.disabled else "active"
        click.echo(f"{r.username:<20} {r.role:<10} {state:<9} {r.areas or r.volunteer or ''}")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@click.pass_context
def users_disable(ctx: click.Context, username: str, enable: bool) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    from geo_patrol.store.accounts import set_disabled

    set_disabled(_engine(ctx), username, not enable)
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


@users.command("password")
@click.argument("username")
@click.pass_context
def users_password(ctx: click.Context, username: str) -> None:
    """Set a new password."""
    import os

    from geo_patrol.store.accounts import set_password

    password = os.environ.get("GEO_PATROL_NEW_PASSWORD") or click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    set_password(_engine(ctx), username, password)
    click.echo(f"password of {username} changed")


@users.command("token")
@click.argument("username")
@click.option("--label", default=None, help="What the token is for (e.g. 'patrol app').")
@click.pass_context
def users_token(ctx: click.Context, username: str, label: str | None) -> None:
    """Print a new API token (shown once; only its hash is stored)."""
    from geo_patrol.store.accounts import issue_token

    click.echo(issue_token(_engine(ctx), username, label))


@cli.command("retention")
@click.option("--days", type=float, default=None,
              help="Keep this many days of raw fixes (default GEO_PATROL_RETENTION_DAYS, 180).")
@click.option("--dry-run", is_flag=True, help="Only say what would go.")
@click.pass_context
def retention(ctx: click.Context, days: float | None, dry_run: bool) -> None:
    """Delete raw fixes and track lines older than the retention period; coverage results,
    track counts and lengths stay."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from geo_patrol.store.accounts import audit
    from geo_patrol.store.fixes import day_partitions, drop_fixes_before

    settings = _settings(ctx)
    keep = settings.retention_days if days is None else days
    if keep < 1:
        raise InputError("keep at least one day")
    cutoff = dt.datetime.now(ZoneInfo(settings.timezone)).date() - dt.timedelta(days=int(keep))
    engine = _engine(ctx)
    if dry_run:
        with engine.connect() as conn:
            old = [d for _, d in day_partitions(conn) if d < cutoff]
        click.echo(f"would drop {len(old)} day(s) of fixes before {cutoff}")
        return
    with engine.begin() as conn:
        done = drop_fixes_before(conn, cutoff, settings.timezone)
        audit(conn, "system", "retention", f"fixes before {cutoff}", details=done)
    click.echo(f"dropped {done['partitions']} day(s) ({done['fixes']:,} fixes) before {cutoff}; "
               f"cleared {done['tracks']:,} track lines; results kept")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--threads", type=int, default=8, show_default=True,
              help="Threads per process.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes: 1 serves with waitress; more with gunicorn (about one per core).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web app."""
    _serve(ctx, host, port, threads, workers)


def _serve(ctx: click.Context, host: str, port: int, threads: int, workers: int = 1) -> None:
    from web import create_app

    _engine(ctx)  # database up and migrated before the first request
    settings = _settings(ctx)
    click.echo(f"serving on http://{host}:{port}/ with {workers} process(es) x {threads} "
               "threads (Ctrl-C stops)")
    if workers <= 1:
        from waitress import serve as waitress_serve

        waitress_serve(create_app({"GEO_PATROL_SETTINGS": settings}), host=host, port=port,
                       threads=threads, ident="geo-patrol")
        return
    from gunicorn.app.base import BaseApplication

    _engine(ctx).dispose()  # each worker opens its own connections after the fork

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "threads": threads, "worker_class": "gthread",
                               "accesslog": None, "timeout": 120}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app({"GEO_PATROL_SETTINGS": settings})

    Gunicorn().run()


@cli.group("demo", cls=_Group, invoke_without_command=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--serve/--no-serve", "do_serve", default=True, show_default=True,
              help="Serve the web app at the end.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.pass_context
def demo(ctx: click.Context, seed: int, scale: str, do_serve: bool, host: str,
         port: int) -> None:
    """The whole product on a generated Baotou: database up, demo files generated (or reused)
    and loaded, the last 7 days analysed, a briefing exported, the web app served."""
    if ctx.invoked_subcommand is not None:
        return
    import datetime as dt

    from geo_patrol.analysis.run import analyze
    from geo_patrol.demo.generate import TZ
    from geo_patrol.demo.run import demo_accounts, demo_dir, ensure_files, last_days, load_demo
    from geo_patrol.store.results import find_run as results_run
    from geo_patrol.render.briefing import busiest_district, export_briefing

    settings = _settings(ctx)
    engine = _engine(ctx)
    until = dt.datetime.now(TZ).date()
    root = demo_dir(settings, seed, scale, until)
    manifest = ensure_files(root, seed=seed, scale=scale, until=until)
    click.echo(f"demo files: {root} ({manifest.counts['fixes']} fixes, "
               f"{manifest.counts['volunteers']} volunteers)")
    load_demo(engine, root, settings, click.echo)
    days = min(7, manifest.days)
    summary = analyze(engine, *last_days(until, days), settings=settings)
    s = summary.stats
    click.echo(f"analysis #{summary.run_id} of the last {days} days: coverage "
               f"{100 * (s['coverage'] or 0):.1f}%, {s['hazards_overdue'] + s['hazards_never']} "
               f"of {s['hazards']} hazards overdue, {s['gaps']} gaps ({summary.seconds:.1f} s)")
    with engine.connect() as conn:
        district = busiest_district(conn, summary.run_id)
        out = settings.data_dir / "briefings" / f"briefing-{district}-{until:%Y%m%d}.html"
        path = export_briefing(conn, summary.run_id, district, out, rules=settings.rules)
    click.echo(f"briefing: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    from geo_patrol.analysis.run import find_area
    from geo_patrol.planning.plan import PlanParams, make_plan
    from geo_patrol.render.plan import plan_briefing_html

    with engine.connect() as conn:
        proposal = make_plan(conn, results_run(conn, summary.run_id), find_area(conn, district),
                             PlanParams(zones=4, minutes=90), tz=settings.timezone)
    plan_path = out.with_name(f"plan-{district}-{until:%Y%m%d}.html")
    plan_path.write_text(plan_briefing_html(proposal), encoding="utf-8")
    b, a = proposal.before, proposal.after
    click.echo(f"plan: 4 zones, 90-minute loops; coverage {100 * b['coverage']:.1f}% -> "
               f"{100 * a['coverage']:.1f}% expected; {plan_path}")
    accounts = demo_accounts(engine, settings)
    click.echo(f"sign in as demo-command, demo-officer, demo-planner, demo-volunteer or "
               f"demo-admin: passwords in {accounts}")
    if do_serve:
        _serve(ctx, host, port, 8)


@demo.command("generate")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--until", default=None, help="Day after the last generated day (default today).")
@click.option("--days", type=int, default=None, help="Days of tracks (small 7, city 1).")
def demo_generate(seed: int, scale: str, out: Path, until: str | None,
                  days: int | None) -> None:
    """Write the demo's files (OSM XML, GeoJSON, XLSX, CSV, GPX) deterministically."""
    import datetime as dt

    from geo_patrol.demo.generate import generate

    day = dt.date.fromisoformat(until) if until else None
    manifest = generate(out, seed=seed, scale=scale, until=day, days=days)
    click.echo(f"{out}: {len(manifest.files)} files; {manifest.counts}; planted bad fixes "
               f"{manifest.planted}")


def main() -> None:
    cli(prog_name="geo-patrol")


if __name__ == "__main__":
    main()
