"""GeoAlchemy2 models: the schema every capability stores into.

Each spatial table keeps ``geom`` in WGS-84 (EPSG:4326) for exchange and display, and
``geom_m`` in the deployment's metric CRS (its SRID recorded in ``deployment``) for measuring
and for indexed ``ST_DWithin`` joins.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo_patrol.rules import REPORT_OUTCOMES
from geo_patrol.vocab import (  # noqa: F401  (the stored values, re-exported for the schema)
    AREA_LEVELS,
    ATTENDANCE_RESULTS,
    CALLOUT_KINDS,
    CALLOUT_OUTCOMES,
    CALLOUT_STATUSES,
    LEFT_OUT_REASONS,
    TRAVEL_MODES,
    CERT_SKILLS,
    DELIVERY_STATES,
    FLAG_DUPLICATE,
    FLAG_NAMES,
    FLAG_OUT_OF_ORDER,
    FLAG_POOR_ACCURACY,
    FLAG_SPEED_JUMP,
    HAZARD_STATUSES,
    NOTICE_KINDS,
    NOTIFY_CHANNELS,
    PATROL_KINDS,
    REPORT_VERIFICATIONS,
    ROLES,
    TRAINING_MODES,
    UPLOAD_KINDS,
)


#: What vouches for an upload's fixes: a file the command loaded, a phone that proved itself
#: with its device secret, or nothing (a phone without a secret, a volunteer's own file).
PROOFS = ("import", "phone", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _one_of(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    """``column`` holds one of a vocabulary's stored ``values`` (the check named
    ``{table}_{column}_check``)."""
    return CheckConstraint(_in(column, values), name=f"{table}_{column}_check")


def _metric_geom() -> Geometry:
    # SRID is the deployment's metric CRS, chosen once at the first load, so it is not fixed here.
    return Geometry(geometry_type="GEOMETRY", srid=-1, spatial_index=True)


def _geometries(kind: str) -> tuple[Any, Any]:
    """A spatial table's ``geom`` (WGS-84, of ``kind``) and ``geom_m`` (metric) columns."""
    return (mapped_column(Geometry(kind, srid=4326), nullable=False),
            mapped_column(_metric_geom(), nullable=False))


def _trgm(name: str, column: str, using: str = "gin") -> Index:
    """A trigram index (``pg_trgm``) for searching a text column as one types: GIN, or GiST
    where the search also asks for names merely alike (``%``) on its own (the planner reads a
    GiST index for that rather than rating every name)."""
    return Index(name, column, postgresql_using=using,
                 postgresql_ops={column: f"{using}_trgm_ops"})


def _loaded_from() -> Any:
    """The upload a row came from (none for rows entered on a page)."""
    return mapped_column(ForeignKey("uploads.id"))


#: An instant the database stamps when the row is written (``now()``).
Stamp = Annotated[dt.datetime, mapped_column(server_default=func.now())]


class _Made:
    """Who made the row (their user name) and when."""

    created_by: Mapped[str]
    created_at: Mapped[Stamp]


class Base(DeclarativeBase):
    """A column's type follows its Python annotation unless the column names another
    (``String(16)``, ``BigInteger``, ``REAL``...); ``Mapped[X | None]`` makes it nullable."""

    type_annotation_map = {
        int: Integer,
        float: Float,
        str: Text,
        bool: Boolean,
        bytes: LargeBinary,
        dict: JSONB,
        dt.date: Date,
        dt.time: Time,
        dt.datetime: DateTime(timezone=True),
    }


class Deployment(Base):
    """Key/value facts fixed for a deployment (e.g. ``metric_srid``)."""

    __tablename__ = "deployment"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str]


class Upload(Base):
    """One loaded file; its SHA-256 is unique so the same file is stored once."""

    __tablename__ = "uploads"
    __table_args__ = (_one_of("uploads", "kind", UPLOAD_KINDS),
                      _one_of("uploads", "proof", PROOFS))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[Stamp]
    rows_stored: Mapped[int] = mapped_column(default=0)
    rows_flagged: Mapped[int] = mapped_column(default=0)
    options: Mapped[dict] = mapped_column(default=dict)
    summary: Mapped[dict] = mapped_column(default=dict)
    #: What vouches for the upload's fixes as proof of work (see :data:`PROOFS`).
    proof: Mapped[str] = mapped_column(String(8), server_default="import")


