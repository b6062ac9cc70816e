"""``geo-patrol campaign``: hazard-clearing campaigns (such as 双清双打) and their progress
toward zero."""

from __future__ import annotations

from pathlib import Path

import click

from geo_patrol.cli import Group, cli, csv_option, day_value, engine_of, settings_of, write_table


@cli.group(cls=Group)
def campaign() -> None:
    """Campaigns: period, districts, target categories; progress toward zero."""


@campaign.command("create")
@click.option("--name", required=True)
@click.option("--from", "start", required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last day (YYYY-MM-DD).")
@click.option("--district", "districts", multiple=True, required=True,
              help="A district (name or id); repeat for several.")
@click.option("--category", "categories", multiple=True, required=True,
              help="A target hazard category (rules.toml key or its Chinese name); repeat.")
@click.pass_context
def create_cmd(ctx: click.Context, name: str, start: str, end: str, districts: tuple[str, ...],
               categories: tuple[str, ...]) -> None:
    """Create a campaign."""
    from geo_patrol.services import campaigns as service
    from geo_patrol.services.results import find_area

    engine, settings = engine_of(ctx), settings_of(ctx)
    with engine.connect() as conn:
        ids = [find_area(conn, d, "district")["id"] for d in districts]
    cats = [settings.rules.category_of(c) or c for c in categories]
    cid = service.create(engine, settings, name=name, starts_on=day_value(start, "--from"),
                         ends_on=day_value(end, "--to"), districts=ids, categories=cats,
                         by="cli")
    click.echo(f"campaign #{cid} {name}: {start} – {end}, {len(ids)} districts, "
               f"{', '.join(sorted(set(cats)))}")


@campaign.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """Campaigns, newest first."""
    from geo_patrol.services import campaigns as service

    table = service.listing(engine_of(ctx))
    if table.empty:
        click.echo("no campaign yet: create one with `geo-patrol campaign create`")
    for r in table.itertuples():
        click.echo(f"#{r.id}\t{r.name}\t{r.starts_on} – {r.ends_on}\t{', '.join(r.districts)}"
                   f"\t{', '.join(r.categories)}")


@campaign.command("progress")
@click.argument("name_or_id")
@click.option("--on", default=None, help="Count up to this day (default: today).")
@csv_option("Write the per-district table as CSV instead.")
@click.option("--never-visited-csv", type=click.Path(path_type=Path), default=None,
              help="Also write the units never visited as CSV.")
@click.pass_context
def progress_cmd(ctx: click.Context, name_or_id: str, on: str | None, csv_path: Path | None,
                 never_visited_csv: Path | None) -> None:
    """Per district and category: found, visited, never visited, rectified, cleared, open;
    the burn-down; schools checked in their windows."""
    from geo_patrol.services import campaigns as service

    p = service.progress(engine_of(ctx), settings_of(ctx), name_or_id, on=day_value(on, "--on"))
    if never_visited_csv is not None:
        write_table(p.never_visited, never_visited_csv)
    if write_table(p.table, csv_path):
        return
    c, t = p.campaign, p.totals
    click.echo(f"{c['name']} ({c['starts_on']} – {c['ends_on']}), counted to {p.through}: "
               f"{t['found']} found, {t['visited']} visited, {t['rectified']} rectified, "
               f"{t['cleared']} cleared, {t['open']} still open, {t['never_visited']} never "
               "visited")
    click.echo(f"{'district':<10} {'category':<24} {'found':>6} {'visited':>8} {'never':>6} "
               f"{'rectified':>10} {'cleared':>8} {'open':>5}")
    for r in p.table.itertuples():
        click.echo(f"{r.district:<10} {r.category:<24} {r.found:>6} {r.visited:>8} "
                   f"{r.never_visited:>6} {r.rectified:>10} {r.cleared:>8} {r.open:>5}")
    step = max(1, len(p.days) // 12)
    click.echo("open hazards by day:")
    for r in p.days.iloc[::step].itertuples():
        click.echo(f"  {r.day}  {r.open:>4} open  {r.visited:>4} visited")
    for r in p.schools.itertuples():
        click.echo(f"schools in {r.district}: {r.checked_days} of {r.due_days} school days "
                   f"checked in their windows")
