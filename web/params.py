"""Request parameters: ids within PostgreSQL's ``integer`` range, numbers, days, the
language, local redirect targets and the analysis run a page shows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from flask import Response, request
from werkzeug.routing import IntegerConverter

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.store import results

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: a path id beyond the column range matches no route (404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002, ANN001, ANN002, ANN003
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def int_arg(name: str, default: int | None = None, *, low: int = 0,
            high: int = MAX_ID) -> int | None:
    """``?name=`` as an integer in ``[low, high]``; anything else is a 400, never ignored."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if not low <= value <= high:
        raise InputError(f"{name} must lie between {low} and {high}")
    return value


def float_arg(name: str, default: float) -> float:
    """``?name=`` as a number (400 when it is not one)."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number, not {raw[:30]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{name} must be a finite number")
    return value


def day_arg(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` day."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"day {text[:20]!r} is not a date (YYYY-MM-DD)") from None


def lang() -> str:
    """The request's language: ``zh`` or ``en``."""
    from flask_babel import get_locale

    return "zh" if str(get_locale()).startswith("zh") else "en"


def local_path(target: str | None, default: str) -> str:
    """``target`` when it is a path on this server, else ``default`` (no open redirects:
    ``//host``, ``/\\host``, schemes and control characters are refused)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or \
            any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return default
    return target


def current_run(conn: Connection) -> dict | None:
    """The run of ``?run=`` (404 when it does not exist), else the latest (None: no run)."""
    run_id = int_arg("run")
    try:
        return results.find_run(conn, run_id)
    except NotFoundError:
        if run_id is not None:
            raise
        return None


def stored_run(conn: Connection) -> dict:
    run = current_run(conn)
    if run is None:
        raise NotFoundError("no analysis run yet")
    return run


def csv_response(table: Any, name: str) -> Response:
    """A table as a CSV download (UTF-8 with BOM, opens in Excel)."""
    from geo_patrol.render.exports import table_csv

    return Response(table_csv(table), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