class Area(Base):
    """City, district, police station area, community or grid cell."""

    __tablename__ = "areas"
    __table_args__ = (
        _one_of("areas", "level", AREA_LEVELS),
        UniqueConstraint("level", "parent_id", "name", name="areas_level_parent_name_key",
                         postgresql_nulls_not_distinct=True),
        _trgm("ix_areas_name_trgm", "name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str]
    code: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"),
                                                  index=True)
    upload_id: Mapped[int | None] = _loaded_from()
    attrs: Mapped[dict] = mapped_column(default=dict)
    geom, geom_m = _geometries("MULTIPOLYGON")


class StreetSegment(Base):
    """A piece (at most ~50 m) of an OSM street edge, assigned to one area."""

    __tablename__ = "street_segments"
    __table_args__ = (UniqueConstraint("u", "v", "key", "piece", name="street_segments_edge_key"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    osm_way_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    u: Mapped[int] = mapped_column(BigInteger)
    v: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[int] = mapped_column(SmallInteger)
    piece: Mapped[int] = mapped_column(SmallInteger)
    #: Graph nodes at the two ends of this piece (OSM node ids, or negative ids for cut points).
    node_from: Mapped[int] = mapped_column(BigInteger)
    node_to: Mapped[int] = mapped_column(BigInteger)
    highway: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None]
    length_m: Mapped[float]
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    upload_id: Mapped[int | None] = _loaded_from()
    #: The stretch of its street between two cross streets (:class:`StreetPiece`).
    piece_id: Mapped[int | None] = mapped_column(index=True)
    geom, geom_m = _geometries("LINESTRING")


class StreetPiece(Base):
    """A named street between two cross streets (its segments merged): what a place is
    named by (see :mod:`geo_patrol.analysis.places`)."""

    __tablename__ = "street_pieces"
    __table_args__ = (_trgm("ix_street_pieces_name_trgm", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str | None]
    highway: Mapped[str | None] = mapped_column(String(32))
    cross_a: Mapped[str | None]
    cross_b: Mapped[str | None]
    #: The crossings at its ends (graph nodes) and where they are (metric CRS).
    node_a: Mapped[int | None] = mapped_column(BigInteger)
    node_b: Mapped[int | None] = mapped_column(BigInteger)
    x_a: Mapped[float | None]
    y_a: Mapped[float | None]
    x_b: Mapped[float | None]
    y_b: Mapped[float | None]
    length_m: Mapped[float]
    geom, geom_m = _geometries("MULTILINESTRING")


class StreetName(Base):
    """A street once, for the search box: its length, the middle of its longest piece and
    its extent (WGS-84)."""

    __tablename__ = "street_names"
    __table_args__ = (_trgm("ix_street_names_name_trgm", "name"),)
    name: Mapped[str] = mapped_column(primary_key=True)
    length_m: Mapped[float]
    lon: Mapped[float]
    lat: Mapped[float]
    x0: Mapped[float]
    y0: Mapped[float]
    x1: Mapped[float]
    y1: Mapped[float]


class Crossing(Base):
    """A node where two named streets meet ("A路与B路交叉口")."""

    __tablename__ = "crossings"
    __table_args__ = (_trgm("ix_crossings_name_a_trgm", "name_a"),
                      _trgm("ix_crossings_name_b_trgm", "name_b"))
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    node: Mapped[int] = mapped_column(BigInteger)
    name_a: Mapped[str]
    name_b: Mapped[str]
    geom = mapped_column(Geometry("POINT", srid=4326), nullable=False)


class LandCover(Base):
    """Water, green areas and buildings of the city's OSM extract, drawn under the streets
    of the base map (:mod:`geo_patrol.ingest.landcover`)."""

    __tablename__ = "land_cover"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``water``, ``green`` or ``building``.
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None]
    upload_id: Mapped[int | None] = _loaded_from()
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=False)
    __table_args__ = (CheckConstraint("kind IN ('water', 'green', 'building')",
                                      name="land_cover_kind_check"),)


class BaseTile(Base):
    """A base-map vector tile once made (emptied whenever streets or areas are loaded)."""

    __tablename__ = "base_tiles"
    z: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    x: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    y: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tile: Mapped[bytes]


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)


class Volunteer(Base):
    """A registered volunteer. The ID number is stored encrypted plus a keyed hash."""

    __tablename__ = "volunteers"
    __table_args__ = (_trgm("ix_volunteers_name_gist", "name", "gist"),
                      _trgm("ix_volunteers_number_trgm", "number"))
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str]
    phone: Mapped[str | None] = mapped_column(String(20))
    id_cipher: Mapped[bytes | None]
    id_hash: Mapped[bytes | None] = mapped_column(unique=True)
    occupation: Mapped[str] = mapped_column(String(32), default="other")
    skills: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    duties: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    upload_id: Mapped[int | None] = _loaded_from()


def _link_to(target: str) -> Mapped[int]:
    """A key column of a link table: references ``target`` and goes when its row goes."""
    return mapped_column(ForeignKey(target, ondelete="CASCADE"), primary_key=True)


class VolunteerTeam(Base):
    __tablename__ = "volunteer_teams"
    volunteer_id: Mapped[int] = _link_to("volunteers.id")
    team_id: Mapped[int] = _link_to("teams.id")


class Track(Base):
    """A volunteer's run of consecutive fixes (gaps of at most ``track_gap_s``) from one file.

    ``geom`` joins the track's unflagged fixes; ``kind`` tells a deliberate patrol from
    passive coverage at work (a taxi or delivery rider).
    """

    __tablename__ = "tracks"
    __table_args__ = (_one_of("tracks", "kind", PATROL_KINDS),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime]
    n_fixes: Mapped[int]
    n_flagged: Mapped[int] = mapped_column(default=0)
    length_m: Mapped[float]
    geom = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False))



