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
@click.pass_context
def load_boundaries_cmd(ctx: click.Context, files: tuple[Path, ...], **options: Any) -> None:
    """Load district, police station, community or grid boundaries (GeoJSON/GPKG/Shapefile)."""
    from geo_patrol.loading import load_boundaries

    engine = _engine(ctx)
    for path in files:
        result = load_boundaries(engine, path, settings=_settings(ctx), **options)
        for repair in result.details.get("repairs", []):
            click.echo(f"  repaired feature {repair['feature']} ({repair['name']}): "
                       f"{repair['reason']}; area change {repair['area_change_pct']:+.4f}%")
        click.echo(result.summary_line())


@load.command("streets")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def load_streets_cmd(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Load the street network from local OSM files (.osm, .osm.bz2, .osm.pbf)."""
    from geo_patrol.loading import load_streets

    engine = _engine(ctx)
    for path in files:
        click.echo(load_streets(engine, path, settings=_settings(ctx)).summary_line())


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
