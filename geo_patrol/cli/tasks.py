"""``geo-patrol tasks``: a rota offered as tasks, checked against the volunteers' fixes,
verified reports paid in points, payout lists."""

from __future__ import annotations

from pathlib import Path

import click

from geo_patrol.cli import (
    Group,
    cli,
    csv_option,
    day_value,
    engine_of,
    settings_of,
    stored_id,
    write_table,
)


@cli.group("tasks", cls=Group)
def tasks() -> None:
    """Patrol tasks volunteers take on, their delivery, points and payouts."""


@tasks.command("offer")
@stored_id("rota")
@click.pass_context
def offer_cmd(ctx: click.Context, rota_id: int) -> None:
    """Offer each walk of a rota as a task (to the volunteer the rota gave it to)."""
    from geo_patrol.services.tasks import offer_rota

    made = offer_rota(engine_of(ctx), settings_of(ctx), rota_id, by="cli")
    click.echo(f"rota #{rota_id}: {made} tasks offered")


@tasks.command("add")
@click.option("--hazard", "hazard_id", type=int, required=True, help="The hazard to visit.")
@click.option("--day", required=True)
@click.option("--slot", required=True, type=click.Choice(["morning", "midday", "afternoon",
                                                          "evening"]))
@click.option("--volunteer", "number", default=None,
              help="Offer it to this roster number (default: anyone of the community).")
@click.pass_context
def add_cmd(ctx: click.Context, hazard_id: int, day: str, slot: str,
            number: str | None) -> None:
    """Make a task by hand: visit a hazard (a stop of the inspection dwell) in a slot."""
    from geo_patrol.services.tasks import make_task

    task_id = make_task(engine_of(ctx), settings_of(ctx), hazard_id=hazard_id,
                        day=day_value(day, "--day"), slot=slot, by="cli", number=number)
    click.echo(f"task #{task_id}: visit hazard {hazard_id} on {day}, {slot}")


@tasks.command("check")
@click.pass_context
def check_cmd(ctx: click.Context) -> None:
    """Check every accepted task whose window has closed against its taker's own fixes."""
    from geo_patrol.services.tasks import check

    done = check(engine_of(ctx), settings_of(ctx), by="cli")
    states = {s: sum(1 for c in done if c.state == s) for s in ("delivered", "partly", "missed")}
    click.echo(f"{len(done)} tasks checked: " + ", ".join(f"{n} {s}" for s, n in states.items())
               + f"; {sum(c.points for c in done)} points earned")


@tasks.command("credit-reports")
@click.pass_context
def credit_cmd(ctx: click.Context) -> None:
    """Pay verified reports in points where the reporter's fixes put them there."""
    from geo_patrol.services.tasks import credit_reports

    done = credit_reports(engine_of(ctx), settings_of(ctx), by="cli")
    click.echo(f"{len(done['paid'])} reports paid; {len(done['flagged'])} flagged for the "
               "verifier (place or time does not match the reporter's fixes)"
               + (f": {', '.join(map(str, done['flagged'][:20]))}" if done["flagged"] else ""))


@tasks.command("payout")
@click.option("--from", "start", required=True)
@click.option("--to", "end", required=True)
@csv_option()
@click.pass_context
def payout_cmd(ctx: click.Context, start: str, end: str, csv_path: Path | None) -> None:
    """Pay every unpaid point earned in the period: one line per volunteer with what it
    pays (an item is never paid twice)."""
    from geo_patrol.services.tasks import payout

    payout_id, lines = payout(engine_of(ctx), start=day_value(start, "--from"),
                              end=day_value(end, "--to"), by="cli")
    click.echo(f"payout #{payout_id}: {int(lines['points'].sum()) if len(lines) else 0} "
               f"points to {len(lines)} volunteers")
    write_table(lines, csv_path)
