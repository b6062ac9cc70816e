"""Hazard categories and their visit rules: configuration, read from a TOML file.

The packaged ``data/rules.toml`` is the default; ``GEO_PATROL_RULES_FILE`` replaces it.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from geo_patrol.errors import InputError
from geo_patrol.vocab import CERT_SKILLS

DEFAULT_RULES = "rules.toml"


@dataclass(frozen=True)
class VisitRule:
    """How often a hazard of one category must get an inspection visit."""

    category: str
    label_zh: str
    label_en: str
    every_days: int
    school_days_only: bool = False
    windows: tuple[tuple[dt.time, dt.time], ...] = ()
    skill: str | None = None        # certified skill needed to inspect it

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "every_days": self.every_days,
                "school_days_only": self.school_days_only,
                "windows": [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.windows]}

    def label(self, lang: str = "zh") -> str:
        """The category's name in ``lang``."""
        return self.label_zh if lang.startswith("zh") else self.label_en

    def describe(self, lang: str = "en") -> str:
        if lang == "zh":
            when = "每个上学日" if self.school_days_only else f"每 {self.every_days} 天"
            extra = f"（{'、'.join(f'{a:%H:%M}–{b:%H:%M}' for a, b in self.windows)}）"
            return when + (extra if self.windows else "")
        when = "every school day" if self.school_days_only else f"every {self.every_days} days"
        extra = f" within {', '.join(f'{a:%H:%M}-{b:%H:%M}' for a, b in self.windows)}"
        return when + (extra if self.windows else "")


@dataclass(frozen=True)
class Delivery:
    """When a patrol task counts as delivered, and the points it earns. What is walked and
    what makes a stop are the analysis's (its radius, track gap and stay), not set here."""

    delivered_share: float = 0.8  # delivered: this share of the route walked, every stop made
    partly_share: float = 0.3    # partly delivered: this share walked, or some stop made
    max_walk_kmh: float = 8.0    # fixes moving faster than this do not count on foot
    points_loop: int = 10
    points_hotspot: int = 5
    partly_points: float = 0.5   # share of the points a partly delivered task earns
    points_report: int = 5       # a report verified as true
    report_radius_m: float = 300.0  # a report's place within this of the reporter's fixes
    report_minutes: float = 30.0    # ... within this many minutes of its time
    duplicate_radius_m: float = 50.0  # a report of the same category this close ...
    duplicate_hours: float = 24.0     # ... this soon after an earlier one is a duplicate

    def points(self, kind: str, state: str) -> int:
        full = self.points_hotspot if kind == "hotspot" else self.points_loop
        return full if state == "delivered" else \
            int(round(full * self.partly_points)) if state == "partly" else 0


@dataclass(frozen=True)
class Dispatch:
    """How a call-out runs itself: who may be called (an ETA cap), rings of escalation, the
    SOS alarm's acknowledgement and the travel speeds (m/s) of each mode by street class."""

    eta_cap_min: float = 15.0   # nobody further than this many minutes away is called
    ring_size: int = 3          # volunteers called at once
    ring_s: float = 60.0        # seconds a ring has to accept before the next is called
    rings: int = 3              # rings before the station's group and the command are called
    fresh_min: float = 10.0     # a position older than this is stale: not called
    sos_ack_s: float = 60.0     # an SOS not acknowledged within this is escalated
    sos_call: int = 5           # volunteers called to an SOS (its first ring)
    still_min: float = 0.0      # "no movement during a patrol" alarm after N minutes (0: off)
    ride_kmh: float = 12.0      # a recent speed above this rides, not walks
    walk_mps: float = 1.3
    ride_mps: float = 4.5       # a rider (bicycle, e-bike) on a residential street
    drive_mps: float = 6.0      # a car on a residential street
    major_factor: float = 1.8   # riders and cars go this much faster on primary/secondary roads

    def speeds(self, mode: str, highway: Any) -> Any:
        """Metres a second of ``mode`` on streets of class ``highway`` (an array of OSM
        ``highway`` values); walking is the same everywhere."""
        cls = np.asarray(highway, dtype=object)
        if mode == "walk":
            return np.full(len(cls), self.walk_mps)
        base = self.ride_mps if mode == "ride" else self.drive_mps
        major = np.isin(cls, MAJOR_STREETS)
        foot = np.isin(cls, FOOT_STREETS)
        out = np.where(major, base * self.major_factor, base)
        return np.where(foot, self.walk_mps if mode == "drive" else base / 2, out)