class PatrolFix(Base):
    """One GPS fix, in the deployment's metric CRS. ``flags`` is a bit set (``FLAG_*``).

    Partitioned by day (in the deployment time zone): each day's partition is filled with
    binary COPY and its spatial index built afterwards, and retention drops whole days. Time
    filters prune partitions; per-volunteer questions are answered from ``tracks``, so fixes
    carry no B-tree index (it would cost a third of the load time). Integrity with
    ``volunteers``, ``tracks`` and ``uploads`` is kept by the loader, not by foreign keys,
    which would cost a lookup per row.
    """

    __tablename__ = "patrol_fixes"
    __table_args__ = ({"postgresql_partition_by": "RANGE (t)"},)
    #: The city's key: this table is the city's LIST partition of ``public.patrol_fixes``.
    city: Mapped[str] = mapped_column(String(32))
    volunteer_id: Mapped[int] = mapped_column()
    upload_id: Mapped[int]
    track_id: Mapped[int] = mapped_column(BigInteger)
    t: Mapped[dt.datetime] = mapped_column()
    accuracy_m: Mapped[float | None]
    speed_mps: Mapped[float | None]
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)
    geom_m = mapped_column(_metric_geom(), nullable=False)
    #: When the server stored the fix (``None``: stored before this was kept).
    received_at: Mapped[dt.datetime | None] = mapped_column(server_default=func.now())
    __mapper_args__ = {"primary_key": [volunteer_id, t]}


class Hazard(Base):
    """A campaign hazard (school, gas/LPG site, guns/explosives/knives seller...)."""

    __tablename__ = "hazards"
    __table_args__ = (_one_of("hazards", "status", HAZARD_STATUSES),
                      _trgm("ix_hazards_name_gist", "name", "gist"))
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str]
    address: Mapped[str | None]
    status: Mapped[str] = mapped_column(String(16), default="open")
    source: Mapped[str] = mapped_column(String(16), default="campaign")
    #: An officer's proposal waiting for the district command's review: left out of analysis
    #: and maps until accepted.
    proposed: Mapped[bool] = mapped_column(server_default=false(), default=False)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    upload_id: Mapped[int | None] = _loaded_from()
    #: The category's visit rule when the hazard was loaded (see :mod:`geo_patrol.rules`).
    visit_rule: Mapped[dict] = mapped_column(default=dict)
    status_at: Mapped[dt.datetime | None]
    attrs: Mapped[dict] = mapped_column(default=dict)
    geom, geom_m = _geometries("POINT")


class HazardStatusChange(Base):
    __tablename__ = "hazard_status_history"
    __table_args__ = (_one_of("hazard_status_history", "status", HAZARD_STATUSES),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[dt.datetime]
    note: Mapped[str | None]
    upload_id: Mapped[int | None] = _loaded_from()


class Report(Base):
    """A volunteer's report of a hazard or incident, with verification and reward."""

    __tablename__ = "reports"
    __table_args__ = (_one_of("reports", "verification", REPORT_VERIFICATIONS),
                      _one_of("reports", "outcome", REPORT_OUTCOMES))
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"))
    reported_at: Mapped[dt.datetime]
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None]
    verification: Mapped[str] = mapped_column(String(16), default="pending")
    reward: Mapped[float] = mapped_column(Numeric(10, 2), default=0)
    upload_id: Mapped[int | None] = _loaded_from()
    #: An earlier report of the same hazard (or category, close by, within a day): only the
    #: first is paid.
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    #: The community the report lies in (scope), and when the server received it (a phone
    #: keeps a report made offline and sends it later).
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[dt.datetime | None] = mapped_column(server_default=func.now())
    #: Triage: what became of it, the answer the reporter reads, who decided and when, and
    #: the police station it was handed to.
    outcome: Mapped[str | None] = mapped_column(String(16))
    answer: Mapped[str | None]
    triaged_at: Mapped[dt.datetime | None]
    triaged_by: Mapped[str | None]
    station_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    geom, geom_m = _geometries("POINT")


class ReportMedia(Base):
    """A photo sent with a report, kept by the SHA-256 of its bytes under the data directory
    (the copies shown carry no EXIF); what its EXIF said, and whether that agrees with the
    reporter's own track (``matches``, ``far``, ``no_track``, ``none`` without EXIF)."""

    __tablename__ = "report_media"
    __table_args__ = (CheckConstraint("kind IN ('photo', 'video')",
                                      name="report_media_kind_check"),
                      CheckConstraint("exif_check IN ('matches', 'far', 'no_track', 'none')",
                                      name="report_media_exif_check"),
                      UniqueConstraint("report_id", "sha256", name="report_media_item_key"))
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    mime: Mapped[str]
    bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    exif_at: Mapped[dt.datetime | None]
    exif_lon: Mapped[float | None]
    exif_lat: Mapped[float | None]
    exif_check: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[Stamp]


