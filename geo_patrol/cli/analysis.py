"""Reading and analysing: area summary, analysis runs, gaps, hazard compliance, retention."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from geo_patrol.cli import Group, base_settings, cli, deployment_of, engine_of, settings_of

# -- reading --------------------------------------------------------------------------------

def _print_summary(engine: Any, level: str) -> None:
    from geo_patrol.services.results import area_summary

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
    _print_summary(engine_of(ctx), level)


# -- analysis -------------------------------------------------------------------------------

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


@cli.command("reanalyze")
@click.option("--from", "first", required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              help="Worker processes of the local Dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A running Dask scheduler (tcp://host:8786) instead of a local cluster.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--cities", "keys", default=None, metavar="KEY,KEY|all",
              help="These cities (comma-separated, or all) instead of --city's one.")
@click.pass_context
def reanalyze_cmd(ctx: click.Context, first: str, last: str, workers: int,
                  scheduler: str | None, no_progress: bool, keys: str | None) -> None:
    """Re-analyse history day by day on Dask distributed and store each city-day's visits
    (replacing those days only); windows of any length are then composed from them."""
    from geo_patrol.errors import InputError
    from geo_patrol.services.cities import cities, open_city
    from geo_patrol.services.history import reanalyze_cities

    try:
        a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        raise InputError(f"--from and --to are days (YYYY-MM-DD), not {first!r}, {last!r}"
                         ) from None
    if keys:
        known = cities(deployment_of(ctx))
        wanted = [c.key for c in known] if keys == "all" else \
            [k.strip() for k in keys.split(",") if k.strip()]
        opened = [open_city(deployment_of(ctx), base_settings(ctx).with_(city=k), known=known,
                            upgrade=True) for k in wanted]
        targets = [(o.engine, o.settings) for o in opened]
    else:
        targets = [(engine_of(ctx), settings_of(ctx))]
    summary = reanalyze_cities(targets, a, b, workers=workers, scheduler=scheduler,
                               progress=not no_progress, echo=click.echo)
    click.echo(f"{summary.days} days re-analysed ({summary.fixes} fixes) in {summary.cities} "
               f"cit{'y' if summary.cities == 1 else 'ies'} on {summary.workers} Dask workers "
               f"in {summary.seconds:.1f} s")


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

    from geo_patrol.services.analysis import analyze, default_params, parse_window
    from geo_patrol.services.results import find_area
    from geo_patrol.services.results import area_table

    settings = settings_of(ctx)
    window = parse_window(start, end, settings.timezone)
    params = default_params(settings)
    if radius_m is not None:
        params = replace(params, radius_m=radius_m)
    if stale_days is not None:
        params = replace(params, stale_days=stale_days)
    engine = engine_of(ctx)
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
    if "days" in s:
        click.echo(f"composed from {s['days']} days ({s['days_analysed']} analysed from their "
                   "fixes, the others stored)")
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

    from geo_patrol.analysis.places import place_texts
    from geo_patrol.services.results import find_area
    from geo_patrol.services.results import find_run, gap_table

    with engine_of(ctx).connect() as conn:
        run = find_run(conn, run_id)
        area_id = find_area(conn, area)["id"] if area else None
        table = gap_table(conn, run["id"], area_id=area_id, limit=limit)
    if as_json:
        click.echo(json.dumps(_json_rows(table), ensure_ascii=False))
        return
    click.echo(f"run #{run['id']} {run['window_start']:%Y-%m-%d} .. {run['window_end']:%Y-%m-%d}:"
               f" {len(table)} gaps shown")
    click.echo(f"  {'gap':<14} {'area':<14} {'length m':>9} {'hazards':>8} {'overdue':>8} "
               f"{'incidents':>9} {'priority':>8}  street (cross streets)")
    for place, r in zip(place_texts(table, "zh", length=False), table.itertuples(index=False)):
        name = (r.area or "-") + " " * max(0, 14 - 2 * len(r.area or "-"))
        click.echo(f"  {r.gap_key:<14} {name} {r.length_m:>9.0f} {r.hazards:>8} "
                   f"{r.hazards_overdue:>8} {r.incidents:>9} {r.priority:>8.2f}  {place}")


@cli.group(cls=Group)
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

    from geo_patrol.services.results import find_area
    from geo_patrol.privacy import mask_name
    from geo_patrol.services.results import find_run, hazard_table

    with engine_of(ctx).connect() as conn:
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


@cli.command("retention")
@click.option("--days", type=float, default=None,
              help="Keep this many days of raw fixes (default GEO_PATROL_RETENTION_DAYS, 180).")
@click.option("--dry-run", is_flag=True, help="Only say what would go.")
@click.pass_context
def retention(ctx: click.Context, days: float | None, dry_run: bool) -> None:
    """Delete raw fixes and track lines older than the retention period; coverage results,
    track counts and lengths stay."""
    from geo_patrol.services.retention import apply_retention, expired_days, retention_cutoff

    settings = settings_of(ctx)
    cutoff = retention_cutoff(settings, days)
    engine = engine_of(ctx)
    if dry_run:
        click.echo(f"would drop {len(expired_days(engine, cutoff))} day(s) of fixes before "
                   f"{cutoff}")
        return
    done = apply_retention(engine, settings, cutoff)
    click.echo(f"dropped {done['partitions']} day(s) ({done['fixes']:,} fixes) before {cutoff}; "
               f"cleared {done['tracks']:,} track lines; results kept")


