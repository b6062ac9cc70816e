"""Planning: patrol posts, zones and loops from a stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geo_patrol.cli import Group, cli, csv_option, engine_of, settings_of
from geo_patrol.planning.params import PlanParams

@cli.group(cls=Group)
def plan() -> None:
    """Plan patrols from the latest analysis: posts, balanced zones, loops and who walks them."""


@plan.command("posts")
@click.option("--k", "k", type=int, default=None, help="Number of posts (maximal covering).")
@click.option("--cover-all", is_flag=True,
              help="Instead: the fewest posts covering all demand (set covering).")
@click.option("--distance-m", type=float, default=500.0, show_default=True,
              help="Walking distance from a post along the streets.")
@click.option("--area", default=None, help="District or community (name or id).")
@click.option("--run", "run_id", type=int, default=None, help="Analysis run (the latest).")
@click.option("--time-limit", type=float, default=60.0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the posts as GeoJSON.")
@click.pass_context
def plan_posts_cmd(ctx: click.Context, k: int | None, cover_all: bool, distance_m: float,
                   area: str | None, run_id: int | None, time_limit: float,
                   output: Path | None) -> None:
    """Choose patrol posts at street nodes covering the most demand (stale streets, overdue
    hazards, incidents) within walking distance; reports the optimality gap."""
    import json

    from geo_patrol.services.planning import plan_posts
    from geo_patrol.services.results import find_area
    from geo_patrol.services.results import find_run

    if (k is None) == (not cover_all):
        raise click.UsageError("give --k N, or --cover-all")
    with engine_of(ctx).connect() as conn:
        run = find_run(conn, run_id)
        area_id = find_area(conn, area)["id"] if area else None
        posts = plan_posts(conn, run["id"], area_id, k=None if cover_all else k,
                           distance_m=distance_m, time_limit=time_limit)
    sol, total = posts.solution, posts.total_demand
    click.echo(f"{len(sol.chosen)} posts cover {sol.objective:.2f} of {total:.2f} demand "
               f"({100 * sol.objective / total if total else 0:.1f}%) within {distance_m:.0f} m; "
               f"{sol.status}, gap {100 * sol.gap:.2f}%, build {sol.build_s:.2f} s, "
               f"solve {sol.solve_s:.2f} s")
    if posts.greedy is not None:
        g = posts.greedy
        click.echo(f"greedy heuristic: {g.objective:.2f} "
                   f"({100 * g.objective / total if total else 0:.1f}%)")
    for feature in posts.features:
        lon, lat = feature["geometry"]["coordinates"]
        click.echo(f"  post at {lat:.6f}, {lon:.6f}: {feature['properties']['segments']} "
                   "segments within reach")
    if output is not None:
        output.write_text(json.dumps({"type": "FeatureCollection", "features": posts.features},
                                     ensure_ascii=False), encoding="utf-8")


#: The options that set a plan's parameters, with their help (their types and defaults are
#: :class:`PlanParams`').
_PLAN_OPTIONS: dict[str, str | None] = {
    "zones": None,
    "minutes": "Time budget of one loop.",
    "speed_kmh": "Walking speed.",
    "dwell_min": "An inspection stop at an overdue hazard.",
    "hazard_weight": "Demand of an overdue hazard, in km of unpatrolled street.",
    "incident_weight": "Demand of a recent incident near a street.",
    "alert_weight": "Demand of an open near-repeat alert area reaching a street.",
}


def _plan_option(name: str, text: str | None) -> Any:
    default = getattr(PlanParams(), name)
    return click.option("--" + name.replace("_", "-"), type=type(default), default=default,
                        show_default=True, help=text)


def _plan_options(command: Any) -> Any:
    for option in reversed([
        click.option("--area", required=True, help="District or community (name or id)."),
        *(_plan_option(name, text) for name, text in _PLAN_OPTIONS.items()),
        click.option("--run", "run_id", type=int, default=None, help="Analysis run (latest)."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="Write the plan (zones, posts, loops) as GeoJSON."),
        click.option("--briefing", type=click.Path(path_type=Path), default=None,
                     help="Write the plan as an offline HTML briefing."),
        click.option("--lang", type=click.Choice(["zh", "en"]), default="zh",
                     show_default=True),
        click.pass_context]):
        command = option(command)
    return command


def _make_plan(ctx: click.Context, area: str, zones: int, minutes: float, speed_kmh: float,
               dwell_min: float, hazard_weight: float, incident_weight: float,
               alert_weight: float, run_id: int | None, output: Path | None, briefing: Path | None,
               lang: str) -> Any:
    import json

    from geo_patrol.planning.plan import plan_geojson
    from geo_patrol.render.plan import plan_briefing_html
    from geo_patrol.services.places import embedded_tiles
    from geo_patrol.services.planning import plan_area
    from geo_patrol.services.results import find_area
    from geo_patrol.services.results import find_run

    settings = settings_of(ctx)
    with engine_of(ctx).connect() as conn:
        run = find_run(conn, run_id)
        result = plan_area(conn, run, find_area(conn, area),
                           PlanParams(zones=zones, minutes=minutes, speed_kmh=speed_kmh,
                                      dwell_min=dwell_min, hazard_weight=hazard_weight,
                                      incident_weight=incident_weight,
                                      alert_weight=alert_weight), settings=settings)
    if output is not None:
        output.write_text(json.dumps(plan_geojson(result), ensure_ascii=False),
                          encoding="utf-8")
        click.echo(f"plan written to {output}")
    if briefing is not None:
        with engine_of(ctx).connect() as conn:
            tiles = embedded_tiles(conn, tuple(result.segments.total_bounds))
        briefing.write_text(plan_briefing_html(result, tz=settings.timezone, lang=lang,
                                               tiles=tiles), encoding="utf-8")
        click.echo(f"plan briefing written to {briefing}")
    return result


@plan.command("zones")
@_plan_options
def plan_zones_cmd(ctx: click.Context, **options: Any) -> None:
    """Split an area into balanced zones, contiguous along the streets, around patrol posts;
    compared with today's communities."""
    result = _make_plan(ctx, **options)
    c = result.communities
    click.echo(f"{len(result.zones)} zones of {result.area['name']} (run #{result.run_id}): "
               f"workload max/mean {c['zones_imbalance']:.2f}; today's {c['count']} "
               f"communities: {c['imbalance']:.2f}")
    for z in result.zones.itertuples():
        click.echo(f"  zone {z.zone}: {z.segments} segments, {z.street_km} street km, "
                   f"{z.stale_km} km not patrolled, {z.overdue_hazards} overdue hazards, "
                   f"workload {z.workload}, {z.pieces} piece(s)")


