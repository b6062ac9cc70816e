"""The parameters of an analysis run (stored with its results), and of every other reading of
the same fixes: task delivery checks against the same paths, reach and stays."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geo_patrol.rules import Rules


@dataclass(frozen=True)
class AnalysisParams:
    """What counts as a visit, a band, a stale street and a gap's priority.

    Built from the city's settings (``track_gap_s``, ``max_speed_kmh``) by
    :func:`geo_patrol.services.analysis.default_params`, for the map and the paid tasks alike.

    Attributes
    ----------
    radius_m
        A path within this distance of a street segment visits it (metres): the street is
        walked, on the map and in a task.
    inspection_dwell_min, inspection_radius_m
        What makes a stay: a hazard's inspection, a task's stop (``None``: from the rules
        file).
    gap_s, max_speed_kmh
        Consecutive fixes of a volunteer join into a path when at most ``gap_s`` apart and
        the implied speed is at most ``max_speed_kmh``.
    day_starts, night_starts
        Local times the day band and the night band start.
    stale_days
        A segment not visited in this many days before the window's end is stale (a gap).
    gap_context_m
        Hazards and incidents within this distance of a gap count towards its priority.
    hazard_weight, incident_weight
        Priority = km of gap x (1 + hazard_weight x overdue hazards + incident_weight x
        incidents).
    incident_days
        Incidents this many days before the window's end weigh gaps.
    """

    radius_m: float = 30.0
    inspection_dwell_min: float | None = None
    inspection_radius_m: float | None = None
    gap_s: float = 120.0
    max_speed_kmh: float = 200.0
    day_starts: dt.time = dt.time(6, 0)
    night_starts: dt.time = dt.time(20, 0)
    stale_days: float = 3.0
    gap_context_m: float = 100.0
    hazard_weight: float = 1.0
    incident_weight: float = 0.25
    incident_days: int = 90
    extra: dict[str, Any] = field(default_factory=dict)

    def stay_radius_m(self, rules: Rules) -> float:
        """Fixes within this distance of a place are near it (a hazard, a task's stop)."""
        return self.inspection_radius_m or rules.radius_m

    def stay_min(self, rules: Rules) -> float:
        """A visit this many minutes long is a stay (an inspection, a stop made)."""
        return self.inspection_dwell_min or rules.dwell_min

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day_starts"] = self.day_starts.strftime("%H:%M")
        d["night_starts"] = self.night_starts.strftime("%H:%M")
        return d
