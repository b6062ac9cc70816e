"""The parameters of an analysis run (stored with its results)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class AnalysisParams:
    """What counts as a visit, a band, a stale street and a gap's priority."""

    #: A path within this distance of a street segment visits it (metres).
    radius_m: float = 30.0
    #: Consecutive fixes of a volunteer join into a path when at most this far apart in time.
    gap_s: float = 120.0
    #: ... and when the implied speed is at most this (km/h).
    max_speed_kmh: float = 200.0
    #: Local time the day band starts and the night band starts.
    day_starts: dt.time = dt.time(6, 0)
    night_starts: dt.time = dt.time(20, 0)
    #: A segment not visited in this many days before the window's end is stale (a gap).
    stale_days: float = 3.0
    #: Hazards and incidents within this distance of a gap count towards its priority.
    gap_context_m: float = 100.0
    #: Priority = km of gap x (1 + hazard_weight x overdue hazards + incident_weight x incidents).
    hazard_weight: float = 1.0
    incident_weight: float = 0.25
    #: Incidents this many days before the window's end weigh gaps.
    incident_days: int = 90
    #: Compliance: inspection dwell and distance (None: from the rules file).
    inspection_dwell_min: float | None = None
    inspection_radius_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day_starts"] = self.day_starts.strftime("%H:%M")
        d["night_starts"] = self.night_starts.strftime("%H:%M")
        return d
