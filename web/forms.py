"""Forms that help: a refused value re-renders the same page with status 400, the error in the
page's language beside the field at fault and everything typed kept; every error message in
the page's language (domain errors marked with ``N_``, a role's refusal, a file's bad rows).

A form's POST view is decorated with :func:`refills` naming the GET view of its page; its
template reads what was typed with ``entered(endpoint)`` and shows errors with
``field_error(endpoint, name)`` beside each field and ``form_error(endpoint)`` once for the
form (an error no field showed)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, g, make_response, request
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup

from geo_patrol.errors import (
    N_,
    ForbiddenError,
    GeoPatrolError,
    InputError,
    ReportInputError,
    RowErrors,
    RowProblem,
    TooLargeError,
)
from geo_patrol.render.basemap import (MAX_DATA_ZOOM, NAMED_STREETS_ZOOM, STYLE_JS,
                                       TILE_URL)
from geo_patrol.render.i18n import VOCAB, term
from geo_patrol.services import places
from web.db import get_db
from web.params import FIELD_NAMES, lang

#: A refused report's (or triage's) reason, its figures named as in the error's ``params``.
REFUSALS: dict[str, str] = {
    "not_image": N_("“%(file)s” is not a photo: send a JPEG, PNG or WebP picture."),
    "too_large": N_("“%(file)s” is too large: a photo may be at most %(mb)s MB."),
    "bomb": N_("“%(file)s” would unpack to more than %(pixels)s pixels and was refused."),
    "size_lies": N_("“%(file)s” claims a smaller size in its EXIF than the picture it "
                    "holds, and was refused."),
    "too_many": N_("A report carries at most %(limit)s photos; you chose %(count)s."),
    "not_video": N_("“%(file)s” is not a video that can be read: send an MP4, QuickTime "
                    "or WebM video."),
    "video_too_large": N_("“%(file)s” is too large: a video may be at most %(mb)s MB."),
    "video_too_long": N_("“%(file)s” is too long: a video may last at most %(seconds)s "
                         "seconds."),
    "outside": N_("The place chosen is not in this city's communities: choose a place "
                  "inside the city."),
    "place": N_("Where was it? Use your position, or tap the place on the map."),
    "category": N_("Choose a category from the list."),
    "text": N_("The text is too long, or starts with = + - or @."),
    "answer": N_("An answer has at most %(limit)s characters."),
    "reason": N_("Say why the report is rejected."),
    "merge": N_("Choose the earlier report to merge this one into."),
    "own": N_("This is your own report: another officer decides on it."),
}
_FIGURE = re.compile(r"%\((\w+)\)s")


def refusal_text(exc: ReportInputError) -> str:
    """What a refused report or triage says, in the reader's language, with its figures."""
    said = REFUSALS.get(exc.code)
    if said is None:
        return str(exc)
    return gettext(said, **{name: exc.params.get(name) for name in _FIGURE.findall(said)})


def _word(text: object) -> str:
    """A name inside a sentence: lower case in English ("the Name" reads "the name")."""
    return str(text).lower() if lang() == "en" else str(text)