#: OSM street classes where riders and cars are fast, and where cars cannot go.
MAJOR_STREETS = ("motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link",
                 "primary_link", "secondary_link")
FOOT_STREETS = ("footway", "pedestrian", "path", "steps", "cycleway")


#: What triage makes of a report; the first three verify it as true.
REPORT_OUTCOMES = ("verified", "hazard", "station", "rejected", "merged")
#: The share of a category's points each outcome earns, unless ``[report_outcomes]`` says.
DEFAULT_OUTCOME_SHARES = {"verified": 1.0, "hazard": 1.5, "station": 1.0, "rejected": 0.0,
                          "merged": 0.0}


@dataclass(frozen=True)
class ReportCategory:
    """A category a volunteer may report beyond the hazard categories, and its points."""

    category: str
    label_zh: str
    label_en: str
    points: int

    def label(self, lang: str = "zh") -> str:
        return self.label_zh if lang.startswith("zh") else self.label_en


@dataclass(frozen=True)
class Rules:
    """Every category's rule, their aliases, and what counts as an inspection visit."""

    categories: dict[str, VisitRule]
    aliases: dict[str, str]
    dwell_min: float
    radius_m: float
    delivery: Delivery = Delivery()
    #: Report categories beyond the hazards (suspicious person, lost person, dispute...).
    report_categories: dict[str, ReportCategory] = field(default_factory=dict)
    report_aliases: dict[str, str] = field(default_factory=dict)
    outcome_shares: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_OUTCOME_SHARES))
    dispatch: Dispatch = Dispatch()

    def report_category_of(self, value: str) -> str | None:
        """The key of a report's category (a report category or a hazard category) for any
        of its spellings, or ``None`` when it is unknown."""
        text = str(value).strip().lower()
        return self.report_aliases.get(text) or self.aliases.get(text)

    def report_label(self, category: object, lang: str = "zh") -> str | None:
        """A report category's or hazard category's name (``None`` when neither)."""
        found = self.report_categories.get(str(category))
        if found is not None:
            return found.label(lang)
        rule = self.categories.get(str(category))
        return rule.label(lang) if rule else None

    def report_points(self, category: object, outcome: str | None) -> int:
        """Points a report of ``category`` earns for the outcome of its triage (a report
        verified without one, as from a ledger, counts as ``verified``)."""
        found = self.report_categories.get(str(category))
        full = found.points if found is not None else self.delivery.points_report
        share = self.outcome_shares.get(outcome or "verified", 0.0)
        return int(round(full * share))

    def label(self, category: object, lang: str = "zh") -> str:
        """The name of a category key in ``lang`` (the key itself when unknown)."""
        rule = self.categories.get(str(category))
        return rule.label(lang) if rule else str(category)

    def skills_needed(self) -> dict[str, str]:
        """Category → the certified skill its inspections need (only categories that do)."""
        return {k: r.skill for k, r in self.categories.items() if r.skill}

    def category_of(self, value: str) -> str | None:
        """The category key for a ledger's spelling, or ``None`` when it is unknown."""
        return self.aliases.get(str(value).strip().lower())


