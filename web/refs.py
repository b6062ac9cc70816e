"""A referenced record on a page (the audit log's subject): named as a person knows it
(:func:`geo_patrol.render.refs.ref_text`), a link to its page where it has one and the user
may open it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup

from geo_patrol.render.refs import parse_ref, ref_text
from web.auth import principal
from web.params import lang

#: Kinds of record with a page of their own: the page's endpoint and its argument naming
#: the record.
_PAGES: dict[str, tuple[str, str]] = {
    "callout": ("live.live_page", "callout"),
    "notice": ("notify.notices_page", "notice"),
    "community": ("pages.community", "area_id"),
    "campaign": ("campaigns.campaigns_page", "id"),
}


def _may_open(endpoint: str) -> bool:
    """Whether the user's role may open the page of ``endpoint`` (what its view requires)."""
    resource, action = getattr(current_app.view_functions[endpoint], "required",
                               (None, None))
    return resource is None or principal().grant(resource, action) is not None


def subject(text: object, details: Mapping[str, Mapping[str, Any]] | None = None) -> Markup:
    """``text`` (a stored reference such as ``callout 16``, or any other subject) as the
    page shows it, linked to the record's page when there is one."""
    said = ref_text(text, lang(), (details or {}).get(str(text)))
    ref = parse_ref(text)
    page = _PAGES.get(ref.kind) if ref is not None and ref.id is not None else None
    if page is None or not _may_open(page[0]):
        return Markup("{}").format(said)
    endpoint, arg = page
    return Markup('<a href="{}">{}</a>').format(url_for(endpoint, **{arg: ref.id}), said)