class Incident(Base):
    """A police-recorded incident; the time of day may be unknown (``occurred_at`` null)."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The source's number (not unique: one case may list several rows).
    external_id: Mapped[str | None]
    #: Content key (hash of the row and its rank among identical rows of its file), so the
    #: same records sent again in another file are stored once.
    key: Mapped[str] = mapped_column(unique=True)
    category: Mapped[str]
    occurred_on: Mapped[dt.date | None]
    occurred_at: Mapped[dt.datetime | None]
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"), index=True)
    attrs: Mapped[dict] = mapped_column(default=dict)
    geom, geom_m = _geometries("POINT")


class AuditEntry(Base):
    """Append-only record of sensitive actions (unmasking personal data, deletions)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[Stamp]
    actor: Mapped[str]
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None]
    reason: Mapped[str | None]
    details: Mapped[dict] = mapped_column(default=dict)


class User(Base):
    """An account: a role, a password hash (Argon2) and, for volunteers, their roster row."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="users_role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str]
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[Stamp]
    last_login: Mapped[dt.datetime | None]


class UserArea(Base):
    """The areas (communities, or districts for a district command) a user is bound to."""

    __tablename__ = "user_areas"
    user_id: Mapped[int] = _link_to("users.id")
    area_id: Mapped[int] = _link_to("areas.id")


class UserSession(Base):
    """A sign-in session; the cookie carries a random token whose SHA-256 is stored here, so
    sign-out, disabling the account or a new password ends it on the server."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[Stamp]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """A bearer token for the app and uploads; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None]
    created_at: Mapped[Stamp]
    revoked: Mapped[bool] = mapped_column(default=False)


class AnalysisRun(Base):
    """One analysis of a window (and optionally one area), with its parameters and timing.

    ``key`` identifies the question (window, area, parameters): running it again replaces
    the earlier run's results.
    """

    __tablename__ = "analysis_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Stamp]
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    params: Mapped[dict] = mapped_column(default=dict)
    seconds: Mapped[float]
    stats: Mapped[dict] = mapped_column(default=dict)


class DayVisit(Base):
    """What one local day of fixes did to the streets and hazards, kept so that windows of any
    length are composed from their days (:mod:`geo_patrol.analysis.days`).

    ``streets_key`` names the streets, hazards and settings the day was analysed against; a
    day is redone when it no longer matches or when fixes of the day arrive. Kept when the
    day's raw fixes are dropped by retention.
    """

    __tablename__ = "day_visits"
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    streets_key: Mapped[str] = mapped_column(String(64))
    visits: Mapped[bytes]
    fixes: Mapped[int]
    analysed_at: Mapped[Stamp]


class MonthVisit(Base):
    """A calendar month's days rolled up into one :class:`~geo_patrol.analysis.days.Span`
    (its intervals united over the month), so that a year composes from twelve. Forgotten
    whenever one of its days is; rebuilt from the days when next needed. ``streets_key`` holds
    the streets' ``span_key`` (it also names the area of every segment)."""

    __tablename__ = "month_visits"
    month: Mapped[dt.date] = mapped_column(primary_key=True)  # its first day
    streets_key: Mapped[str] = mapped_column(String(64))
    visits: Mapped[bytes]
    fixes: Mapped[int] = mapped_column(BigInteger)
    analysed_at: Mapped[Stamp]


class _Covered:
    """Street length (metres) a run found covered: in all, by patrols and by passers-by, in
    the day band and in the night band."""

    covered_m: Mapped[float]
    covered_patrol_m: Mapped[float]
    covered_passive_m: Mapped[float]
    covered_day_m: Mapped[float]
    covered_night_m: Mapped[float]


def _run_fk() -> ForeignKey:
    return ForeignKey("analysis_runs.id", ondelete="CASCADE")


