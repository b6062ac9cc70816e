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
