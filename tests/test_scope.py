"""The scope filter: what it lets through, and that it has one home in the store."""

from __future__ import annotations

import re

import sqlalchemy as sa

from geo_patrol.store.scope import in_scope, meets_scope, scope_params
from tests.conftest import REPO

STORE = REPO / "geo_patrol" / "store"


def test_scope_filter_lets_through_its_areas_only(engine):
    """No scope: every row; an empty one: none; else the rows of its areas (for a subquery of
    area ids: the rows one of whose ids is in it)."""
    column = f"SELECT x FROM unnest(ARRAY[1, 2, 3]) x WHERE {in_scope('x')} ORDER BY x"
    subquery = (f"SELECT x FROM unnest(ARRAY[1, 2, 3]) x "
                f"WHERE {meets_scope('SELECT unnest(ARRAY[x, x * 10])')} ORDER BY x")
    with engine.connect() as conn:
        def rows(query: str, within: frozenset[int] | None) -> list[int]:
            return list(conn.execute(sa.text(query), scope_params(within)).scalars())

        for query in (column, subquery):
            assert rows(query, None) == [1, 2, 3]
            assert rows(query, frozenset()) == []
            assert rows(query, frozenset({2, 7})) == [2]
        assert rows(subquery, frozenset({30, 1})) == [1, 3]
        assert rows(column, frozenset({30, 1})) == [1]


def test_area_reaching_queries_take_a_scope(engine):
    """The listings whose rows reach areas through the area tree (campaigns over districts,
    rotas of a district or community) run with no scope, an empty one and a set."""
    from geo_patrol.store.campaigns import campaign_table
    from geo_patrol.store.rotas import rotas

    with engine.connect() as conn:
        for within in (None, frozenset(), frozenset({1, 2})):
            assert campaign_table(conn, within=within).empty
            assert rotas(conn, within=within).empty


def test_scope_filter_and_area_subtree_have_one_home():
    """No store module spells the scope filter or walks the area tree itself: they call
    :mod:`geo_patrol.store.scope` and the ``area_subtree`` SQL function."""
    filter_ = re.compile(r"AS integer\[\]\)\s*IS NULL", re.IGNORECASE)
    walk = re.compile(r"WITH\s+RECURSIVE", re.IGNORECASE)
    offenders = []
    for path in sorted(STORE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name != "scope.py" and filter_.search(text):
            offenders.append(f"{path.name}: scope filter")
        if walk.search(text):
            offenders.append(f"{path.name}: recursive query")
    assert offenders == []
