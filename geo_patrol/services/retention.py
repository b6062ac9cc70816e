"""Retention: raw fixes and track lines older than the configured period are dropped (whole
day partitions), and the photos of reports triaged before it; coverage results, track counts
and lengths, and the reports themselves stay; every run is audit-logged."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from geo_patrol.errors import InputError
from geo_patrol.services.reports import drop_old_media
from geo_patrol.settings import Settings
from geo_patrol.store.accounts import audit
from geo_patrol.store.fixes import day_partitions, drop_fixes_before
from geo_patrol.store.live import prune_live

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database


def retention_cutoff(settings: Settings, days: float | None = None) -> dt.date:
    """The first local day kept when ``days`` (default: the configured period) are kept."""
    keep = settings.retention_days if days is None else days
    if keep < 1:
        raise InputError("keep at least one day")
    return dt.datetime.now(ZoneInfo(settings.timezone)).date() - dt.timedelta(days=int(keep))


def expired_days(db: Database, cutoff: dt.date) -> list[dt.date]:
    """Days of fixes before ``cutoff`` (what a run would drop)."""
    with db.connect() as conn:
        return [d for _, d in day_partitions(conn) if d < cutoff]


def apply_retention(db: Database, settings: Settings, cutoff: dt.date, *,
                    actor: str = "system") -> dict[str, int]:
    """Drop fixes and track lines before ``cutoff``, the photos of reports triaged and made
    before it, and positions as received (and refused requests' counts) older than
    ``live_keep_days`` (their fixes stay); returns what was dropped."""
    kept = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.live_keep_days)
    photos = drop_old_media(db, settings, before=dt.datetime.combine(
        cutoff, dt.time(), ZoneInfo(settings.timezone)))
    with db.begin() as conn:
        done = drop_fixes_before(conn, cutoff, settings.timezone)
        live = prune_live(conn, kept)
        done |= {"live_positions": live["positions"], "live_cover_rows": live["cover"],
                 "intake_refusals": live["refusals"], "report_photos": photos}
        audit(conn, actor, "retention", f"fixes before {cutoff}", details=done)
    return done