@plan.command("loops")
@_plan_options
def plan_loops_cmd(ctx: click.Context, **options: Any) -> None:
    """A patrol loop per zone from its post through the most urgent stale streets within the
    time budget, who should walk it, and the coverage expected if the plan is followed."""
    from geo_patrol.render.i18n import crew_reason

    result = _make_plan(ctx, **options)
    for z in result.zones.itertuples():
        click.echo(f"  zone {z.zone}: loop {z.loop_km} km, {z.loop_min} min, "
                   f"{z.loop_streets} priority streets, {z.loop_hazards} hazard stops")
        for c in result.crew[result.crew["zone"] == z.zone].itertuples():
            click.echo(f"      {c.slot:<9} {c.number} {c.name}  ({crew_reason(c, 'en')})")
    b, a = result.before, result.after
    click.echo(f"coverage: last period {100 * b['coverage']:.1f}% -> expected "
               f"{100 * a['coverage']:.1f}%; hazard compliance {100 * b['hazard_compliance']:.1f}% "
               f"-> {100 * a['hazard_compliance']:.1f}% ({a['hazards_inspected']} inspections)")
    t = result.seconds
    click.echo(f"posts {t['posts_s']:.2f} s (gap {100 * result.posts_gap:.2f}%), zones "
               f"{t['zones_s']:.2f} s, loops {t['loops_s']:.2f} s")




@plan.command("force")
@click.option("--area", default=None, help="A district or community (name or id).")
@click.option("--weeks", type=int, default=4, show_default=True,
              help="Weeks of past patrols to count.")
