"""What a patrol plan is asked for: one home for its parameters and their defaults, light
enough for the command line to read them without loading the planner."""

from __future__ import annotations

from dataclasses import dataclass

from geo_patrol.errors import InputError


@dataclass(frozen=True)
class PlanParams:
    zones: int = 4
    minutes: float = 90.0          # time budget of one loop
    speed_kmh: float = 4.5         # walking speed
    dwell_min: float = 10.0        # an inspection stop at an overdue hazard
    post_reach_m: float = 500.0    # a post covers streets within this walk
    time_limit_s: float = 20.0     # for choosing the posts
    hazard_weight: float = 1.0     # demand of an overdue hazard, in km of stale street
    incident_weight: float = 0.25  # demand of a recent incident nearby
    alert_weight: float = 1.0      # demand of an open near-repeat alert area reaching a street

    def check(self) -> None:
        if not 1 <= self.zones <= 200:
            raise InputError("zones: between 1 and 200")
        if not 10 <= self.minutes <= 600:
            raise InputError("minutes: a loop budget between 10 and 600 minutes")
        if not 1 <= self.speed_kmh <= 30:
            raise InputError("speed: between 1 and 30 km/h")
        if not 0 <= self.dwell_min <= 60:
            raise InputError("dwell: between 0 and 60 minutes")
        if not 50 <= self.post_reach_m <= 5000:
            raise InputError("post reach: between 50 and 5000 m")
        if not (0 <= self.hazard_weight <= 100 and 0 <= self.incident_weight <= 100
                and 0 <= self.alert_weight <= 100):
            raise InputError("weights: between 0 and 100")