class SegmentResult(_Covered, Base):
    """A street segment's visits in a run's window."""

    __tablename__ = "segment_results"
    run_id: Mapped[int] = mapped_column(_run_fk(), primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_visit: Mapped[dt.datetime | None]
    last_patrol_visit: Mapped[dt.datetime | None]
    passes_patrol: Mapped[int]
    passes_passive: Mapped[int]
    dwell_patrol_s: Mapped[float]
    dwell_passive_s: Mapped[float]
    gap_key: Mapped[str | None] = mapped_column(String(40))


class AreaResult(_Covered, Base):
    """Coverage of an area (community, station, district) in a run's window."""

    __tablename__ = "area_results"
    run_id: Mapped[int] = mapped_column(_run_fk(), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    total_m: Mapped[float]
    segments: Mapped[int]
    segments_visited: Mapped[int]
    active_volunteers: Mapped[int]
    hazards: Mapped[int]
    hazards_compliant: Mapped[int]
    hazards_overdue: Mapped[int]
    hazards_never: Mapped[int]
    gaps: Mapped[int]
    gap_m: Mapped[float]
    #: Street length by days since the last visit: {"0-1": m, "1-3": m, "3-7": m, ...}.
    recency: Mapped[dict] = mapped_column(default=dict)
    #: Share of the area's ground within R of a patrol path (communities only).
    area_coverage: Mapped[float | None]


class AreaDaily(Base):
    """An area's covered street length per local day of a run's window."""

    __tablename__ = "area_daily"
    run_id: Mapped[int] = mapped_column(_run_fk(), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    covered_m: Mapped[float]
    total_m: Mapped[float]


class HazardResult(Base):
    """A hazard's compliance with its visit rule in a run's window."""

    __tablename__ = "hazard_results"
    __table_args__ = (CheckConstraint(_in("status", ("compliant", "overdue", "never_visited",
                                                     "cleared")),
                                      name="hazard_results_status_check"),)
    run_id: Mapped[int] = mapped_column(_run_fk(), primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"),
                                           primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    inspections: Mapped[int]
    passes: Mapped[int]
    last_inspection: Mapped[dt.datetime | None]
    #: The start of the window's first inspection (campaigns count units visited from it).
    first_inspection: Mapped[dt.datetime | None]
    last_inspector_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    last_pass: Mapped[dt.datetime | None]
    due_days: Mapped[int]
    missed_days: Mapped[int]


class GapResult(Base):
    """A connected run of stale street segments in one area, ranked by priority."""

    __tablename__ = "gap_results"
    run_id: Mapped[int] = mapped_column(_run_fk(), primary_key=True)
    gap_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    length_m: Mapped[float]
    segments: Mapped[int]
    #: The gap's street and the cross streets at its ends (its name by place).
    street: Mapped[str | None]
    cross_a: Mapped[str | None]
    cross_b: Mapped[str | None]
    #: What its priority is made of, and the priority.
    hazards: Mapped[int]
    hazards_overdue: Mapped[int]
    incidents: Mapped[int]
    priority: Mapped[float]
    geom = mapped_column(Geometry("MULTILINESTRING", srid=4326), nullable=False)


# -- live positions ---------------------------------------------------------------------------

class Device(Base):
    """A phone app registered to a volunteer: positions sent with its id are theirs.

    ``secret_sha256`` (optional) binds the device to a secret the app carries in its server
    URL (``?key=...``); a deployment may require one for every device.
    """

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"),
                                              index=True)
    secret_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[Stamp]
    disabled_at: Mapped[dt.datetime | None]


class IntakeRefusal(Base):
    """Position requests refused, counted per local day, reason and claimed device id."""

    __tablename__ = "intake_refusals"
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int]
    last_at: Mapped[dt.datetime]


class LivePosition(Base):
    """A position as it arrived from a phone (also stored as a fix in ``patrol_fixes``).

    Unique per (volunteer, time), so a re-sent position is stored once; ``seq`` orders
    arrivals for the incremental coverage; kept for a few days (``live_keep_days``).
    """

    __tablename__ = "live_positions"
    volunteer_id: Mapped[int] = mapped_column(primary_key=True)
    t: Mapped[dt.datetime] = mapped_column(primary_key=True, index=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), index=True)
    device_id: Mapped[int]
    received_at: Mapped[Stamp]
    lon: Mapped[float]
    lat: Mapped[float]
    x: Mapped[float]
    y: Mapped[float]
    speed_mps: Mapped[float | None]
    heading: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    battery_pct: Mapped[float | None]
    moving: Mapped[bool | None]
    flags: Mapped[int] = mapped_column(SmallInteger)
    track_id: Mapped[int] = mapped_column(BigInteger, index=True)
    attrs: Mapped[dict] = mapped_column(default=dict)


class LiveCover(Base):
    """A street segment's covered intervals today from live positions: ``atoms[i]`` is the
    segment's straight piece and ``[starts[i], ends[i]]`` metres along it."""

    __tablename__ = "live_cover"
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    atoms: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    starts: Mapped[list[float]] = mapped_column(ARRAY(Float))
    ends: Mapped[list[float]] = mapped_column(ARRAY(Float))
    covered_m: Mapped[float]
    last_visit: Mapped[dt.datetime]


class LiveCursor(Base):
    """How far the incremental coverage has read ``live_positions`` (by ``seq``)."""

    __tablename__ = "live_cursor"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class Callout(Base):
    """An incident the command marked, and the volunteers called to it (警情联动)."""

    __tablename__ = "callouts"
    __table_args__ = (_one_of("callouts", "kind", CALLOUT_KINDS),
                      _one_of("callouts", "outcome", CALLOUT_OUTCOMES))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), server_default="callout")
    #: the volunteer whose SOS (or stillness) raised it
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id",
                                                             ondelete="SET NULL"))
    #: the ring called last, how many a ring calls and how long it has to accept
    ring: Mapped[int] = mapped_column(server_default="1")
    ring_size: Mapped[int] = mapped_column(server_default="5")
    ring_s: Mapped[float] = mapped_column(server_default="60")
    rings: Mapped[int] = mapped_column(server_default="1")
    #: when the station's group and the command were alerted (nobody accepted in time, or
    #: an SOS was not acknowledged)
    escalated_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    acknowledged_at: Mapped[dt.datetime | None]
    #: the first to accept leads
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id",
                                                           ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None]
    #: a certified skill the call-out asked for, and whether it was required (else preferred)
    skill: Mapped[str | None] = mapped_column(String(32))
    skill_required: Mapped[bool] = mapped_column(server_default=false())
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[Stamp]
    closed_at: Mapped[dt.datetime | None]
    geom, geom_m = _geometries("POINT")


