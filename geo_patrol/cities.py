"""Cities: what a deployment is made of. Each city has its own boundaries, streets,
volunteers, accounts and results (in its own schema), its own metric CRS, time zone, rules
and retention; every page, API call, command and export works on one city."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo_patrol.crs import epsg_code, parse_crs
from geo_patrol.errors import CRSError, InputError
from geo_patrol.rules import load_rules
from geo_patrol.settings import Settings

#: A city's key: what ``--city`` and ``?city=`` take, and its schema's name after ``city_``.
KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class City:
    """One city of the deployment."""

    key: str
    name: str
    timezone: str
    name_en: str | None = None
    #: Declared metric CRS; ``None`` takes the UTM zone of the first data loaded.
    metric_crs: str | None = None
    #: Days raw fixes are kept; ``None`` takes the deployment's default.
    retention_days: float | None = None
    #: TOML file of hazard categories and visit rules; ``None`` takes the deployment's.
    rules_file: str | None = None

    def label(self, lang: str) -> str:
        """The city's name in a language (English falls back to the key)."""
        return self.name if lang == "zh" else (self.name_en or self.key.capitalize())

    def settings(self, base: Settings) -> Settings:
        """The deployment's settings with this city's own time zone, CRS, rules and
        retention."""
        return base.with_(city=self.key, timezone=self.timezone,
                          metric_crs=self.metric_crs or base.metric_crs,
                          retention_days=self.retention_days or base.retention_days,
                          rules_file=self.rules_file or base.rules_file)

    def with_(self, **changes: object) -> City:
        return checked(replace(self, **changes))


def checked(city: City) -> City:
    """``city`` if every field is valid, else an :class:`InputError` naming the field."""
    if not KEY.fullmatch(city.key or ""):
        msg = (f"city key {city.key!r} must start with a letter and hold only a-z, 0-9 and _ "
               "(at most 32)")
        raise InputError(msg)
    if not (city.name or "").strip():
        raise InputError("a city needs a name")
    try:
        ZoneInfo(city.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {city.timezone!r} (e.g. Asia/Shanghai)"
        raise InputError(msg) from None
    if city.metric_crs is not None:
        declared = parse_crs(city.metric_crs)
        if declared.proj is None or not declared.proj.is_projected:
            msg = f"a city's metric CRS must be projected in metres, not {city.metric_crs!r}"
            raise CRSError(msg)
        epsg_code(city.metric_crs)
    if city.retention_days is not None and not city.retention_days > 0:
        raise InputError("retention must be a positive number of days")
    if city.rules_file is not None:
        load_rules(city.rules_file)  # raises on a missing or malformed file
    return replace(city, name=city.name.strip(),
                   name_en=(city.name_en or "").strip() or None)
