"""The ``geo-patrol`` command: thin click wrappers over the library."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from geo_patrol.errors import GeoPatrolError
from geo_patrol.settings import Settings

BUNDLED_BOUNDARIES = Path(__file__).resolve().parents[1] / "data" / "boundaries"
BAOTOU_DISTRICTS = BUNDLED_BOUNDARIES / "baotou_districts_wgs84.geojson"
CRS_HELP = "CRS of the coordinates: wgs84, cgcs2000, gcj02, bd09, EPSG:<code>, or 'file'."


class _Group(click.Group):
    """Turns domain errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeoPatrolError as exc:
            raise click.ClickException(str(exc)) from None


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


@load.command("hazards")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crs", default=None, help=CRS_HELP + " Required for CSV/XLSX.")
@_tz_option
@_column_option
@_encoding_option
@_sheet_option
@_stop_option
@click.pass_context
def load_hazards_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                     stop_on_error: bool, **options: Any) -> None:
    """Load campaign hazard ledgers; rows sharing an id are one hazard's status history."""
    from geo_patrol.loading import load_hazards

    _load_files(ctx, files, load_hazards, stop_on_error, mapping=_mapping(columns), **options)


@load.command("reports")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crs", default=None, help=CRS_HELP + " Required for CSV/XLSX.")
@_tz_option
@_column_option
@_encoding_option
@_sheet_option
@_stop_option
@click.pass_context
def load_reports_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                     stop_on_error: bool, **options: Any) -> None:
    """Load volunteers' reports (who, when, where, category, text, verification, reward)."""
    from geo_patrol.loading import load_reports

    _load_files(ctx, files, load_reports, stop_on_error, mapping=_mapping(columns), **options)


@load.command("incidents")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crs", default=None, help=CRS_HELP + " Vector files default to their own.")
@click.option("--category", default=None, help="Category for files without a category column.")
@_tz_option
@_column_option
@_encoding_option
@_sheet_option
@_stop_option
@click.pass_context
def load_incidents_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                       stop_on_error: bool, **options: Any) -> None:
    """Load police incidents (CSV/XLSX, GeoJSON, GeoPackage, Shapefile; any CRS)."""
    from geo_patrol.loading import load_incidents

    _load_files(ctx, files, load_incidents, stop_on_error, mapping=_mapping(columns), **options)


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


@cli.command("demo")
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Start the database, load Baotou's district boundaries and print a per-district summary."""
    from geo_patrol.loading import load_boundaries

    engine = _engine(ctx)
    result = load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                             name_field="name", code_field="adcode", settings=_settings(ctx))
    click.echo(result.summary_line())
    _print_summary(engine, "district")


def main() -> None:
    cli(prog_name="geo-patrol")


if __name__ == "__main__":
    main()
