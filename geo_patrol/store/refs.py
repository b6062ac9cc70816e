"""What names the records other records refer to (an audit entry's subject): a call-out's
kind, category and street, a notice's title, fetched at once for a page's rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.places import nearest_piece


def callouts_named(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each call-out's kind, category and the street (with its cross streets) nearest it."""
    if not ids:
        return {}
    rows = conn.execute(sa.text(f"""
        SELECT c.id, c.kind, c.category, np.street, np.cross_a, np.cross_b
        FROM callouts c {nearest_piece('c.geom_m')} WHERE c.id = ANY(:ids)"""),
        {"ids": list(ids)}).mappings()
    return {int(r["id"]): dict(r) for r in rows}


def notices_named(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each notice's kind and title."""
    if not ids:
        return {}
    rows = conn.execute(sa.text(
        "SELECT id, kind, title FROM notices WHERE id = ANY(:ids)"),
        {"ids": list(ids)}).mappings()
    return {int(r["id"]): dict(r) for r in rows}
