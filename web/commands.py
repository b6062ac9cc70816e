"""``geo-patrol serve``: the web app under waitress (one process) or gunicorn (several).

Registered on the ``geo-patrol`` command through the ``geo_patrol.commands`` entry point, so
the library's CLI never imports the web layer.
"""

from __future__ import annotations

import gc
from typing import Any

import click

from geo_patrol.settings import Settings
from web import create_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--threads", type=int, default=8, show_default=True,
              help="Threads per process.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes: 1 serves with waitress; more with gunicorn (about one per core).")
@click.option("--positions-port", type=int, default=None, is_flag=False, flag_value=5055,
              help="Also take phone positions (OsmAnd / Traccar Client) on this port "
                   "(5055 when given without a value).")
@click.option("--events-port", type=int, default=None,
              help="Where open pages get live events (server-sent events): the positions "
                   "port when given, else PORT+1.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int,
          positions_port: int | None, events_port: int | None) -> None:
    """Serve the web app, its live events and (with --positions-port) the position intake
    port; a job worker and a notification sender run alongside."""
    obj = ctx.ensure_object(dict)
    settings: Settings = obj.get("settings") or Settings.from_env()
    if host not in ("0.0.0.0", "::") and host not in settings.trusted_hosts.split(","):
        # the address it is served on is one the deployment answers to
        settings = settings.with_(trusted_hosts=f"{settings.trusted_hosts},{host}")
    # deferred: `geo-patrol --help` loads this command; the store only when it serves
    from geo_patrol.services.cities import cities, open_city, open_deployment

    # up and every city migrated before the first request
    deployment = open_deployment(settings)
    opened = [open_city(deployment, settings.with_(city=c.key), upgrade=True)
              for c in cities(deployment)]
    from geo_patrol.services.jobs import ensure_worker  # deferred as above

    from geo_patrol.services.notify import ensure_sender  # deferred as above

    ensure_worker(settings)  # long work (zones, rotas) runs here, off the web threads
    ensure_sender(settings)  # messages to people leave from here (or `geo-patrol notify send`)
    click.echo(f"serving on http://{host}:{port}/ with {workers} process(es) x {threads} "
               "threads and a job worker (Ctrl-C stops)")
    if workers <= 1:
        from waitress import serve as waitress_serve  # deferred: waitress or gunicorn, not both

        from web.positions import serve_positions  # deferred: aiohttp when it serves

        events_port = events_port or positions_port or port + 1
        # the live events let in the pages of this port only (their origin)
        config: dict[str, Any] = {"GEO_PATROL_SETTINGS": settings,
                                  "GEO_PATROL_EVENTS_PORT": events_port,
                                  "GEO_PATROL_WEB_PORT": port}
        intake = None
        if positions_port:
            # deferred: the position intake only with --positions-port
            from geo_patrol.services.intake import start_intake

            # the coverage workers in processes of their own: the intake keeps its core
            config["GEO_PATROL_INTAKE"] = intake = start_intake(
                {o.city.key: (o.engine, o.settings) for o in opened}, processes=True)
        app = create_app(config)
        if positions_port and events_port != positions_port:
            serve_positions(intake, host, positions_port)
        serve_positions(intake if events_port == positions_port else None, host, events_port,
                        events=app)
        if positions_port:
            click.echo(f"positions (OsmAnd / Traccar Client) on http://{host}:{positions_port}/")
        click.echo(f"live events on http://{host}:{events_port}/events")
        # what start-up loaded lives as long as the process: kept out of the collector's
        # full passes, which would otherwise stall every request now and then
        gc.collect()
        gc.freeze()
        waitress_serve(app, host=host, port=port, threads=threads,
                       ident="geo-patrol")
        return
    if positions_port:
        raise click.UsageError("--positions-port runs in the one-process server: drop --workers")
    from gunicorn.app.base import BaseApplication  # deferred: waitress or gunicorn, not both

    for o in opened:  # each worker opens its own connections after the fork
        o.engine.dispose()
    deployment.dispose()

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "threads": threads, "worker_class": "gthread",
                               "accesslog": None, "timeout": 120}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app({"GEO_PATROL_SETTINGS": settings})

    Gunicorn().run()
