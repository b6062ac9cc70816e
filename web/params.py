"""Request parameters: ids within PostgreSQL's ``integer`` range, numbers, days, the
language, local redirect targets and the analysis run a page shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Response, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from werkzeug.routing import IntegerConverter

from geo_patrol.clock import parse_day
from geo_patrol.errors import N_, InputError, NotFoundError
from geo_patrol.paging import MAX_PAGE, PAGE_SIZE, Paging
from geo_patrol.render.exports import table_csv
from geo_patrol.services import results
from web.db import settings

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: a path id beyond the column range matches no route (404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002, ANN001, ANN002, ANN003
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


#: What a request may ask of a web thread: the most expensive parameters are capped here
#: (the library's own limits are wider, for the command line).
WEB_CAPS: dict[str, tuple[float, float]] = {
    "zones": (1, 12), "minutes": (10, 240), "days": (7, 365), "rota_days": (1, 14),
    "weeks": (1, 12), "revisit_days": (1, 14), "speed": (1, 30), "dwell": (0, 60),
    "hazard_weight": (0, 100), "incident_weight": (0, 100), "alert_weight": (0, 100),
}

#: The step each number field of a form offers (its ``step``; 1 when the field gives none):
#: a value is rounded to it, so values the form cannot give (``0.0001``) name the same job
#: as the one the form gives, not a new one each.
STEPS: dict[str, float] = {
    "minutes": 1, "speed": 0.5, "dwell": 1, "hazard_weight": 0.1, "incident_weight": 0.05,
    "alert_weight": 0.1, "fall": 1,
}

#: The names a message gives the fields it is about, in the page's language.
#: (the labels of the forms' fields, so a message names what the user sees)
FIELD_NAMES: dict[str, str] = {
    "zones": lazy_gettext("Zones"), "minutes": lazy_gettext("Loop minutes"),
    "days": lazy_gettext("Days"), "weeks": lazy_gettext("Weeks"),
    "revisit_days": lazy_gettext("Every street within (days)"),
    "speed": lazy_gettext("Walking km/h"), "dwell": lazy_gettext("Stop at a hazard, min"),
    "seed": lazy_gettext("Draw number"),
    "hazard_weight": lazy_gettext("Weight of an overdue hazard"),
    "incident_weight": lazy_gettext("of an incident"),
    "alert_weight": lazy_gettext("of a near-repeat alert area"),
    "page": lazy_gettext("Page"), "batch_page": lazy_gettext("Page"),
    "reports_page": lazy_gettext("Page"), "ranking_page": lazy_gettext("Page"),
    "ledger_page": lazy_gettext("Page"),
}


def _field(name: str) -> str:
    return str(FIELD_NAMES.get(name, name))


def _out_of_range(name: str, low: float, high: float) -> InputError:
    return InputError(gettext("%(name)s must lie between %(low)s and %(high)s.",
                              name=_field(name), low=f"{low:g}", high=f"{high:g}"), field=name)


def int_arg(name: str, default: int | None = None, *, low: int = 0,
            high: int = MAX_ID) -> int | None:
    """``?name=`` as an integer in ``[low, high]``; anything else is a 400, never ignored."""
    return int_value(name, request.args.get(name), default, low=low, high=high)


def int_value(name: str, raw: str | None, default: int | None = None, *, low: int = 0,
              high: int = MAX_ID) -> int | None:
    """A query or form value as an integer in ``[low, high]`` (a 400 in the page's language
    that repeats what was typed otherwise)."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InputError(gettext("%(name)s must be a whole number, not “%(raw)s”.",
                                 name=_field(name), raw=raw[:40]), field=name) from None
    if not low <= value <= high:
        raise _out_of_range(name, low, high)
    return value


def capped_int(name: str, raw: str | None, default: int, *, cap: str | None = None) -> int:
    """A form or query integer within :data:`WEB_CAPS` (``cap`` names the entry when it is not
    ``name``)."""
    low, high = WEB_CAPS[cap or name]
    value = int_value(name, raw, default, low=int(low), high=int(high))
    assert value is not None
    return value


def float_arg(name: str, default: float) -> float:
    """``?name=`` as a finite number (400 when it is not one), within :data:`WEB_CAPS` when
    the name is capped there."""
    return float_value(name, request.args.get(name), default)


def float_value(name: str, raw: str | None, default: float) -> float:
    """A query or form value as a finite number within :data:`WEB_CAPS` (when capped)."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(gettext("%(name)s must be a number, not “%(raw)s”.",
                                 name=_field(name), raw=raw[:30]), field=name) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(gettext("%(name)s must be a finite number.", name=_field(name)),
                         field=name)
    if name in WEB_CAPS and not WEB_CAPS[name][0] <= value <= WEB_CAPS[name][1]:
        raise _out_of_range(name, *WEB_CAPS[name])
    return on_step(name, value)


def on_step(name: str, value: float) -> float:
    """``value`` rounded to the step the form offers for field ``name`` (:data:`STEPS`)."""
    step = STEPS.get(name)
    if step is None:
        return value
    return round(round(value / step) * step, 6)


def form_choice(name: str, choices: tuple[str, ...]) -> str:
    """The posted form's ``name``: one of ``choices`` (400 otherwise)."""
    value = request.form.get(name)
    if value not in choices:
        raise InputError(f"{name} is {' or '.join(choices)}")
    return value


def day_arg(text: str, field: str = "day") -> dt.date:
    """A day (form field ``field``) as the date fields send it (``2026-03-15``) or as people
    type it (``2026/3/15``, ``2026年3月15日``)."""
    day = parse_day(text)
    if day is None:
        raise InputError(N_("“%(raw)s” is not a date (YYYY-MM-DD)."), field=field,
                         values={"raw": text[:20]})
    return day


def lang() -> str:
    """The request's language: ``zh`` or ``en``."""
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


def download(body: str | bytes, name: str, mimetype: str) -> Response:
    """A file to save as ``name`` (named after its city on the way out, :mod:`web.db`)."""
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def csv_response(table: Any, name: str) -> Response:
    """A table as a CSV download (UTF-8 with BOM, opens in Excel)."""
    return download(table_csv(table, tz=settings().timezone), name, "text/csv")


def paging_args(*, sortable: Iterable[str], filters: Iterable[str] = (),
                size: int = PAGE_SIZE, page_key: str = "page",
                sort_key: str | None = "sort") -> Paging:
    """The page, order and filters a table was asked for (``?page=``, ``?sort=key`` or
    ``?sort=-key`` for descending, and one parameter per filter), checked here for every
    paged table: a page that is not a whole number from 1, or a column the table cannot be
    sorted by, is a 400 in the page's language. A second paged table on a page reads its
    page from ``page_key`` instead, and its order from ``sort_key`` (``None``: it keeps its
    own order, whatever the page's first table is sorted by)."""
    page = int_value(page_key, request.args.get(page_key), 1, low=1, high=MAX_PAGE)
    raw = (request.args.get(sort_key) or "").strip() if sort_key else ""
    key = raw.removeprefix("-") or None
    if key is not None and key not in set(sortable):
        raise InputError(gettext("The table cannot be sorted by “%(key)s”.", key=key[:40]))
    chosen = {k: v.strip()[:100] for k in filters if (v := request.args.get(k, "")).strip()}
    return Paging(page=page or 1, size=size, sort=key, descending=raw.startswith("-"),
                  filters=chosen)


def page_url(**changes: Any) -> str:
    """This page's address with some query parameters changed (``None`` drops one): the
    pager's and the sortable headers' links keep the filters."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    return url_for(request.endpoint or "pages.index", **(request.view_args or {}), **args)