def _window(text: str, source: str) -> tuple[dt.time, dt.time]:
    try:
        a, b = (dt.time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError:
        msg = f"time window {text!r} is not HH:MM-HH:MM"
        raise InputError(msg, source=source) from None
    return a, b


def _skill(value: object, category: str, source: str) -> str | None:
    if value is None:
        return None
    if value not in CERT_SKILLS:
        msg = f"category {category}: unknown skill {value!r} (use one of {', '.join(CERT_SKILLS)})"
        raise InputError(msg, source=source)
    return str(value)


def parse_rules(data: dict[str, Any], source: str) -> Rules:
    """Build :class:`Rules` from the parsed TOML document."""
    cats = data.get("categories") or {}
    if "other" not in cats:
        msg = "the rules must define an 'other' category"
        raise InputError(msg, source=source)
    categories: dict[str, VisitRule] = {}
    aliases: dict[str, str] = {}
    for key, spec in cats.items():
        categories[key] = VisitRule(
            category=key, label_zh=spec.get("label_zh", key), label_en=spec.get("label_en", key),
            every_days=int(spec.get("every_days", 30)),
            school_days_only=bool(spec.get("school_days_only", False)),
            windows=tuple(_window(w, source) for w in spec.get("windows", [])),
            skill=_skill(spec.get("skill"), key, source))
        for name in (key, spec.get("label_zh"), spec.get("label_en"), *spec.get("aliases", [])):
            if name:
                aliases[str(name).strip().lower()] = key
    insp = data.get("inspection", {})
    reports, report_aliases = _report_categories(data.get("report_categories") or {}, source)
    return Rules(categories, aliases, float(insp.get("dwell_min", 10)),
                 float(insp.get("radius_m", 50)), _delivery(data.get("delivery", {}), source),
                 report_categories=reports, report_aliases=report_aliases,
                 outcome_shares=_outcome_shares(data.get("report_outcomes") or {}, source),
                 dispatch=_dispatch(data.get("dispatch") or {}, source))


def _report_categories(cats: dict[str, Any], source: str
                       ) -> tuple[dict[str, ReportCategory], dict[str, str]]:
    found: dict[str, ReportCategory] = {}
    aliases: dict[str, str] = {}
    for key, spec in cats.items():
        try:
            points = int(spec.get("points", 5))
        except (TypeError, ValueError):
            raise InputError(f"report category {key}: points is a whole number",
                             source=source) from None
        found[key] = ReportCategory(key, spec.get("label_zh", key), spec.get("label_en", key),
                                    points)
        for name in (key, spec.get("label_zh"), spec.get("label_en"), *spec.get("aliases", [])):
            if name:
                aliases[str(name).strip().lower()] = key
    return found, aliases


def _outcome_shares(spec: dict[str, Any], source: str) -> dict[str, float]:
    unknown = set(spec) - set(REPORT_OUTCOMES)
    if unknown:
        msg = f"[report_outcomes]: unknown outcomes {', '.join(sorted(unknown))}"
        raise InputError(msg, source=source)
    try:
        return DEFAULT_OUTCOME_SHARES | {k: float(v) for k, v in spec.items()}
    except (TypeError, ValueError):
        raise InputError("[report_outcomes]: every value is a number", source=source) from None


def _delivery(spec: dict[str, Any], source: str) -> Delivery:
    if "radius_m" in spec:
        msg = ("[delivery]: radius_m is no longer set here: a route's street is walked within "
               "the analysis radius, as on the map; remove it")
        raise InputError(msg, source=source)
    known = Delivery.__dataclass_fields__
    unknown = set(spec) - set(known)
    if unknown:
        msg = f"[delivery]: unknown keys {', '.join(sorted(unknown))}"
        raise InputError(msg, source=source)
    try:
        out = Delivery(**{k: type(getattr(Delivery, k))(v) for k, v in spec.items()})
    except (TypeError, ValueError):
        raise InputError("[delivery]: every value is a number", source=source) from None
    if not 0 < out.partly_share <= out.delivered_share <= 1:
        raise InputError("[delivery]: 0 < partly_share <= delivered_share <= 1", source=source)
    return out


def _dispatch(spec: dict[str, Any], source: str) -> Dispatch:
    unknown = set(spec) - set(Dispatch.__dataclass_fields__)
    if unknown:
        raise InputError(f"[dispatch]: unknown keys {', '.join(sorted(unknown))}", source=source)
    try:
        out = Dispatch(**{k: type(getattr(Dispatch, k))(v) for k, v in spec.items()})
    except (TypeError, ValueError):
        raise InputError("[dispatch]: every value is a number", source=source) from None
    if min(out.eta_cap_min, out.ring_size, out.ring_s, out.rings, out.sos_ack_s, out.sos_call,
           out.walk_mps, out.ride_mps, out.drive_mps, out.fresh_min) <= 0 or out.still_min < 0:
        raise InputError("[dispatch]: every value is positive (still_min 0 turns it off)",
                         source=source)
    return out


@lru_cache(maxsize=8)
def load_rules(path: str | None = None) -> Rules:
    """Read the rules file (the packaged default when ``path`` is ``None``)."""
    if path is None:
        text = resources.files("geo_patrol.data").joinpath(DEFAULT_RULES).read_text("utf-8")
        source = DEFAULT_RULES
    else:
        p = Path(path)
        if not p.is_file():
            msg = "rules file not found"
            raise InputError(msg, source=str(p))
        text, source = p.read_text("utf-8"), str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=source) from None
    return parse_rules(data, source)
