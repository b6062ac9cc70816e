"""The job worker on its own (``geo-patrol serve`` also runs one)."""

from __future__ import annotations

import click

from geo_patrol.cli import cli, settings_of


@cli.command("worker")
@click.option("--until-empty", is_flag=True,
              help="Stop once the queue is empty (else run until Ctrl-C).")
@click.pass_context
def worker(ctx: click.Context, until_empty: bool) -> None:
    """Run queued jobs (zones plans, rotas) and timers (a call-out's next ring, an SOS not
    acknowledged) of every city of the deployment."""
    from geo_patrol.services import callouts  # noqa: F401  (registers its timers)
    from geo_patrol.services.cities import open_deployment
    from geo_patrol.runtime import settle
    from geo_patrol.services.jobs import run_worker

    settings = settings_of(ctx)
    open_deployment(settings).dispose()  # up and migrated: the queue's tables exist
    settle()
    click.echo("running jobs" + (" until the queue is empty" if until_empty else
                                 " (Ctrl-C stops)"))
    run_worker(settings, wait=not until_empty)
