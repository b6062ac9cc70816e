"""The demo: the whole product on a generated Baotou, or only its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geo_patrol.cli import Group, base_settings, cli, deployment_of, engine_of, settings_of

@cli.group("demo", cls=Group, invoke_without_command=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--serve/--no-serve", "do_serve", default=True, show_default=True,
              help="Serve the web app at the end.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.pass_context
def demo(ctx: click.Context, seed: int, scale: str, do_serve: bool, host: str,
         port: int) -> None:
    """The whole product on a generated Baotou: database up, demo files generated (or reused)
    and loaded, the last 7 days analysed, a briefing exported, the web app served."""
    if ctx.invoked_subcommand is not None:
        return
    from geo_patrol.services.demo import ensure_demo_city, run_demo

    key = ensure_demo_city(deployment_of(ctx), base_settings(ctx))
    ctx.obj["settings"] = base_settings(ctx).with_(city=key)
    done = run_demo(engine_of(ctx), settings_of(ctx), seed=seed, scale=scale, echo=click.echo)
    s = done.run.stats
    click.echo(f"analysis #{done.run.run_id} of the last {done.days} days: coverage "
               f"{100 * (s['coverage'] or 0):.1f}%, {s['hazards_overdue'] + s['hazards_never']} "
               f"of {s['hazards']} hazards overdue, {s['gaps']} gaps ({done.run.seconds:.1f} s)")
    click.echo(f"briefing: {done.briefing} ({done.briefing.stat().st_size / 1e6:.1f} MB)")
    b, a = done.plan_before, done.plan_after
    click.echo(f"plan: 4 zones, 90-minute loops; coverage {100 * b['coverage']:.1f}% -> "
               f"{100 * a['coverage']:.1f}% expected; {done.plan}")
    w = done.rota
    click.echo(f"rota: the week from {w.start}, every street within {w.revisit_days} days: "
               f"coverage {100 * w.last_period:.1f}% -> {100 * w.rota_after:.1f}% expected "
               f"(single-loop plan {100 * w.single_loop_after:.1f}%); due streets met "
               f"{100 * w.coverage:.1f}%; hazard inspections {w.rota.hazard_met} of "
               f"{w.rota.hazard_due}; shortfall at least {w.shortfall.sum():.0f} "
               f"volunteer-hours ({len(w.rota.walks)} loops, solver gap {100 * w.rota.gap:.2f}%)")
    loop = done.loop
    d = loop.dose
    if len(d):
        planned, delivered = float(d["planned_min"].sum()), float(d["delivered_min"].sum())
        taken = int(d["delivered"].sum() + d["partly"].sum() + d["missed"].sum())
        ways = "" if not loop.walked else " (" + ", ".join(
            f"{loop.walked.get(k, 0)} {k.replace('short', 'stopped short')}"
            for k in ("walked", "short", "skipped")) + ")"
        click.echo(f"tasks: the analysed week's rota as {int(d['tasks'].sum())} tasks, {taken} "
                   f"taken by volunteers free in their slot{ways}: "
                   f"{int(d['delivered'].sum())} delivered, {int(d['partly'].sum())} partly, "
                   f"{int(d['missed'].sum())} missed by their own fixes; dose "
                   f"{delivered:.0f} of {planned:.0f} planned minutes delivered "
                   f"({100 * delivered / max(planned, 1e-9):.0f}%; the week's loop "
                   f"{loop.seconds:.1f} s)")
    if loop.incidents:
        i = loop.incidents
        click.echo(f"incidents: the analysed week's loaded after its patrols; "
                   f"{i['at_hot_spots']} property incidents at its hot spots ({i['moved']} "
                   f"put there by the demo: crime stays where it concentrates); at the "
                   f"{i['dosed']} hot spots the patrols stayed at {i['kept']} happened, "
                   f"{i['prevented']} prevented (the demo's planted effect)")
    if loop.trial is not None:
        for line in trial_lines(loop.trial):
            click.echo(line if line.startswith(" ") else f"trial: {line}")
    if done.trial is not None:
        for line in trial_lines(done.trial):
            click.echo(line if line.startswith(" ") else
                       f"trial: {line}; the next week's rota posts its hot-spot patrols at its "
                       f"patrolled spots")
    click.echo(f"sign in as demo-command, demo-officer, demo-planner, demo-volunteer or "
               f"demo-admin: passwords in {done.accounts}")
    if do_serve:
        serve = cli.get_command(ctx, "serve")
        if serve is None:
            raise click.ClickException("the web app is not installed (no serve command)")
        ctx.invoke(serve, host=host, port=port, threads=8, workers=1)


def trial_lines(t: Any) -> list[str]:
    """A trial's design in one line, then its report as ``evidence trial report`` says it."""
    from geo_patrol.cli.evidence import report_lines, weeks_text

    design, arms = t.trial["design"], t.spots["arm"].value_counts()
    needed = design.get("weeks_needed")
    weeks = int(t.trial["weeks"])
    head = (f"#{t.trial['id']} in {t.trial['area'] or 'the city'}, {weeks_text(weeks)} from "
            f"{t.trial['start_day']}: {len(t.spots)} hot spots in {design['blocks']} blocks, "
            f"{arms.get('patrolled', 0)} patrolled and {arms.get('control', 0)} control, "
            f"outcome {t.trial['outcome']}; power "
            f"{100 * design['power']:.0f}% to find a {100 * t.trial['fall']:.0f}% fall "
            f"({'over 104' if needed is None else needed} weeks for "
            f"{100 * design['target_power']:.0f}%)")
    return [head] + [f"  {line}" for line in report_lines(t)]