class CalloutTarget(Base):
    """One volunteer called to an incident, with the walking ETA they were chosen by."""

    __tablename__ = "callout_targets"
    __table_args__ = (_one_of("callout_targets", "status", CALLOUT_STATUSES),
                      _one_of("callout_targets", "mode", TRAVEL_MODES))
    callout_id: Mapped[int] = _link_to("callouts.id")
    volunteer_id: Mapped[int] = _link_to("volunteers.id")
    rank: Mapped[int]
    walk_m: Mapped[float]
    eta_s: Mapped[float]
    status: Mapped[str] = mapped_column(String(16), default="sent")
    certified: Mapped[bool] = mapped_column(server_default=false())
    #: the ring that calls them, and how they travel (the ETA's mode)
    ring: Mapped[int] = mapped_column(server_default="1")
    mode: Mapped[str] = mapped_column(String(8), server_default="walk")
    #: when the call was sent (NULL while their ring waits)
    sent_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    on_way_at: Mapped[dt.datetime | None]
    arrived_at: Mapped[dt.datetime | None]


class CalloutLeftOut(Base):
    """A volunteer near an incident who was not called, and why (too far, off duty, stale
    position, lacking the skill): the command sees them."""

    __tablename__ = "callout_left_out"
    __table_args__ = (_one_of("callout_left_out", "reason", LEFT_OUT_REASONS),
                      _one_of("callout_left_out", "mode", TRAVEL_MODES))
    callout_id: Mapped[int] = _link_to("callouts.id")
    volunteer_id: Mapped[int] = _link_to("volunteers.id")
    reason: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(8))
    eta_s: Mapped[float | None]
    seen_at: Mapped[dt.datetime | None]


