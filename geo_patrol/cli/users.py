"""Accounts: add, list, disable, change passwords, issue API tokens."""

from __future__ import annotations


import click

from geo_patrol.cli import Group, cli, engine_of, settings_of

@cli.group(cls=Group)
def users() -> None:
    """Accounts: district command, community officer, planner, volunteer, admin."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["command", "officer", "planner", "volunteer", "admin"]))
@click.option("--area", "areas", multiple=True,
              help="Community (officer) or district the account is bound to, by name or code.")
@click.option("--volunteer", default=None, help="Roster number (volunteer accounts).")
@click.option("--password", default=None,
              help="Read from GEO_PATROL_NEW_PASSWORD or asked for when not given.")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, areas: tuple[str, ...],
              volunteer: str | None, password: str | None) -> None:
    """Add an account (officers need --area, volunteers --volunteer)."""
    from geo_patrol.services.accounts import add_user

    password = password or settings_of(ctx).new_password or click.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    add_user(engine_of(ctx), username, role, password, areas=list(areas), volunteer=volunteer)
    click.echo(f"added {username} ({role})")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List accounts with their role, state and bound areas."""
    from geo_patrol.services.accounts import user_table

    with engine_of(ctx).connect() as conn:
        table = user_table(conn)
    if table.empty:
        click.echo("no accounts")
        return
    for r in table.itertuples():
        state = "disabled" if r.disabled else "active"
        click.echo(f"{r.username:<20} {r.role:<10} {state:<9} {r.bound}")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@click.pass_context
def users_disable(ctx: click.Context, username: str, enable: bool) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    from geo_patrol.services.accounts import set_disabled

    set_disabled(engine_of(ctx), username, not enable)
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


@users.command("password")
@click.argument("username")
@click.pass_context
def users_password(ctx: click.Context, username: str) -> None:
    """Set a new password."""
    from geo_patrol.services.accounts import set_password

    password = settings_of(ctx).new_password or click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    set_password(engine_of(ctx), username, password)
    click.echo(f"password of {username} changed")


@users.command("token")
@click.argument("username")
@click.option("--label", default=None, help="What the token is for (e.g. 'patrol app').")
@click.pass_context
def users_token(ctx: click.Context, username: str, label: str | None) -> None:
    """Print a new API token (shown once; only its hash is stored)."""
    from geo_patrol.services.accounts import issue_token

    click.echo(issue_token(engine_of(ctx), username, label))


