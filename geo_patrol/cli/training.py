"""``geo-patrol training``: the share trained per community and course, the next batches,
courses and specialised teams. Sign-in sheets load with ``geo-patrol load training``."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from geo_patrol.cli import Group, cli, csv_option, engine_of, settings_of, write_table


@cli.group(cls=Group)
def training() -> None:
    """Training: courses, certified skills, batches planned from the gaps."""


def _within(ctx: click.Context, area: str | None) -> frozenset[int] | None:
    from geo_patrol.services.results import find_area, subtree_ids

    if not area:
        return None
    with engine_of(ctx).connect() as conn:
        return frozenset(subtree_ids(conn, find_area(conn, area)["id"]) or ())


_area = click.option("--area", default=None, help="Only this district or community (name or id).")
_csv = csv_option("Write the table as CSV (UTF-8 with BOM, opens in Excel) instead.")
_horizon = click.option("--expiring-days", type=int, default=60, show_default=True,
                        help="Certificates ending within this many days count as expiring.")


@training.command("status")
@_area
@_horizon
@_csv
@click.pass_context
def training_status_cmd(ctx: click.Context, area: str | None, expiring_days: int,
                        csv_path: Path | None) -> None:
    """Per community and course: volunteers it is for, current, expiring, expired, untrained."""
    from geo_patrol.services import training as service

    table = service.status(engine_of(ctx), settings_of(ctx), within=_within(ctx, area),
                           horizon_days=expiring_days)
    if write_table(table, csv_path):
        return
    if table.empty:
        click.echo("no course yet: load a sign-in sheet with `geo-patrol load training FILE`")
        return
    click.echo(f"{'community':<12} {'course':<16} {'for':>5} {'current':>8} {'expiring':>9} "
               f"{'expired':>8} {'untrained':>10} {'share':>7}")
    for r in table.itertuples(index=False):
        click.echo(f"{r.community:<12} {r.course:<16} {r.volunteers:>5} {r.current:>8} "
                   f"{r.expiring:>9} {r.expired:>8} {r.untrained:>10} "
                   f"{100 * r.share_current:>6.1f}%")


@training.command("batch")
@click.option("--course", required=True, help="Course name or id.")
@_area
@click.option("--size", type=int, default=30, show_default=True, help="Seats in the room.")
@_horizon
@_csv
@click.pass_context
def training_batch_cmd(ctx: click.Context, course: str, area: str | None, size: int,
                       expiring_days: int, csv_path: Path | None) -> None:
    """The next batches of COURSE: who is untrained, expired or expiring, by community and
    trade, sized to the room (names masked)."""
    from geo_patrol.services import training as service

    table = service.batches(engine_of(ctx), settings_of(ctx), course,
                            within=_within(ctx, area), size=size, horizon_days=expiring_days)
    if write_table(table, csv_path):
        return
    if table.empty:
        click.echo("nobody is due: every volunteer this course is for holds a current certificate")
        return
    for batch, people in table.groupby("batch", sort=True):
        trades = ", ".join(sorted(people["occupation"].unique()))
        click.echo(f"batch {batch}: {people['community'].iloc[0]}, {len(people)} "
                   f"volunteer{'s' if len(people) > 1 else ''} ({trades})")
        for r in people.itertuples(index=False):
            ends = "" if pd.isna(r.expires_on) else f" ends {r.expires_on}"
            click.echo(f"  {r.number}\t{r.name}\t{r.occupation}\t{r.standing}{ends}")


@training.command("courses")
@click.pass_context
def training_courses_cmd(ctx: click.Context) -> None:
    """Courses: the skill each certifies, its duty and validity, sessions and passes."""
    from geo_patrol.services import training as service

    for r in service.courses(engine_of(ctx)).itertuples(index=False):
        valid = f"{r.validity_months} months" if r.validity_months else "no expiry"
        duty = "everyone" if pd.isna(r.duty) else r.duty
        last = "-" if pd.isna(r.last_held) else r.last_held
        click.echo(f"#{r.id}\t{r.name}\t{r.skill}\tduty {duty}\t{valid}\t"
                   f"{r.sessions} sessions\t{r.passes} passes\tlast {last}")


@training.command("teams")
@_area
@click.pass_context
def training_teams_cmd(ctx: click.Context, area: str | None) -> None:
    """Specialised teams: per certified skill and community, who holds a current certificate."""
    from geo_patrol.services import training as service

    for r in service.teams(engine_of(ctx), settings_of(ctx),
                           within=_within(ctx, area)).itertuples(index=False):
        click.echo(f"{r.skill}\t{r.community}\t{r.members}\t{r.volunteers}")
