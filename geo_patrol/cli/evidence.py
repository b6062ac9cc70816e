"""``geo-patrol evidence``: which forecast the rota's hot spots come from and why, and the
patrol dose a rota's hot spots received against its plan."""

from __future__ import annotations

from pathlib import Path

import click

from geo_patrol.cli import Group, cli, day_value, engine_of, settings_of, write_table

METHODS = {"sepp": "the self-exciting forecast", "gi_star": "Gi* hot spots",
           "kde": "kernel density", "last_period": "last period's incidents"}


@cli.group(cls=Group)
def evidence() -> None:
    """Evidence: the forecast behind the hot spots, and the patrol dose delivered."""


@evidence.command("forecast")
@click.pass_context
def forecast_cmd(ctx: click.Context) -> None:
    """The forecast the city's rolling evaluation favours for the rota's hot spots, and
    why (``geo-patrol crime evaluate`` for the whole table)."""
    from geo_patrol.services import evidence as service

    f = service.forecast_choice(engine_of(ctx), settings_of(ctx))
    if f.get("why_not"):
        click.echo(f"the rota's hot spots come from Gi* hot spots: {f['why_not']}")
    elif f["beats_random"]:
        click.echo(f"the rota's hot spots come from {METHODS[f['method']]}: on the "
                   f"{f['weeks']} held-out weeks its hottest 5% of the street length caught "
                   f"{f['pai']:.1f}× their share of incidents (next best "
                   f"{METHODS.get(f['runner_up'], f['runner_up'])} {f['runner_up_pai']:.1f}×, "
                   f"random {f['random_pai']:.1f}×)")
    else:
        click.echo("no forecast beats a random choice on the held-out weeks: the rota's hot "
                   "spots are the Gi* hot spots of the past")


@evidence.command("dose")
@click.option("--rota", "rota_id", type=int, required=True, help="A stored rota's id.")
@click.option("--today", default=None, help="Measure up to this day (YYYY-MM-DD).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None,
              help="Write the table per hot spot and week as CSV (UTF-8 with BOM) instead.")
@click.pass_context
def dose_cmd(ctx: click.Context, rota_id: int, today: str | None,
             csv_path: Path | None) -> None:
    """Minutes of presence at the rota's hot spots (stays of the city's stay rule, from
    volunteers' clean fixes) against its plan and Koper's 10–15-minute stop, per hot spot
    and week."""
    from geo_patrol.analysis.dose import KOPER_MIN
    from geo_patrol.services import evidence as service

    got = service.dose(engine_of(ctx), settings_of(ctx), rota_id,
                       today=day_value(today, "--today"))
    table = got.table()
    if write_table(table, csv_path):
        return
    t = got.totals()
    r = got.rota
    click.echo(f"rota {rota_id} ({r['area']}, from {r['start_day']}, {r['days']} days), "
               f"measured up to {got.until}; hot spots from "
               f"{METHODS.get(got.forecast.get('method'), got.forecast.get('method'))}")
    if got.share is None:
        click.echo("no hot-spot stop is planned up to that day yet")
    else:
        click.echo(f"delivered {t['delivered_min']:.0f} of {t['planned_min']:.0f} planned "
                   f"minutes ({100 * got.share:.0f}%) at {len(got.places)} hot spots; "
                   f"{t['cells_met']} of {t['cells_planned']} planned stops met in full")
    click.echo(f"stays (≥ {got.stay_min:g} min within {got.radius_m:g} m): {t['stays']}, "
               f"{t['koper_stays']} of Koper's {KOPER_MIN[0]:g}–{KOPER_MIN[1]:g} minutes; "
               f"{t['minutes']:.0f} minutes of presence in all")
    click.echo(f"{'week':<10} {'street':<28} {'planned':>7} {'present':>7} {'delivered':>9} "
               f"{'share':>6}")
    for row in table.itertuples():
        name = " / ".join(str(v) for v in (row.street, row.cross_a, row.cross_b)
                          if isinstance(v, str) and v) or f"segment {row.segment_id}"
        share = "-" if row.share != row.share else f"{100 * row.share:.0f}%"
        click.echo(f"{row.week!s:<10} {name[:28]:<28} {row.planned_min:>7.0f} "
                   f"{row.minutes:>7.0f} {row.delivered_min:>9.0f} {share:>6}")
