"""Phones that send positions: register them to volunteers, list them, disable them."""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from geo_patrol.cli import Group, cli, engine_of, settings_of


@cli.group(cls=Group)
def devices() -> None:
    """Position devices (Traccar Client, OsmAnd) registered to volunteers."""


def _echo_setup(url: str, device_id: str, secret: str | None) -> None:
    query = f"id={device_id}" + (f"&key={secret}" if secret else "")
    # the position port takes requests at its root ("…:5055/?id="), the web app at its
    # own path ("…/osmand?id=", no slash after it)
    base = url.rstrip("/")
    if urlsplit(url).path.strip("/") == "":
        base += "/"
    click.echo(f"server URL for the app: {base}?{query}")
    if secret:
        click.echo("(the secret is shown this once; `devices rotate` makes a new one)")


@devices.command("add")
@click.argument("device_id")
@click.argument("volunteer")
@click.option("--no-secret", "no_secret", is_flag=True,
              help="Register the phone without a secret (a weak device, for a transition: "
                   "its positions count for coverage, never for points).")
@click.option("--rebind", is_flag=True,
              help="Move DEVICE_ID from the volunteer whose active phone it is now.")
@click.option("--url", default="http://SERVER:5055/", show_default=True,
              help="The server address printed for the app.")
@click.pass_context
def devices_add(ctx: click.Context, device_id: str, volunteer: str, no_secret: bool,
                rebind: bool, url: str) -> None:
    """Register DEVICE_ID (the app's identifier) to the volunteer numbered VOLUNTEER, bound to
    a new random secret (printed once inside the server URL: the app sends it as key=)."""
    from geo_patrol.services.devices import add_device, new_secret

    secret = None if no_secret else new_secret()
    new = add_device(engine_of(ctx), device_id, volunteer, secret=secret, rebind=rebind)
    click.echo(f"{'registered' if new else 're-bound'} {device_id} to {volunteer}"
               + (" WITHOUT a secret: a weak device, its positions never earn points"
                  if no_secret else ""))
    _echo_setup(url, device_id, secret)


@devices.command("rotate")
@click.argument("device_id")
@click.option("--url", default="http://SERVER:5055/", show_default=True,
              help="The server address printed for the app.")
@click.pass_context
def devices_rotate(ctx: click.Context, device_id: str, url: str) -> None:
    """Give DEVICE_ID a new secret (the old one is refused from now on)."""
    from geo_patrol.services.devices import rotate_secret

    secret = rotate_secret(engine_of(ctx), device_id)
    click.echo(f"new secret for {device_id}")
    _echo_setup(url, device_id, secret)


@devices.command("list")
@click.pass_context
def devices_list(ctx: click.Context) -> None:
    """Devices, their volunteers and when each last sent a position."""
    from geo_patrol.privacy import mask_name
    from geo_patrol.services.devices import devices as device_table

    for r in device_table(engine_of(ctx), tz=settings_of(ctx).timezone).itertuples():
        state = "disabled" if r.disabled_at == r.disabled_at and r.disabled_at else "active"
        seen = r.last_seen.isoformat() if r.last_seen == r.last_seen and r.last_seen else "never"
        click.echo(f"{r.device_id}\t{r.number}\t{mask_name(r.name)}\t{state}\t"
                   f"secret={'yes' if r.has_secret else 'no (weak)'}\tlast={seen}")


@devices.command("remove")
@click.argument("device_id")
@click.pass_context
def devices_remove(ctx: click.Context, device_id: str) -> None:
    """Disable a device: its positions are refused from now on (stored ones stay)."""
    from geo_patrol.services.devices import remove_device

    remove_device(engine_of(ctx), device_id)
    click.echo(f"disabled {device_id}")
