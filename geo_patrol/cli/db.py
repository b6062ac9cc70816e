"""db"""

from __future__ import annotations

import sys
from typing import Any

import click

from geo_patrol.cli import Group, base_settings, cli, deployment_of

# -- database -------------------------------------------------------------------------------

@cli.group(cls=Group)
def db() -> None:
    """The database: the embedded PostGIS cluster, or DATABASE_URL when set."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Start (creating if needed) the database and migrate it to the latest schema."""
    settings = base_settings(ctx)
    where = "DATABASE_URL" if settings.database_url else str(settings.cluster_dir)
    click.echo(f"database ready ({where}), schema {_revisions(deployment_of(ctx))}")


def _revisions(deployment: Any) -> str:
    """Each city's schema revision, after migrating them all to the latest."""
    from geo_patrol.services.cities import cities, open_city
    from geo_patrol.settings import Settings
    from geo_patrol.services.database import current_revision

    known, parts = cities(deployment), []
    for city in known:
        engine = open_city(deployment, Settings(city=city.key), known=known,
                           upgrade=True).engine
        parts.append(f"{city.key} {current_revision(engine)}")
        engine.dispose()
    return "; ".join(parts) or "(no city yet)"


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the embedded PostGIS cluster."""
    from geo_patrol.services.database import local_cluster

    settings = base_settings(ctx)
    if settings.database_url:
        raise click.ClickException("DATABASE_URL is set: that server is not managed here")
    stopped = local_cluster(settings).stop()
    click.echo("database stopped" if stopped else "database was not running")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the database is running, where, and at which schema revision."""
    from geo_patrol.services.database import local_cluster

    settings = base_settings(ctx)
    if settings.database_url:
        click.echo(f"external database (DATABASE_URL), schema {_revisions(deployment_of(ctx))}")
        return
    cluster = local_cluster(settings)
    if not cluster.is_running():
        click.echo(f"stopped ({cluster.root})")
        sys.exit(3)
    click.echo(f"running on 127.0.0.1:{cluster.running_port()} ({cluster.root}), "
               f"schema {_revisions(deployment_of(ctx))}")


@db.command("migrate")
@click.option("--revision", default="head", show_default=True)
@click.option("--down", is_flag=True, help="Downgrade to REVISION instead ('base' empties it).")
@click.pass_context
def db_migrate(ctx: click.Context, revision: str, down: bool) -> None:
    """Apply schema migrations (Alembic) to the city's tables (--city, or the only city)."""
    from geo_patrol.services.cities import open_city
    from geo_patrol.services.database import current_revision, downgrade, migrate

    engine = open_city(deployment_of(ctx), base_settings(ctx)).engine
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
    from geo_patrol.services.database import database_url

    url = database_url(base_settings(ctx), start=False)
    click.echo(url.replace("postgresql+psycopg://", "postgresql://"))