@csv_option("Write every community x weekday x slot as CSV instead.")
@click.pass_context
def plan_force_cmd(ctx: click.Context, area: str | None, weeks: int,
                   csv_path: Path | None) -> None:
    """The force: volunteer-hours a week per community and time slot, from the patrols of
    the last weeks or as set with `plan force-set`."""
    from geo_patrol.cli import write_table
    from geo_patrol.planning.crew import SLOTS
    from geo_patrol.planning.force import weekly
    from geo_patrol.services.planning import force
    from geo_patrol.services.results import find_area

    engine = engine_of(ctx)
    area_id = None
    if area:
        with engine.connect() as conn:
            area_id = find_area(conn, area)["id"]
    table = force(engine, settings_of(ctx), area_id=area_id, weeks=weeks)
    if write_table(table, csv_path):
        return
    week = weekly(table, SLOTS)
    click.echo(f"volunteer-hours a week (patrols of the last {table.attrs['weeks']:g} weeks; "
               f"{int(table['set_hours'].notna().sum())} slots set by hand)")
    click.echo(f"{'community':<12} " + " ".join(f"{s:>10}" for s in SLOTS) + f" {'total':>8}")
    for r in week.itertuples(index=False):
        values = " ".join(f"{getattr(r, s):>10.1f}" for s in SLOTS)
        click.echo(f"{r.community:<12} {values} {r.total:>8.1f}")
    click.echo(f"{'all':<12} " + " ".join(f"{week[s].sum():>10.1f}" for s in SLOTS)
               + f" {week['total'].sum():>8.1f}")