@demo.command("generate")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--until", default=None, help="Day after the last generated day (default today).")
@click.option("--days", type=int, default=None, help="Days of tracks (small 7, city 1).")
def demo_generate(seed: int, scale: str, out: Path, until: str | None,
                  days: int | None) -> None:
    """Write the demo's files (OSM XML, GeoJSON, XLSX, CSV, GPX) deterministically."""
    import datetime as dt

    from geo_patrol.demo.generate import generate

    day = dt.date.fromisoformat(until) if until else None
    manifest = generate(out, seed=seed, scale=scale, until=day, days=days)
    click.echo(f"{out}: {len(manifest.files)} files; {manifest.counts}; planted bad fixes "
               f"{manifest.planted}")




@demo.command("live")
@click.option("--url", default="http://127.0.0.1:8000/osmand", show_default=True,
              help="Where the phones send: the web app's /osmand or the --positions-port.")
@click.option("--speed", type=float, default=10.0, show_default=True,
              help="Times faster than the patrols were walked.")
@click.option("--minutes", type=float, default=60.0, show_default=True,
              help="Minutes of the demo's busiest tracks to replay.")
@click.option("--concurrency", type=int, default=32, show_default=True,
              help="Phones sending at once.")
@click.pass_context
def demo_live(ctx: click.Context, url: str, speed: float, minutes: float,
              concurrency: int) -> None:
    """Replay the demo's tracks as Traccar Client requests, so the live map moves; on the way
    a phone sends an SOS and the command calls out, answered by replayed volunteers."""
    import threading

    from geo_patrol.demo.replay import send
    from geo_patrol.services.demo import live_replay, live_scenes

    requests = live_replay(engine_of(ctx), speed=speed, minutes=minutes)
    scenes = live_scenes(engine_of(ctx), settings_of(ctx), requests)

    def play(scene: Any) -> None:
        try:
            click.echo(f"  {scene.run()}")
        except Exception as exc:  # noqa: BLE001  (the replay goes on)
            click.echo(f"  {exc}", err=True)

    pending = sorted(scenes, key=lambda s: s.after)
    playing: list[threading.Thread] = []

    def progress(r: Any) -> None:
        if r.sent % 1000 == 0:
            click.echo(f"  {r.sent} sent, {r.ok} stored")
        while pending and r.sent >= pending[0].after:
            thread = threading.Thread(target=play, args=(pending.pop(0),), daemon=True)
            thread.start()
            playing.append(thread)

    span = requests[-1].at_s if requests else 0
    click.echo(f"replaying {len(requests)} positions of {len({r.device for r in requests})} "
               f"phones to {url} over {span / 60:.1f} min (x{speed:g})")
    done = send(url, requests, concurrency=concurrency, progress=progress, progress_every=1)
    for thread in playing:
        thread.join(timeout=60)
    click.echo(f"{done.ok} of {done.sent} stored in {done.seconds:.1f} s; p99 "
               f"{done.percentile(99):.0f} ms" + (f"; refused {done.failed}" if done.failed else ""))
    if done.failed:
        raise click.ClickException("some positions were not stored")
