"""Tables a page offers as CSV files: one route each, for who may read the page's data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from geo_patrol.access import Resource
from web.auth import requires
from web.params import csv_response


def csv_route(bp: Blueprint, rule: str, endpoint: str, resource: Resource,
              table: Callable[[], Any], name: str) -> None:
    """Serve ``table()`` (read for the request, in the user's scope) at ``rule`` as the CSV
    file ``name``, to users whose role may read ``resource``."""
    def view() -> Response:
        return csv_response(table(), name)

    view.__name__ = endpoint
    view.__doc__ = f"``{rule}``: the page's table as ``{name}``."
    bp.add_url_rule(rule, endpoint, requires(resource)(view), methods=["GET"])