@plan.command("force-set")
@click.option("--community", required=True, help="Community (name or id).")
@click.option("--weekday", required=True,
              type=click.Choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
@click.option("--slot", required=True, type=click.Choice(["morning", "midday", "afternoon",
                                                          "evening"]))
@click.option("--hours", type=float, default=None, help="Volunteer-hours it can give.")
@click.option("--clear", is_flag=True, help="Go back to what the patrols show.")
@click.pass_context
def plan_force_set_cmd(ctx: click.Context, community: str, weekday: str, slot: str,
                       hours: float | None, clear: bool) -> None:
    """Set the volunteer-hours a community can give in one weekday's slot (or clear it)."""
    from geo_patrol.services.planning import set_force
    from geo_patrol.services.results import find_area

    if (hours is None) == (not clear):
        raise click.UsageError("give --hours H or --clear")
    engine = engine_of(ctx)
    with engine.connect() as conn:
        place = find_area(conn, community, "community")
    set_force(engine, community_id=place["id"], weekday=weekday, slot=slot,
              hours=None if clear else hours, by="cli")
    click.echo(f"{place['name']} {weekday} {slot}: "
               + ("as the patrols show" if clear else f"{hours:g} volunteer-hours"))


@plan.command("force-load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def plan_force_load_cmd(ctx: click.Context, path: Path) -> None:
    """Set the volunteer-hours of an availability sheet (CSV or XLSX: community, weekday
    (周一…周日, 每天, 工作日, 周末), time slot (早间, 午间, 下午, 晚间), hours); all or nothing."""
    from geo_patrol.services.planning import load_force

    done = load_force(engine_of(ctx), path, by="cli")
    click.echo(f"{path.name}: {done['slots']} weekday slots set in {done['communities']} "
               "communities")


@plan.command("rota")
@click.option("--area", required=True, help="A district or community (name or id).")
@click.option("--from", "start", default=None, help="First day (default: tomorrow).")
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--revisit-days", type=int, default=3, show_default=True,
              help="Every street patrolled within this many days.")
@click.option("--minutes", type=float, default=90.0, show_default=True,
              help="One volunteer's loop in a slot.")
@click.option("--loops", "per_community", type=int, default=3, show_default=True,
              help="Candidate loops per community.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Draw of the randomised timetable.")
@click.option("--time-limit", type=float, default=60.0, show_default=True)
@click.option("--run", "run_id", type=int, default=None, help="Analysis run (latest).")
@csv_option("Write the walks as CSV.")
@click.pass_context
def plan_rota_cmd(ctx: click.Context, area: str, start: str | None, days: int,
                  revisit_days: int, minutes: float, per_community: int, seed: int,
                  time_limit: float, run_id: int | None, csv_path: Path | None) -> None:
    """Plan and store a rota sized to the force: loops per day and slot so that every street
    is patrolled within its interval, every hazard by its rule and the hot spots get their
    visits, timed at random inside those guarantees and given to volunteers near home; its
    gap, expected coverage against today's single-loop plan, and the hours missing."""
    from geo_patrol.cli import day_value, write_table
    from geo_patrol.planning.crew import SLOTS
    from geo_patrol.render.rota import hotspot_force
    from geo_patrol.services import rota

    settings = settings_of(ctx)
    engine = engine_of(ctx)
    rota_id, result = rota.create(engine, settings, area_id=area,
                                  start=day_value(start, "--from"), days=days,
                                  revisit_days=revisit_days, minutes=minutes, seed=seed,
                                  by="cli", run_id=run_id, time_limit=time_limit,
                                  per_community=per_community)
    shown = rota.view(engine, settings, rota_id, people=True)
    write_table(shown.table(), csv_path)
    s = result.summary()
    click.echo(f"rota #{rota_id} for {s['area']}, {result.start} + {days} days, every street "
               f"within {revisit_days} days: {s['walks']} loops of {s['candidates']} "
               f"candidates ({s['status']}, gap {100 * s['gap']:.2f}%, solver "
               f"{s['solver_s']:.1f} s, in all {s['seconds']:.1f} s)")
    click.echo(f"street coverage: last period {100 * s['last_period']:.1f}% -> "
               f"{100 * s['single_loop_after']:.1f}% with today's single-loop plan, "
               f"{100 * s['rota_after']:.1f}% with the rota")
    click.echo(f"due streets patrolled within {revisit_days} days: "
               f"{100 * s['due_met']:.1f}%; per window: "
               + ", ".join(f"{100 * v:.1f}%" for v in s["windows"]))
    click.echo(f"hazard inspections due by rule: {s['hazard_met']} of {s['hazard_due']} "
               f"(compliance last period {100 * s['hazards_before']:.1f}%)")
    click.echo(f"hot spots: {s['hotspots']} in risk slots {', '.join(s['risk_slots']) or 'none'}"
               f": {s['hotspot_met']} of {s['hotspot_due']} stops; every two hours kept in "
               f"{s['promises_kept']} of {s['promised']} slots visited; entropy of visit "
               f"times {s['entropy_bits']:.2f} bits, of start times "
               f"{s['start_entropy_bits']:.2f} bits (at most {s['entropy_max']:.0f})")
    if hotspot_force(s, "en"):
        click.echo(hotspot_force(s, "en"))
    click.echo(f"volunteer-hours used {s['hours_used']:.1f} of {s['hours_available']:.1f}; "
               f"{s['walks'] - s['unassigned']} walks given to volunteers, "
               f"{s['unassigned']} with nobody free")
    click.echo(f"{'day':<11} " + " ".join(f"{k:>9}" for k in SLOTS)
               + "  streets fresh  hazards in rule")
    for r in shown.week().itertuples(index=False):
        cells = " ".join(f"{getattr(r, f'{k}_walks'):>3} {getattr(r, f'{k}_hours'):>4.1f}h"
                         for k in SLOTS)
        hz = "" if r.hazards is None else f"{100 * r.hazards:>6.1f}%"
        click.echo(f"{r.day!s:<11} {cells}  {100 * r.streets:>12.1f}%  {hz}")
    if s["shortfall"]:
        click.echo(f"shortfall: at least {s['shortfall_h']:.1f} volunteer-hours in the period:")
        for row in sorted(s["shortfall"], key=lambda r: -r["hours"])[:15]:
            slots = ", ".join(f"{k} {row[k]:.1f}" for k in SLOTS if row[k] > 0.05)
            click.echo(f"  {row['community']}: {row['hours']:.1f} h, about "
                       f"{row['volunteers_a_day']:.1f} more volunteers a day ({slots}); "
                       f"{row['idle_on_duty']} on the roster to patrol did not in 4 weeks")
    else:
        click.echo("no shortfall: the force meets every target its loops can reach")


@plan.command("rotas")
@click.option("--area", default=None, help="Only this district or community.")
@click.pass_context
def plan_rotas_cmd(ctx: click.Context, area: str | None) -> None:
    """The stored rotas, newest first."""
    from geo_patrol.services.rota import listing
    from geo_patrol.services.results import find_area

    engine = engine_of(ctx)
    area_id = None
    if area:
        with engine.connect() as conn:
            area_id = find_area(conn, area)["id"]
    table = listing(engine, area_id=area_id)
    if table.empty:
        click.echo("no rotas yet: geo-patrol plan rota --area A")
    for r in table.itertuples(index=False):
        click.echo(f"#{r.id} {r.area} from {r.start_day} for {r.days} days (every street "
                   f"within {r.revisit_days}), {r.walks} walks, seed {r.seed}, by "
                   f"{r.created_by}")
