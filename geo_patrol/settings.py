"""Typed settings, read once from ``GEO_PATROL_*`` environment variables (and ``DATABASE_URL``)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import platformdirs

from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.rules import Rules, load_rules

ENV_PREFIX = "GEO_PATROL_"


def _default_data_dir() -> Path:
    # As root the server runs as an unprivileged user, who cannot enter /root: keep the
    # cluster in a system location instead of root's home.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/geo-patrol")
    return Path(platformdirs.user_data_dir("geo-patrol"))


@dataclass(frozen=True)
class Settings:
    """Deployment settings.

    Every field can be set with ``GEO_PATROL_<FIELD>`` (upper case). ``DATABASE_URL`` is also
    read for the database, as most hosting tools set it.
    """

    #: SQLAlchemy URL of an existing PostGIS database; ``None`` runs the embedded cluster.
    database_url: str | None = None
    #: SQLAlchemy URL of a read replica (a streaming standby of ``database_url``): pages and
    #: the API read from it, every write goes to the primary.
    read_database_url: str | None = None
    #: The city commands work on (``--city``); may be left unset while the deployment holds
    #: only one.
    city: str | None = None
    #: Where the embedded cluster and generated files live.
    data_dir: Path = field(default_factory=_default_data_dir)
    #: Unprivileged system user that runs the embedded server when started as root.
    pg_user: str = "geopatrol"
    #: Metric CRS for analysis (e.g. ``EPSG:32649``); by default the UTM zone of the first data.
    #: A city's own CRS (``geo-patrol cities add --crs``) wins over this default.
    metric_crs: str | None = None
    #: Time zone for naive times the user vouches for and for day boundaries (the default for
    #: new cities; each city keeps its own).
    timezone: str = "Asia/Shanghai"
    #: Longest street segment kept after splitting, in metres.
    segment_max_m: float = 50.0
    #: Secret that encrypts ID numbers and keys their hashes; the embedded default generates
    #: one in ``data_dir`` on first use. Set it (and keep it) on any shared server.
    secret_key: str | None = None
    #: TOML file of hazard categories and visit rules (the packaged one by default).
    rules_file: str | None = None
    #: Fixes are joined into one track when at most this many seconds apart (the analysis
    #: joins them into paths by the same rule).
    track_gap_s: float = AnalysisParams.gap_s
    #: Implied speeds above this (km/h) flag a fix as a GPS jump.
    max_speed_kmh: float = AnalysisParams.max_speed_kmh
    #: Fixes reporting a worse accuracy than this (metres) are flagged.
    max_accuracy_m: float = 50.0
    #: Raw fixes and track lines are kept this many days (``geo-patrol retention``).
    retention_days: float = 180.0
    #: Web maps' base tiles: ``osm``, ``tianditu``, ``amap`` or an intranet XYZ URL; ``None``
    #: draws our own streets only.
    basemap: str | None = None
    #: ``node_modules`` holding the front-end assets (``web/node_modules`` by default).
    asset_dir: str | None = None
    #: Larger request bodies get 413 before anything is parsed (MB).
    max_upload_mb: float = 200.0
    #: Archives and compressed files unpacking to more are refused (MB).
    max_unpacked_mb: float = 2048.0
    #: Failed sign-ins allowed per address, whatever the usernames (Flask-Limiter syntax).
    login_limit: str = "20 per minute;200 per hour"
    #: Reports (with their photos and video) one account may send, stored or refused, by the
    #: page and the API (Flask-Limiter syntax); a phone keeps the ones refused so and sends
    #: them later.
    report_limit: str = "20 per minute;200 per hour"
    #: Failed sign-ins of one username (from any address) before each further try must wait.
    login_backoff_after: float = 3.0
    #: The longest wait of that back-off (seconds): it doubles up to this, never locks out.
    login_backoff_max_s: float = 60.0
    #: Host names the web app answers to, comma-separated (``.example.gov`` takes its
    #: subdomains too): a request naming any other ``Host`` is refused, so no address the app
    #: prints (a phone's set-up URL with its secret) can point elsewhere.
    trusted_hosts: str = "localhost,127.0.0.1"
    #: Push services a browser's subscription may name although they answer on a private,
    #: loopback or link-local address (an intranet push service), comma-separated: ``host``
    #: (any port) or ``host:port``. Only these may be plain ``http://``; every other
    #: subscription must be ``https://`` to a host whose every address is public.
    push_hosts: str = ""
    #: Hosts inside the network (private, loopback or link-local addresses) a notification
    #: channel may send to (an intranet SMS gateway, a self-hosted ntfy or Gotify),
    #: comma-separated: ``host`` (any port) or ``host:port``. A channel naming any other
    #: host that resolves inside the network is refused when it is kept.
    channel_hosts: str = ""
    #: ``1`` marks session cookies Secure (behind HTTPS).
    https: bool = False
    #: ``1`` refuses positions from devices registered without a secret (``key=`` in the URL).
    require_device_secret: bool = False
    #: A phone's position proves work only when received at most this many minutes after the
    #: task's window (or a report's time) ended: phones buffer while offline. Later ones are
    #: history (coverage), never proof (points).
    proof_grace_min: float = 60.0
    #: Positions allowed per device a second (a request of many counts each), and the burst
    #: a phone sends when it comes back online with its buffer (429 with ``Retry-After``
    #: beyond; a batch larger than the burst is taken at once, and the phone then waits).
    intake_device_rate: float = 10.0
    intake_device_burst: float = 600.0
    #: Position requests allowed per address a second, and its burst (many phones share a
    #: carrier's address); ``0`` lifts the limit (a load test from one machine).
    intake_address_rate: float = 1000.0
    intake_address_burst: float = 5000.0
    #: The position intake re-reads the registered devices this often (seconds): a device
    #: disabled or given a new secret is refused at most this long after.
    device_registry_s: float = 30.0
    #: Origins the web app's pages are served from behind a proxy (``https://patrol.example.gov``),
    #: comma-separated: the live events let their pages in, besides those of the port
    #: ``geo-patrol serve`` serves the app on (any other origin is refused).
    web_origins: str = ""
    #: Live-event streams (``/events``) one account may hold open at once, its tabs and
    #: phones together: the oldest ends when one more opens.
    events_per_user: int = 5
    #: A volunteer not heard from for this many minutes is offline on the live map.
    live_offline_min: float = 10.0
    #: Live positions (the protocol's records) are kept this many days; fixes stay longer.
    live_keep_days: float = 3.0
    #: Seconds between updates of today's live coverage (``geo-patrol serve``).
    live_update_s: float = 10.0
    #: A called volunteer has arrived once within this many metres of the incident.
    callout_arrival_m: float = 50.0
    #: With the city's "no movement during a patrol" alarm on (``[dispatch] still_min``), the
    #: positions arriving have it checked at most this often (seconds), by the job worker.
    still_check_s: float = 15.0
    #: Long jobs (analyses, zones plans, rotas, crime patterns, campaign progress,
    #: briefings) one user may have queued or running at once (a dashboard asks for two).
    jobs_per_user: int = 4
    #: A download or API call for a plan still being made waits this many seconds for it
    #: (then answers 202 with the job's address); the planner page shows the job's progress.
    job_wait_s: float = 60.0
    #: A user's requests that wait for a job at once in one process (each holds a web
    #: thread while it waits); beyond these, a request answers at once that the job is being
    #: made (202, with the job's address) rather than wait.
    job_waiters_per_user: int = 2
    #: A worker renews the lease of the job it runs every quarter of this (seconds); a
    #: running job whose lease has lapsed lost its worker and is queued again, at most
    #: ``job_attempts`` times in all.
    job_lease_s: float = 60.0
    job_attempts: int = 3
    #: A photo sent with a report may be at most this large (MB), a report may carry at most
    #: ``media_max_count`` of them, and a picture decoding to more than ``media_max_pixels``
    #: pixels is refused as a decompression bomb before it is decoded.
    media_max_mb: float = 8.0
    media_max_count: int = 4
    media_max_pixels: int = 40_000_000
    #: A report may carry one short video: at most this large (MB) and this long (seconds,
    #: as ffprobe reads it).
    video_max_mb: float = 30.0
    video_max_s: float = 60.0
    #: Where reports' media are kept: unset, under the data directory (``media/``);
    #: ``s3://bucket/prefix`` for an S3-compatible bucket, reached at ``s3_endpoint`` (unset:
    #: AWS) with ``s3_key`` and ``s3_secret`` (unset: the standard AWS variables).
    media_url: str | None = None
    s3_endpoint: str | None = None
    s3_key: str | None = None
    s3_secret: str | None = None
    #: Password for ``geo-patrol users add/password`` when not given interactively.
    new_password: str | None = None

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "pgcluster"

    @property
    def media_dir(self) -> Path:
        """Where reports' photos are kept, by content hash."""
        return self.data_dir / "media"

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * 1024 * 1024)

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The deployment's local date (now, or at ``now``)."""
        return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(self.timezone)).date()

    @property
    def rules(self) -> Rules:
        """Hazard categories and visit rules from :attr:`rules_file`."""
        return load_rules(self.rules_file)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from an environment mapping (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if f.name == "database_url" and not raw:
                raw = env.get("DATABASE_URL")
            if raw is None or raw == "":
                continue
            if f.name == "data_dir":
                values[f.name] = Path(raw).expanduser()
            elif isinstance(f.default, bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(f.default, float):
                values[f.name] = float(raw)
            elif isinstance(f.default, int):
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)
