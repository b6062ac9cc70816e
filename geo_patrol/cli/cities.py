"""cities"""

from __future__ import annotations

import click

from geo_patrol.cli import Group, base_settings, cli, deployment_of


@cli.group("cities", cls=Group, invoke_without_command=True)
@click.pass_context
def cities_group(ctx: click.Context) -> None:
    """The deployment's cities (each with its own data, CRS, time zone, rules and accounts);
    without a subcommand, list them."""
    if ctx.invoked_subcommand is not None:
        return
    from geo_patrol.services.cities import cities

    known = cities(deployment_of(ctx))
    if not known:
        click.echo("no city yet: add one with `geo-patrol cities add KEY --name NAME`")
        return
    for c in known:
        click.echo(f"{c.key}\t{c.name}\t{c.name_en or ''}\t{c.timezone}\t"
                   f"{c.metric_crs or 'CRS of the first data'}\t"
                   f"retention {c.retention_days or base_settings(ctx).retention_days:g} days")


def _city_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed([
            click.option("--name", help="Name in Chinese (e.g. 赤峰市)."),
            click.option("--name-en", help="Name in English (e.g. Chifeng)."),
            click.option("--timezone", help="Time zone of its days (e.g. Asia/Shanghai)."),
            click.option("--crs", "metric_crs",
                         help="Metric CRS (e.g. EPSG:32650); by default the UTM zone of the "
                              "first data loaded."),
            click.option("--retention-days", type=float,
                         help="Days its raw fixes are kept (the deployment's default if "
                              "not given)."),
            click.option("--rules", "rules_file", type=click.Path(dir_okay=False),
                         help="TOML file of its hazard categories and visit rules.")]):
        f = option(f)
    return f


@cities_group.command("add")
@click.argument("key")
@_city_options
@click.pass_context
def cities_add(ctx: click.Context, key: str, name: str | None, **fields: object) -> None:
    """Add the city KEY (a-z, 0-9, _: what --city takes) and create its tables."""
    from geo_patrol.cities import City
    from geo_patrol.services.cities import add_city

    settings = base_settings(ctx)
    fields["timezone"] = fields["timezone"] or settings.timezone
    city = add_city(deployment_of(ctx), settings, City(key=key, name=name or key, **fields))
    click.echo(f"city {city.key} ({city.name}) added: load its boundaries with "
               f"`geo-patrol --city {city.key} load boundaries FILE`")


@cities_group.command("set")
@click.argument("key")
@_city_options
@click.pass_context
def cities_set(ctx: click.Context, key: str, **fields: object) -> None:
    """Change the city KEY's names, time zone, rules or retention (its CRS only before any
    data is stored)."""
    from geo_patrol.services.cities import change_city

    city = change_city(deployment_of(ctx), key, **fields)
    click.echo(f"city {city.key} ({city.name}): {city.timezone}, "
               f"{city.metric_crs or 'CRS of the first data'}")