class Course(Base):
    """A training course: the skill a pass certifies, the duty it serves and for how long a
    certificate stays valid (``validity_months`` 0: no expiry)."""

    __tablename__ = "courses"
    __table_args__ = (_one_of("courses", "skill", CERT_SKILLS),
                      CheckConstraint("validity_months BETWEEN 0 AND 120",
                                      name="courses_validity_check"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    skill: Mapped[str] = mapped_column(String(32))
    duty: Mapped[str | None]
    validity_months: Mapped[int] = mapped_column(SmallInteger)


class TrainingSession(Base):
    """One session of a course (a batch of 分批轮训): when, where, how, by whom."""

    __tablename__ = "training_sessions"
    __table_args__ = (UniqueConstraint("course_id", "held_on", "batch",
                                       name="training_sessions_key"),
                      _one_of("training_sessions", "mode", TRAINING_MODES))
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(index=True)
    batch: Mapped[str] = mapped_column(default="")
    place: Mapped[str | None]
    mode: Mapped[str] = mapped_column(String(16), default="classroom")
    trainer: Mapped[str | None]
    upload_id: Mapped[int | None] = _loaded_from()


class Attendance(Base):
    """A volunteer at a session: present, absent, or passed (which certifies the skill)."""

    __tablename__ = "attendance"
    __table_args__ = (_one_of("attendance", "result", ATTENDANCE_RESULTS),)
    session_id: Mapped[int] = _link_to("training_sessions.id")
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"),
                                              primary_key=True, index=True)
    result: Mapped[str] = mapped_column(String(8))
    upload_id: Mapped[int | None] = _loaded_from()


class Campaign(_Made, Base):
    """A hazard-clearing campaign (such as 双清双打): a period, its districts and the hazard
    categories it targets, tracked toward zero."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="campaigns_period_check"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text))


class CampaignDistrict(Base):
    __tablename__ = "campaign_districts"
    campaign_id: Mapped[int] = _link_to("campaigns.id")
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"),
                                         primary_key=True)


class ForceHours(Base):
    """The volunteer-hours a community can give in one weekday's time slot, as the planner
    set them (overriding what past patrols show)."""

    __tablename__ = "force_hours"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="force_hours_weekday_check"),
                      CheckConstraint("hours >= 0 AND hours <= 10000",
                                      name="force_hours_hours_check"))
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"),
                                              primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # Monday = 0
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)
    hours: Mapped[float]
    set_by: Mapped[str]
    set_at: Mapped[Stamp]


class Rota(_Made, Base):
    """A rota for an area and period, as planned: its targets and what it is expected to
    achieve (``summary``: coverage, shortfall, solver gap, randomness)."""

    __tablename__ = "rotas"
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_runs.id",
                                                          ondelete="SET NULL"))
    start_day: Mapped[dt.date]
    days: Mapped[int] = mapped_column(SmallInteger)
    revisit_days: Mapped[int] = mapped_column(SmallInteger)
    minutes: Mapped[float]
    seed: Mapped[int]
    summary: Mapped[dict] = mapped_column(default=dict)


class RotaWalk(Base):
    """One loop of a rota: its day, slot and start, who walks it (if anyone could be
    given it), the streets it covers, the hazards it inspects and the hot spot it stops at."""

    __tablename__ = "rota_walks"
    __table_args__ = (CheckConstraint("kind IN ('streets', 'hotspot')",
                                      name="rota_walks_kind_check"),)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    rota_id: Mapped[int] = mapped_column(ForeignKey("rotas.id", ondelete="CASCADE"), index=True)
    day: Mapped[dt.date]
    slot: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[dt.datetime]
    minutes: Mapped[float]
    kind: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id",
                                                                ondelete="SET NULL"))
    length_m: Mapped[float]
    segment_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hazard_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hotspot_segment_id: Mapped[int | None]
    geom = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False)


TRIAL_ARMS = ("patrolled", "control")


class Trial(_Made, Base):
    """A randomised trial of hot-spot patrols, as designed before it starts: its hot spots'
    blocks and arms (:class:`TrialSpot`), the outcome counted, when it starts and for how
    many weeks, the seed of its draw and its power (``design``). The database refuses any
    change of it, and its removal once it has started."""

    __tablename__ = "trials"
    __table_args__ = (CheckConstraint("weeks BETWEEN 1 AND 104", name="trials_weeks_check"),)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"),
                                                index=True)  # None: the whole city
    start_day: Mapped[dt.date]
    starts_at: Mapped[dt.datetime]
    weeks: Mapped[int] = mapped_column(SmallInteger)
    seed: Mapped[int]
    crime: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str]
    fall: Mapped[float]
    design: Mapped[dict] = mapped_column(default=dict)


class TrialSpot(Base):
    """A hot spot of a trial: its block (district and risk), its arm, and the risk and
    weekly incidents it was blocked by."""

    __tablename__ = "trial_spots"
    __table_args__ = (CheckConstraint("arm IN ('patrolled', 'control')",
                                      name="trial_spots_arm_check"),)
    trial_id: Mapped[int] = _link_to("trials.id")
    segment_id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int | None]
    block: Mapped[int]
    arm: Mapped[str] = mapped_column(String(16))
    risk: Mapped[float]
    weekly: Mapped[float]


TASK_STATES = ("offered", "accepted", "delivered", "partly", "missed", "withdrawn")


class Task(_Made, Base):
    """A patrol a volunteer can take on: a loop or a hot-spot visit on a day, in a time
    window, along a route, for points; from a rota's walk or made by hand. Its state moves
    offered → accepted (by a volunteer) → delivered / partly / missed (from their fixes)."""

    __tablename__ = "tasks"
    __table_args__ = (_one_of("tasks", "state", TASK_STATES),
                      CheckConstraint("kind IN ('streets', 'hotspot')", name="tasks_kind_check"),
                      CheckConstraint("window_end > window_start", name="tasks_window_check"))
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    rota_walk_id: Mapped[int | None] = mapped_column(
        ForeignKey("rota_walks.id", ondelete="SET NULL"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"),
                                                     index=True)
    day: Mapped[dt.date] = mapped_column(index=True)
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    minutes: Mapped[float]
    length_m: Mapped[float]
    segment_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hazard_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hotspot_segment_id: Mapped[int | None]
    points: Mapped[int]
    #: offered to this volunteer only (the rota's choice); anyone in the community when null
    offered_to: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id",
                                                              ondelete="SET NULL"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id",
                                                                ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="offered")
    accepted_at: Mapped[dt.datetime | None]
    checked_at: Mapped[dt.datetime | None]
    verdict: Mapped[dict] = mapped_column(default=dict)
    geom = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False)


class Payout(_Made, Base):
    """A payout list for a period: the points earned and not yet paid, as of its making."""

    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    points: Mapped[int]


class PointsEntry(Base):
    """Points a volunteer earned for one delivered task or one verified report: at most one
    entry per item, paid at most once (``payout_id``)."""

    __tablename__ = "points_ledger"
    __table_args__ = (CheckConstraint("source IN ('task', 'report')",
                                      name="points_ledger_source_check"),
                      UniqueConstraint("source", "item_id", name="points_ledger_item_key"))
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    source: Mapped[str] = mapped_column(String(8))
    item_id: Mapped[int]
    points: Mapped[int]
    earned_on: Mapped[dt.date]
    note: Mapped[str | None]
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"), index=True)
    created_at: Mapped[Stamp]


class Job(Base):
    """Long work a user asked for (an analysis, a zones plan, a rota, crime patterns, a
    campaign's progress, a briefing): its kind and
    parameters, its ``key`` (those and the inputs they were read from), its progress, and its
    result (``result``; ``payload`` for one too rich for JSON, e.g. a plan). At most one job
    per key is queued or running."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')",
                        name="jobs_state_check"),
        CheckConstraint("progress BETWEEN 0 AND 1", name="jobs_progress_check"),
        Index("jobs_one_active", "key", unique=True,
              postgresql_where=text("state IN ('queued', 'running')")),
        Index("jobs_by_key", "key", "id"),
        Index("jobs_by_user", "requested_by",
              postgresql_where=text("state IN ('queued', 'running')")),
        Index("jobs_running", "heartbeat_at", postgresql_where=text("state = 'running'")))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict]
    state: Mapped[str] = mapped_column(String(8), server_default="queued")
    progress: Mapped[float] = mapped_column(REAL, server_default="0")
    step: Mapped[str | None]
    result: Mapped[dict | None]
    payload: Mapped[bytes | None]
    error: Mapped[str | None]
    error_kind: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Stamp]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    #: the lease of the worker running it (renewed while it runs), and how often it was taken
    heartbeat_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class InputVersion(Base):
    """The version of an input table of long work (incidents, hazards, inspections,
    campaigns, force), raised by its triggers whenever a statement adds or removes its rows:
    a job's key names these instead of counting the tables."""

    __tablename__ = "input_versions"
    name: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class NotifyChannel(Base):
    """An apprise URL reaching the whole city, a police station's group, or one volunteer."""

    __tablename__ = "notify_channels"
    __table_args__ = (
        CheckConstraint("scope IN ('city', 'station', 'volunteer')",
                        name="notify_channels_scope_check"),
        CheckConstraint("(scope = 'city' AND area_id IS NULL AND volunteer_id IS NULL) "
                        "OR (scope = 'station' AND area_id IS NOT NULL AND volunteer_id IS NULL) "
                        "OR (scope = 'volunteer' AND volunteer_id IS NOT NULL AND area_id IS NULL)",
                        name="notify_channels_check"),
        UniqueConstraint("scope", "area_id", "volunteer_id", "url",
                         name="notify_channels_once",
                         postgresql_nulls_not_distinct=True))
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"))
    url: Mapped[str]
    label: Mapped[str] = mapped_column(server_default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Stamp]


