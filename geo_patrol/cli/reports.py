"""``geo-patrol reports``: volunteers' reports from the street, triaged from the command line
(as the district command) and the command's figures."""

from __future__ import annotations

from pathlib import Path

import click

from geo_patrol.cli import Group, cli, csv_option, engine_of, settings_of, write_table


@cli.group("reports", cls=Group)
def reports() -> None:
    """Volunteers' reports (随手拍): triage and figures."""


@reports.command("triage")
@click.argument("report_id", type=int)
@click.option("--action", required=True,
              type=click.Choice(["verified", "rejected", "merged", "hazard", "station"]))
@click.option("--answer", default=None, help="What the reporter reads (needed to reject).")
@click.option("--merge-into", type=int, default=None, help="The earlier report (merged).")
@click.option("--hazard-category", default=None, help="The hazard's category (hazard).")
@click.pass_context
def triage_cmd(ctx: click.Context, report_id: int, action: str, answer: str | None,
               merge_into: int | None, hazard_category: str | None) -> None:
    """Decide on a pending report as the district command (audit-logged as ``cli``); a true
    one is paid once where the reporter's own track puts them at the place and time."""
    from geo_patrol.access import Principal, Role
    from geo_patrol.services.reports import triage

    done = triage(engine_of(ctx), settings_of(ctx), Principal(0, "cli", Role.COMMAND),
                  report_id, action=action, answer=answer, merge_into=merge_into,
                  hazard_category=hazard_category)
    paid = f"{done.points} points paid" if done.points else \
        "not paid: the reporter's own track does not put them there" if done.flagged else \
        "no points"
    click.echo(f"report #{report_id}: {done.outcome}; {paid}")


@reports.command("figures")
@click.option("--from", "start", required=True, help="First day (local).")
@click.option("--to", "end", required=True, help="Last day (local, inclusive).")
@csv_option()
@click.pass_context
def figures_cmd(ctx: click.Context, start: str, end: str, csv_path: Path | None) -> None:
    """Reports per community and category in the period: verified, rejected, merged,
    pending, hazards added, median hours to triage (counts only)."""
    from geo_patrol.services.analysis import parse_window
    from geo_patrol.services.reports import figures

    settings = settings_of(ctx)
    since, until = parse_window(start, end, settings.timezone)
    found = figures(engine_of(ctx), settings, since=since, until=until)
    if write_table(found["table"].drop(columns=["community_id"]), csv_path):
        click.echo(f"written {csv_path}")
    share = found["share_verified"]
    hours = found["triage_h"]
    click.echo(f"{found['reports']} reports; "
               f"{'—' if share is None else f'{100 * share:.0f}%'} of those triaged verified; "
               f"median time to triage {'—' if hours is None else f'{hours:.1f} h'}; "
               f"{found['hazards']} hazards added")
    for r in found["table"].itertuples():
        click.echo(f"  {r.community}  {r.category}: {r.reports} reports, {r.verified} verified,"
                   f" {r.rejected} rejected, {r.merged} merged, {r.pending} pending, "
                   f"{r.hazards} hazards")
