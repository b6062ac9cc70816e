"""Exports: the offline briefing and result layers."""

from __future__ import annotations

from pathlib import Path

import click

from geo_patrol.cli import Group, cli, city_of, engine_of, settings_of

# -- exports, serving, the demo ---------------------------------------------------------------

@cli.group(cls=Group)
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
    from geo_patrol.services.analysis import analyze, parse_window
    from geo_patrol.services.maps import export_briefing
    from geo_patrol.services.results import find_area
    from geo_patrol.services.results import find_run

    settings = settings_of(ctx)
    engine = engine_of(ctx)
    if (start is None) != (end is None):
        raise click.UsageError("give both --from and --to, or neither")
    if start is not None and end is not None:
        run_id = analyze(engine, *parse_window(start, end, settings.timezone),
                         settings=settings).run_id
    with engine.connect() as conn:
        run = find_run(conn, run_id)
        area = find_area(conn, district, "district")
        path = export_briefing(conn, run["id"], area["id"], output, settings, lang=lang,
                               basemap=basemap, city=city_of(ctx).city.label(lang))
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
    from geo_patrol.services.exports import export_layer
    from geo_patrol.services.results import find_run

    with engine_of(ctx).connect() as conn:
        run = find_run(conn, run_id)
        data, count = export_layer(conn, run["id"], layer, fmt, tz=settings_of(ctx).timezone)
    output.write_bytes(data)
    click.echo(f"{output}: {count} {layer} of run #{run['id']}")