class NotifyRule(Base):
    """A volunteer's rules: messages only while on duty, quiet hours (city local time)."""

    __tablename__ = "notify_rules"
    __table_args__ = (CheckConstraint("(quiet_start IS NULL) = (quiet_end IS NULL)",
                                      name="notify_rules_check"),)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True)
    on_duty_only: Mapped[bool] = mapped_column(server_default=false())
    quiet_start: Mapped[dt.time | None]
    quiet_end: Mapped[dt.time | None]
    updated_at: Mapped[Stamp]


class PushSubscription(Base):
    """A browser's Web Push subscription, for one volunteer."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (Index("push_subscriptions_volunteer", "volunteer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(unique=True)
    p256dh: Mapped[str]
    auth: Mapped[str]
    created_at: Mapped[Stamp]


class NotifyMessage(Base):
    """One message to one person, once per (kind, ref, volunteer); or, without a volunteer,
    to the group channels over a community (the station's chat and the city's)."""

    __tablename__ = "notify_messages"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "volunteer_id",
                         name="notify_messages_once"),
        Index("notify_messages_volunteer", "volunteer_id", "id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"))
    title: Mapped[str]
    body: Mapped[str]
    url: Mapped[str | None]
    created_at: Mapped[Stamp]
    answered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]
    #: a group's message (no volunteer): the community it is about
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id", ondelete="SET NULL"))


class NotifyDelivery(Base):
    """A message handed to one channel: its state, attempts, next try, lease, last error."""

    __tablename__ = "notify_outbox"
    __table_args__ = (
        _one_of("notify_outbox", "channel", NOTIFY_CHANNELS),
        _one_of("notify_outbox", "state", DELIVERY_STATES),
        UniqueConstraint("message_id", "channel", "channel_id", "subscription_id",
                         name="notify_outbox_once",
                         postgresql_nulls_not_distinct=True),
        Index("notify_outbox_due", "next_try_at", postgresql_where=text("state = 'queued'")),
        Index("notify_outbox_message", "message_id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("notify_messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="SET NULL"))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), server_default="queued")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_try_at: Mapped[Stamp]
    lease_until: Mapped[dt.datetime | None]
    leased_by: Mapped[str | None]
    last_error: Mapped[str | None]
    created_at: Mapped[Stamp]
    sent_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]


class Notice(Base):
    """A notice (a missing person, a suspect vehicle) to the volunteers around a place."""

    __tablename__ = "notices"
    __table_args__ = (
        _one_of("notices", "kind", NOTICE_KINDS),
        CheckConstraint("radius_m > 0 AND radius_m <= 50000", name="notices_radius_m_check"),
        CheckConstraint("photo_sha256 ~ '^[0-9a-f]{64}$'", name="notices_photo_sha256_check"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str]
    body: Mapped[str]
    place: Mapped[str]
    radius_m: Mapped[float] = mapped_column(REAL)
    geom = mapped_column(Geometry("POINT", srid=4326), nullable=False)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    media_id: Mapped[int | None]
    photo_sha256: Mapped[str | None] = mapped_column(String(64))  # its photo (media store)
    photo_mime: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Stamp]