def _joined(words: list[str]) -> str:
    """Names in a sentence: "a、b" in Chinese, "a and b", "a, b and c" in English."""
    if lang() != "en":
        return "、".join(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _value(value: Any) -> Any:
    """A message's value as the page shows it: a column's or field's name translated, a
    list of them joined."""
    if isinstance(value, list):
        return ", ".join(str(_value(v)) for v in value)
    if isinstance(value, str) and value in VOCAB["column"]:
        return _word(term("column", value, lang()))
    return value


def error_text(exc: BaseException) -> str:
    """What an error says, in the page's language."""
    if isinstance(exc, ReportInputError):
        return refusal_text(exc)
    if isinstance(exc, ForbiddenError) and exc.role:
        role = term("role", exc.role, lang())
        role = role.lower() if lang() == "en" else role
        if exc.page_for:  # a page only opened: who it is for
            return gettext("This page is for %(roles)s accounts; this %(role)s account "
                           "cannot open it.", roles=_joined([_word(term("role", r, lang()))
                                                      for r in exc.page_for]), role=role)
        resource = _word(term("resource", exc.resource, lang()))
        if exc.action == "own":  # a list of everyone's, asked by a role that sees its own
            return gettext("This %(role)s account sees only its own %(resource)s, not "
                           "everyone's.", role=role, resource=resource)
        if exc.action == "aggregate":
            return gettext("This %(role)s account sees only totals of %(resource)s.",
                           role=role, resource=resource)
        return gettext("This %(role)s account may not %(action)s %(resource)s.", role=role,
                       action=_word(term("access", exc.action, lang())), resource=resource)
    if isinstance(exc, RowErrors):
        return gettext("%(file)s: rows with a wrong value: %(n)s. Nothing was stored; "
                       "correct them and load the file again.", file=exc.source or "",
                       n=exc.total)
    if isinstance(exc, GeoPatrolError) and exc.msgid:
        return gettext(exc.msgid, **{k: _value(v) for k, v in exc.values.items()})
    return no_flags(str(exc))


def no_flags(text: str) -> str:
    """A message without the command line's advice (``(map others with --column ...)``,
    ``: pass --encoding``): no page names an option of a command."""
    text = re.sub(r"\s*\([^()]*--[a-z][^()]*\)", "", text)
    return re.sub(r"\s*[:;,]\s*[^:;]*--[a-z][\w-]*[^;]*", "", text)


def problem_text(problem: RowProblem) -> str:
    """One bad value of a file: its reason in the page's language."""
    return gettext(problem.msgid, **{k: _value(v) for k, v in problem.values.items()})


def column_name(column: str) -> str:
    if column in VOCAB["column"]:
        return term("column", column, lang())
    return str(FIELD_NAMES.get(column, column))


@dataclass
class FormError:
    """The refusal of the form posted to ``endpoint``."""

    endpoint: str
    field: str | None
    text: str
    typed: dict[str, str]
    problems: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    shown: bool = False
    key: str | None = None


def _failed(endpoint: str, key: object = None) -> FormError | None:
    """The refusal of the form of ``endpoint``; with ``key``, only when that form was the
    one posted (a page with one form per row: the row's id, as in the form's address)."""
    error: FormError | None = g.get("form_error")
    if error is None or error.endpoint != endpoint:
        return None
    return error if key is None or str(key) == error.key else None


def entered(endpoint: str, key: object = None) -> dict[str, str]:
    """What was typed into the form of ``endpoint`` when it was refused (else nothing)."""
    error = _failed(endpoint, key)
    return error.typed if error else {}


def field_error(endpoint: str, name: str, key: object = None) -> Markup:
    """The refusal beside field ``name`` of the form of ``endpoint`` (empty otherwise)."""
    error = _failed(endpoint, key)
    if error is None or error.field != name:
        return Markup("")
    error.shown = True
    return Markup('<span class="field-error" id="error-{}" role="alert">{}</span>').format(
        name, error.text)


def form_error(endpoint: str, key: object = None) -> Markup:
    """The refusal of the form of ``endpoint`` that no field showed, with a file's bad rows
    listed (row, column, reason)."""
    error = _failed(endpoint, key)
    if error is None or error.shown:
        return Markup("")
    html = Markup('<div class="form-error" id="form-error" role="alert"><p class="bad">{}</p>'
                  ).format(error.text)
    if error.problems:
        rows = Markup("").join(
            Markup("<tr><td>{}</td><td>{}</td><td>{}</td></tr>").format(
                p["row"], p["column"], p["reason"]) for p in error.problems)
        head = Markup("<tr><th>{}</th><th>{}</th><th>{}</th></tr>").format(
            gettext("Row"), gettext("Column"), gettext("What is wrong"))
        html += Markup('<table class="gp" id="bad-rows"><thead>{}</thead><tbody>{}</tbody>'
                       '</table>').format(head, rows)
        if error.total > len(error.problems):
            html += Markup('<p class="muted">{}</p>').format(
                gettext("and %(n)s more.", n=error.total - len(error.problems)))
    return html + Markup("</div>")


def _typed() -> dict[str, str]:
    return {k: v[:2000] for k, v in request.form.items()
            if k not in ("csrf_token", "password")}


def bad_rows(exc: Exception) -> list[dict[str, Any]]:
    """A file's bad rows (row, column, reason in the page's language); none for another
    error."""
    return [{"row": p.row, "column": column_name(p.column), "reason": problem_text(p)}
            for p in exc.problems] if isinstance(exc, RowErrors) else []


def refuse(exc: InputError) -> None:
    """Keep ``exc`` as the refusal of this request's form (the page then shows it)."""
    problems = bad_rows(exc)
    args = request.view_args or {}
    g.form_error = FormError(endpoint=request.endpoint or "", field=exc.field,
                             text=error_text(exc), typed=_typed(), problems=problems,
                             total=exc.total if isinstance(exc, RowErrors) else 0,
                             key=",".join(str(v) for v in args.values()) or None)


def refills(page: Callable[[], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A form's POST view: a refused value (:class:`InputError`, not a body too large)
    re-renders ``page`` with status 400, the error beside its field, what was typed kept,
    nothing changed."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except TooLargeError:
                raise
            except InputError as exc:
                refuse(exc)
                response: Response = make_response(page())
                if response.status_code == 200:  # (a page that sends elsewhere still does)
                    response.status_code = 400
                return response
        return wrapped
    return wrap


def city_bounds() -> list[float] | None:
    """The city's WGS-84 bounds (x0, y0, x1, y1), for a map that picks a point."""
    if "city_bounds" not in g:
        extent = places.city_extent(get_db())
        g.city_bounds = list(extent) if extent else None
    return g.city_bounds


def pick_view() -> dict[str, Any]:
    """Where a map that picks a point opens: the signed-in user's own area (the community in
    the middle of theirs), at the zoom the base map names every street
    (:data:`~geo_patrol.render.basemap.NAMED_STREETS_ZOOM`); the city's bounds when nothing
    is loaded."""
    if "pick_view" not in g:
        me = current_user.principal if current_user.is_authenticated else None
        point = places.home_point(get_db(), me.community_ids if me else None,
                                  volunteer_id=me.volunteer_id if me else None)
        g.pick_view = {"centre": list(point) if point else None, "zoom": NAMED_STREETS_ZOOM}
    return g.pick_view


def template_globals() -> dict[str, Any]:
    return {"entered": entered, "field_error": field_error, "form_error": form_error,
            "city_bounds": city_bounds, "pick_view": pick_view, "basemap_style": STYLE_JS,
            "basemap_tiles": TILE_URL, "basemap_zoom": MAX_DATA_ZOOM}
