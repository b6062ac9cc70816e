"""Request parameters the database will hold: ids within PostgreSQL's ``integer`` range."""

from __future__ import annotations

from flask import request
from werkzeug.routing import IntegerConverter

from geo_patrol.errors import InputError

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
