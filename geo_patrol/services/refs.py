"""What names the records a page's rows refer to (the audit log's subjects): the details
:func:`geo_patrol.render.refs.ref_text` words them with, fetched in one query per kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from geo_patrol.render.refs import parse_ref
from geo_patrol.store import refs as store

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


def ref_details(db: Database, texts: Iterable[object]) -> dict[str, dict[str, Any]]:
    """For each stored reference among ``texts`` to a call-out or a notice, what names it
    (a call-out's kind, category and street; a notice's title), by the reference's text."""
    wanted: dict[str, dict[str, int]] = {"callout": {}, "notice": {}}
    for text in texts:
        ref = parse_ref(text)
        if ref is not None and ref.id is not None and ref.kind in wanted:
            wanted[ref.kind][str(text)] = ref.id
    if not any(wanted.values()):
        return {}
    with db.connect() as conn:
        found = {"callout": store.callouts_named(conn, sorted(set(wanted["callout"].values()))),
                 "notice": store.notices_named(conn, sorted(set(wanted["notice"].values())))}
    return {text: found[kind][i] for kind, refs in wanted.items()
            for text, i in refs.items() if i in found[kind]}
