"""Notifications: the sender on its own, channels (apprise URLs) and volunteers' rules."""

from __future__ import annotations

import click

from geo_patrol.cli import Group, base_settings, cli, engine_of, settings_of


@cli.group(cls=Group)
def notify() -> None:
    """Messages to people: the outbox's sender, channels and quiet hours."""


@notify.command("send")
@click.option("--until-empty", is_flag=True,
              help="Stop once nothing is due (else run until Ctrl-C).")
@click.option("--retry-base", type=float, default=5.0, show_default=True,
              help="Seconds before the first retry (doubled at each further one).")
@click.option("--max-attempts", type=int, default=6, show_default=True)
@click.option("--lease", type=float, default=60.0, show_default=True,
              help="Seconds a batch is held before another sender may take it.")
@click.pass_context
def notify_send(ctx: click.Context, until_empty: bool, retry_base: float, max_attempts: int,
                lease: float) -> None:
    """Send the queued messages of every city of the deployment (``serve`` runs one too)."""
    import signal
    import threading

    from geo_patrol.services.cities import open_deployment
    from geo_patrol.services.notify import SendPolicy, run_sender

    settings = base_settings(ctx)
    open_deployment(settings).dispose()  # up and migrated
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo("sending messages" + (" until none is due" if until_empty else
                                     " (Ctrl-C stops)"), err=True)
    try:
        done = run_sender(settings, stop=stop, until_empty=until_empty,
                          policy=SendPolicy(base_s=retry_base, max_attempts=max_attempts,
                                            lease_s=lease))
    except KeyboardInterrupt:
        return
    click.echo(f"handled {done} deliveries")


@notify.command("channel-add")
@click.argument("scope", type=click.Choice(["city", "station", "volunteer"]))
@click.argument("url")
@click.option("--station", default=None, help="The police station's name (scope station).")
@click.option("--volunteer", default=None, help="The roster number (scope volunteer).")
@click.option("--label", default="", help="A name for the channel (the group's name).")
@click.pass_context
def channel_add(ctx: click.Context, scope: str, url: str, station: str | None,
                volunteer: str | None, label: str) -> None:
    """Keep an apprise URL (wecombot://, dingtalk://, feishu://, mailto://, ntfy://,
    gotify://, json://...) for the city, a police station's group or one volunteer."""
    from geo_patrol.services.notify import add_channel

    channel_id = add_channel(engine_of(ctx), settings_of(ctx), scope=scope, url=url,
                             station=station, volunteer=volunteer, label=label, by="cli")
    click.echo(f"channel {channel_id} kept")


@notify.command("channel-remove")
@click.argument("channel_id", type=int)
@click.pass_context
def channel_remove(ctx: click.Context, channel_id: int) -> None:
    """Remove a channel (its past deliveries stay in the outbox)."""
    from geo_patrol.services.notify import remove_channel

    remove_channel(engine_of(ctx), channel_id, by="cli")
    click.echo(f"channel {channel_id} removed")


@notify.command("channels")
@click.pass_context
def channels_list(ctx: click.Context) -> None:
    """The channels kept (URLs with their secrets hidden)."""
    from geo_patrol.privacy import mask_name
    from geo_patrol.services.notify import channels

    for row in channels(engine_of(ctx)).itertuples():
        who = row.station if row.scope == "station" else \
            f"{row.number} {mask_name(row.name)}" if row.scope == "volunteer" else ""
        click.echo(f"{row.id}\t{row.scope}\t{who or ''}\t{row.label or ''}\t{row.url}")


@notify.command("rules")
@click.argument("volunteer")
@click.option("--on-duty-only/--always", default=False,
              help="Messages other than call-outs and SOS only while on duty.")
@click.option("--quiet", default=None, metavar="HH:MM-HH:MM",
              help="Quiet hours in the city's local time (call-outs and SOS still ring).")
@click.pass_context
def rules(ctx: click.Context, volunteer: str, on_duty_only: bool, quiet: str | None) -> None:
    """Set the volunteer numbered VOLUNTEER's on-duty and quiet-hour rules."""
    from geo_patrol.errors import InputError
    from geo_patrol.services.notify import set_rules, volunteer_id

    start, _, end = (quiet or "").partition("-")
    if quiet and not end:
        raise InputError("--quiet is HH:MM-HH:MM")
    engine = engine_of(ctx)
    set_rules(engine, volunteer_id(engine, volunteer), on_duty_only=on_duty_only,
              quiet_start=start or None, quiet_end=end or None)
    click.echo(f"rules of {volunteer} kept")
