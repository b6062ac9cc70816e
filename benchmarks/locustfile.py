"""Locust users for the load run of ``benchmarks.reliability`` (loopback only): a district
command browsing the dashboard, a community page and its map, and the API.

The target comes from the environment: ``GP_TOKEN`` (bearer token), ``GP_RUN`` and
``GP_COMMUNITY``.
"""

from __future__ import annotations

import os

from locust import HttpUser, between, task


class CommandUser(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['GP_TOKEN']}"
        self.run = os.environ["GP_RUN"]
        self.community = os.environ["GP_COMMUNITY"]

    @task(3)
    def dashboard(self) -> None:
        self.client.get(f"/dashboard?run={self.run}", name="/dashboard")

    @task(2)
    def community(self) -> None:
        self.client.get(f"/community/{self.community}?run={self.run}", name="/community/[id]")

    @task(1)
    def community_map(self) -> None:
        self.client.get(f"/maps/community/{self.community}?run={self.run}",
                        name="/maps/community/[id]")

    @task(3)
    def api_areas(self) -> None:
        self.client.get(f"/api/runs/{self.run}/areas?level=community",
                        name="/api/runs/[id]/areas")

    @task(2)
    def api_gaps(self) -> None:
        self.client.get(f"/api/runs/{self.run}/gaps?limit=50", name="/api/runs/[id]/gaps")
