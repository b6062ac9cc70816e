"""``geo-patrol crime``: where property crime concentrates, when, its near-repeats, and
whether the hot spots predict. Incidents load with ``geo-patrol load incidents``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geo_patrol.cli import Group, cli, csv_option, day_value, engine_of, settings_of, write_table
from geo_patrol.vocab import CRIME_CLASSES

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@cli.group(cls=Group)
def crime() -> None:
    """Crime patterns: hot spots, times, near-repeats, predictive accuracy."""


def _study_options(f: Any) -> Any:
    for option in reversed([
        click.option("--area", default=None, help="A district or community (name or id)."),
        click.option("--class", "crime_class", default="property", show_default=True,
                     type=click.Choice([*CRIME_CLASSES, "all"]), help="Incident class."),
        click.option("--days", type=int, default=90, show_default=True,
                     help="Length of the window in days."),
        click.option("--until", default=None,
                     help="Last day of the window (YYYY-MM-DD; default: the latest incident)."),
        csv_option("Write the table as CSV (UTF-8 with BOM) instead."),
    ]):
        f = option(f)
    return f


def _data(ctx: click.Context, area: str | None, crime_class: str, days: int,
          until: str | None) -> Any:
    from geo_patrol.services import crime as service
    from geo_patrol.services.results import find_area

    engine = engine_of(ctx)
    area_id = None
    if area:
        with engine.connect() as conn:
            area_id = find_area(conn, area)["id"]
    data = service.load(engine, settings_of(ctx), service.Study(
        area_id=area_id, crime=crime_class, days=days, until=day_value(until, "--until")))
    click.echo(f"{len(data.incidents)} {crime_class} incidents, {data.start} – {data.end}"
               f" ({int(data.incidents['day'].isna().sum())} undated), "
               f"{len(data.segments)} street segments, "
               f"{int((data.on_segment < 0).sum())} farther than {service.SNAP_M:.0f} m "
               "from every street")
    return data


@crime.command("hotspots")
@_study_options
@click.option("--permutations", type=int, default=499, show_default=True)
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="False discovery rate across segments.")
@click.option("--order", type=int, default=2, show_default=True,
              help="Neighbours: segments up to this many steps along the streets.")
@click.option("--top", type=int, default=15, show_default=True, help="Segments listed.")
@click.pass_context
def hotspots_cmd(ctx: click.Context, area: str | None, crime_class: str, days: int,
                 until: str | None, csv_path: Path | None, permutations: int, alpha: float,
                 order: int, top: int) -> None:
    """Concentration on the streets and Getis–Ord Gi* hot spots (permutation inference,
    false discovery rate controlled)."""
    from geo_patrol.services import crime as service

    data = _data(ctx, area, crime_class, days, until)
    report = service.hotspots(data, permutations=permutations, alpha=alpha, order=order)
    table = report.table()
    if write_table(table, csv_path):
        return
    c = report.concentration
    click.echo("concentration: " + ", ".join(
        f"{100 * v:.1f}% of incidents on the top {100 * k:g}% of street length"
        for k, v in c.at.items()) + f"; {100 * c.segments_with_any:.1f}% of the length has "
        f"any; Gini {c.gini:.2f}")
    spots = report.spots
    click.echo(f"Gi* ({permutations} permutations, FDR {alpha:g}): {int(spots.hot.sum())} hot "
               f"and {int(spots.cold.sum())} cold segments of {len(table)}")
    for r in table.head(top).itertuples(index=False):
        click.echo(f"  #{r.segment_id}\t{r.street or '-'}\t{r.incidents} incidents\t"
                   f"z {r.z:.2f}\tp {r.p_sim:.3f}\t{r.spot or '-'}")


@crime.command("patterns")
@_study_options
@click.pass_context
def patterns_cmd(ctx: click.Context, area: str | None, crime_class: str, days: int,
                 until: str | None, csv_path: Path | None) -> None:
    """When: hour × weekday (or weekdays alone for dates-only records) and the weekly trend."""
    import pandas as pd

    from geo_patrol.services import crime as service

    data = _data(ctx, area, crime_class, days, until)
    r = service.patterns(data)
    if r.hours_known:
        table = pd.DataFrame(r.by_hour, index=list(WEEKDAYS),
                             columns=[f"{h:02d}" for h in range(24)])
    else:
        table = pd.DataFrame({"weekday": list(WEEKDAYS), "incidents": r.by_weekday})
    if write_table(table.reset_index(names="weekday") if r.hours_known else table, csv_path):
        return
    click.echo(f"{100 * r.timed_share:.0f}% of dated incidents carry a time of day; "
               f"{r.undated} undated")
    if r.hours_known:
        click.echo("hour     " + " ".join(f"{h:>3}" for h in range(24)))
        for name, row in zip(WEEKDAYS, r.by_hour):
            click.echo(f"{name:<8} " + " ".join(f"{v:>3}" for v in row))
        peak = r.by_hour.sum(axis=0)
        top = sorted(range(24), key=lambda h: -peak[h])[:3]
        click.echo("busiest hours: " + ", ".join(f"{h:02d}:00" for h in sorted(top)))
    else:
        click.echo("dates only: the time of day is unknown, counted by weekday")
        for name, v in zip(WEEKDAYS, r.by_weekday):
            click.echo(f"{name:<8} {v}")
    click.echo("by week (Monday):")
    for monday, v in r.weeks.items():
        click.echo(f"  {monday}  {v:>4}  " + "#" * int(v * 40 / max(r.weeks.max(), 1)))


@crime.command("near-repeat")
@_study_options
@click.option("--space-step", type=float, default=100.0, show_default=True, help="Metres.")
@click.option("--space-bands", type=int, default=5, show_default=True)
@click.option("--time-step", type=int, default=7, show_default=True, help="Days.")
@click.option("--time-bands", type=int, default=4, show_default=True)
@click.option("--permutations", type=int, default=99, show_default=True)
@click.option("--today", default=None, help="Day the alerts are open on (default: today).")
@click.pass_context
def near_repeat_cmd(ctx: click.Context, area: str | None, crime_class: str, days: int,
                    until: str | None, csv_path: Path | None, space_step: float,
                    space_bands: int, time_step: int, time_bands: int, permutations: int,
                    today: str | None) -> None:
    """The Knox test over space–time bands (Monte Carlo) and the alert areas it implies."""
    from geo_patrol.services import crime as service

    data = _data(ctx, area, crime_class, days, until)
    report = service.near_repeat(data, settings_of(ctx), space_step=space_step,
                                 space_bands=space_bands, time_step=time_step,
                                 time_bands=time_bands, permutations=permutations,
                                 today=day_value(today, "--today"))
    k = report.knox
    table = service.knox_table(k)
    if write_table(table, csv_path):
        return
    click.echo(f"Knox ratios (observed / expected pairs, {permutations} permutations; "
               "* p <= 0.05):")
    click.echo(f"{'metres':<12}" + "".join(f"{f'{j * time_step}-{(j + 1) * time_step - 1} d':>12}"
                                          for j in range(time_bands)))
    sig = k.significant()
    for i in range(space_bands):
        cells = "".join(f"{f'{k.ratio[i, j]:.2f}' + ('*' if sig[i, j] else ' '):>12}"
                        for j in range(time_bands))
        click.echo(f"{f'{i * space_step:g}-{(i + 1) * space_step:g}':<12}{cells}")
    if report.risk is None:
        click.echo("no near-repeat pattern: no excess of pairs close in space and time")
    else:
        metres, span = report.risk
        click.echo(f"near-repeat risk: within {metres:g} m for {span} days; "
                   f"{len(report.alerts)} alert areas open on {report.today}")


@crime.command("evaluate")
@_study_options
@click.option("--holdout-weeks", type=int, default=4, show_default=True)
@click.option("--permutations", type=int, default=199, show_default=True)
@click.pass_context
def evaluate_cmd(ctx: click.Context, area: str | None, crime_class: str, days: int,
                 until: str | None, csv_path: Path | None, holdout_weeks: int,
                 permutations: int) -> None:
    """Do the hot spots and forecasts predict? Hit rate, PAI and PEI on held-out weeks,
    each scored against what Gi*, kernel density, the self-exciting process, the last
    period's incidents and a random choice learnt from the weeks before it."""
    from geo_patrol.services import crime as service

    data = _data(ctx, area, crime_class, days, until)
    ev = service.evaluate(data, holdout_weeks=holdout_weeks, permutations=permutations)
    table = ev.table()
    if write_table(table, csv_path):
        return
    click.echo(f"learnt from {ev.train[0]} – {ev.train[1]} ({ev.train_incidents} incidents) "
               f"and each held-out week from the weeks before it, tested on {ev.test[0]} – "
               f"{ev.test[1]} ({ev.weeks} weeks, {ev.test_incidents} incidents)")
    click.echo(f"{'length':>7} {'method':<12} {'hits':>5} {'hit rate':>9} {'PAI':>6} {'PEI':>6}")
    for p in ev.rows:
        click.echo(f"{100 * p.length_share:>6g}% {p.method:<12} {p.hits:>5} "
                   f"{100 * p.hit_rate:>8.1f}% {p.pai:>6.2f} {p.pei:>6.2f}")
    v = ev.verdict()
    if v["predicts"]:
        click.echo(f"at 5% of the length Gi* hot spots predict better than the baselines "
                   f"(PAI {v['gi_star_pai']:.2f} against {v['baseline_pai']:.2f})")
    else:
        click.echo(f"at 5% of the length Gi* hot spots do NOT predict better than the "
                   f"baselines (PAI {v['gi_star_pai']:.2f} against {v['baseline_pai']:.2f}): "
                   "show them as a description of the past, not a forecast")
    f = ev.favoured()
    if f["beats_random"]:
        click.echo(f"favoured for the rota's hot spots: {f['method']} (PAI {f['pai']:.2f} at "
                   f"5% of the length; next {f['runner_up']} {f['runner_up_pai']:.2f}, random "
                   f"{f['random_pai']:.2f})")
    else:
        click.echo("no method beats a random choice: the rota keeps the Gi* hot spots")
