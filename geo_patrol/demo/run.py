"""The demo end to end: generate (or reuse) the files, load them through the ordinary
loaders, and analyse the last days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from geo_patrol import loading
from geo_patrol.demo.generate import TZ, Manifest, generate
from geo_patrol.settings import Settings
from geo_patrol.store.uploads import LoadResult

BAOTOU_DISTRICTS = Path(__file__).resolve().parents[2] / "data" / "boundaries" / \
    "baotou_districts_wgs84.geojson"


def demo_dir(settings: Settings, seed: int, scale: str, until: dt.date) -> Path:
    return settings.data_dir / "demo" / f"{scale}-seed{seed}-{until:%Y%m%d}"


def ensure_files(root: Path, *, seed: int, scale: str, until: dt.date,
                 days: int | None = None) -> Manifest:
    """The demo's files in ``root``: reused when already generated with the same inputs."""
    if (root / "manifest.json").exists():
        manifest = Manifest.read(root)
        if (manifest.seed, manifest.scale, manifest.until) == (seed, scale, until.isoformat()):
            return manifest
    return generate(root, seed=seed, scale=scale, until=until, days=days)


def load_demo(engine: Engine, root: Path, settings: Settings,
              echo: Callable[[str], None] = lambda _line: None) -> list[LoadResult]:
    """Load Baotou's districts and every file of the manifest (each idempotent)."""
    manifest = Manifest.read(root)
    results = [loading.load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                                       code_field="adcode", settings=settings)]
    echo(results[-1].summary_line())
    loaders = {"boundaries": loading.load_boundaries, "streets": loading.load_streets,
               "volunteers": loading.load_volunteers, "hazards": loading.load_hazards,
               "tracks": loading.load_tracks, "reports": loading.load_reports,
               "incidents": loading.load_incidents}
    for entry in manifest.files:
        options = {k: v for k, v in entry.items() if k not in ("kind", "path")}
        result = loaders[entry["kind"]](engine, root / entry["path"], settings=settings,
                                        **options)
        results.append(result)
        if entry["kind"] != "tracks":
            echo(result.summary_line())
    tracks = [r for r in results if r.kind == "tracks" and not r.duplicate]
    if tracks:
        flagged = {k: sum(r.details.get(k, 0) for r in tracks)
                   for k in ("speed_jump", "duplicate", "poor_accuracy", "out_of_order")}
        echo(f"tracks: {len(tracks)} files, {sum(r.stored for r in tracks)} fixes stored, "
             f"flagged {flagged}")
    return results


def last_days(until: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    """The window of the ``days`` whole local days before ``until``."""
    end = dt.datetime.combine(until, dt.time(), TZ)
    return end - dt.timedelta(days=days), end


def demo_accounts(engine: Engine, settings: Settings) -> Path:
    """One account per role for trying the demo, with random passwords written (mode 600) to
    ``<data_dir>/demo-accounts.txt``; existing accounts are left as they are."""
    import os
    import secrets

    import sqlalchemy as sa

    from geo_patrol.store.accounts import add_user

    path = settings.data_dir / "demo-accounts.txt"
    with engine.connect() as conn:
        existing = set(conn.execute(sa.text("SELECT username FROM users")).scalars())
        community = conn.execute(sa.text(
            "SELECT a.name FROM areas a JOIN volunteers v ON v.community_id = a.id "
            "WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC, a.name "
            "LIMIT 1")).scalar()
        volunteer = conn.execute(sa.text(
            "SELECT v.number FROM volunteers v JOIN tracks t ON t.volunteer_id = v.id "
            "WHERE t.kind = 'patrol' GROUP BY v.number ORDER BY count(*) DESC, v.number "
            "LIMIT 1")).scalar()
    wanted = {"command": {}, "officer": {"areas": [community]}, "planner": {},
              "volunteer": {"volunteer": volunteer}, "admin": {}}
    lines = []
    for role, options in wanted.items():
        name = f"demo-{role}"
        if name in existing:
            continue
        password = secrets.token_urlsafe(12)
        add_user(engine, name, role, password, **options)
        lines.append(f"{name}\t{role}\t{password}\n")
    if lines:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.writelines(lines)
    return path
