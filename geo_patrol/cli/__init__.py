"""The ``geo-patrol`` command: thin click wrappers over :mod:`geo_patrol.services`, one module
per command group; domain errors become one line and exit status 1. Commands import the
services they run inside their functions, on purpose, so that ``geo-patrol --help`` starts
fast."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from geo_patrol.errors import GeoPatrolError
from geo_patrol.settings import Settings

CRS_HELP = "CRS of the coordinates: wgs84, cgcs2000, gcj02, bd09, EPSG:<code>, or 'file'."


class Group(click.Group):
    """Turns domain errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from geo_patrol.services.database import CONNECTION_LOST

        try:
            return super().invoke(ctx)
        except GeoPatrolError as exc:
            raise click.ClickException(str(exc)) from None
        except CONNECTION_LOST as exc:
            # the server went away mid-command: the transaction was rolled back
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise click.ClickException(f"database connection lost, nothing from this file "
                                       f"was stored: {first}") from None


def csv_option(help: str | None = None) -> Any:
    """The ``--csv PATH`` option of a command that prints a table: its ``csv_path`` goes to
    :func:`write_table`."""
    return click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None,
                        help=help)


def stored_id(kind: str) -> Any:
    """The required ``--{kind} ID`` option naming a stored rota, trial...: ``{kind}_id``."""
    return click.option(f"--{kind}", f"{kind}_id", type=int, required=True,
                        help=f"A stored {kind}'s id.")


def up_to_day_report(kind: str, verb: str, csv_help: str) -> Any:
    """The options of a report on a stored ``kind`` (rota, trial...) as of a day: ``--{kind}
    ID``, ``--today`` (``verb`` says what is done up to it) and ``--csv``, with the context
    passed."""
    def apply(fn: Any) -> Any:
        for option in reversed((stored_id(kind),
                                click.option("--today", default=None,
                                             help=f"{verb} up to this day (YYYY-MM-DD)."),
                                csv_option(csv_help), click.pass_context)):
            fn = option(fn)
        return fn
    return apply


def write_table(table: Any, csv_path: Path | None) -> bool:
    """Write ``table`` as CSV (UTF-8 with BOM, opens in Excel) when a path was given."""
    if csv_path is None:
        return False
    from geo_patrol.render.exports import table_csv

    tz = settings_of(click.get_current_context()).timezone
    csv_path.write_bytes(table_csv(table, tz=tz))
    click.echo(f"wrote {len(table)} rows to {csv_path}")
    return True


def day_value(value: str | None, option: str) -> Any:
    """A day given on the command line (``None`` when not given)."""
    from geo_patrol.clock import parse_day

    if not value:
        return None
    day = parse_day(value)
    if day is None:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option)
    return day


def base_settings(ctx: click.Context) -> Settings:
    """The deployment's settings, before any city is chosen."""
    return ctx.ensure_object(dict)["settings"]


def deployment_of(ctx: click.Context) -> Any:
    """The deployment's engine (started and migrated on first use in a command)."""
    from geo_patrol.services.cities import open_deployment

    obj = ctx.ensure_object(dict)
    if "deployment" not in obj:
        obj["deployment"] = open_deployment(base_settings(ctx))
    return obj["deployment"]


def city_of(ctx: click.Context) -> Any:
    """The city the command works on (``--city``, or the deployment's only one), opened."""
    from geo_patrol.services.cities import open_city

    obj = ctx.ensure_object(dict)
    if "city" not in obj:
        obj["city"] = open_city(deployment_of(ctx), base_settings(ctx), upgrade=True)
    return obj["city"]


def settings_of(ctx: click.Context) -> Settings:
    """The settings of the command's city (its time zone, CRS, rules and retention)."""
    return city_of(ctx).settings


def engine_of(ctx: click.Context) -> Any:
    """The engine of the command's city."""
    return city_of(ctx).engine


@click.group(cls=Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the embedded database lives (GEO_PATROL_DATA_DIR).")
@click.option("--city", default=None, metavar="KEY",
              help="The city to work on (GEO_PATROL_CITY); needed once there are several.")
@click.version_option(package_name="geo-patrol")
@click.pass_context
def cli(ctx: click.Context, verbose: int, data_dir: Path | None, city: str | None) -> None:
    """Patrol coverage and hazard mapping for volunteer community patrols."""
    from geo_patrol.render.assets import set_asset_root

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(data_dir=data_dir, city=city)
    set_asset_root(settings.asset_dir)
    ctx.ensure_object(dict)["settings"] = settings


def main() -> None:
    cli(prog_name="geo-patrol")


def _plugins() -> None:
    """Commands other packages register under the ``geo_patrol.commands`` entry point (the
    web app's ``serve``)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="geo_patrol.commands"):
        cli.add_command(ep.load(), ep.name)


# the command groups register themselves on ``cli``
from geo_patrol.cli import (  # noqa: E402,F401
    analysis, campaign, cities, crime, db, demo, devices, evidence, export, load, notify, plan,
    reports, tasks, training, users, worker)

_plugins()
