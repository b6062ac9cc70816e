"""A scope in SQL: the one filter that limits rows to a set of areas (those a user may reach,
:meth:`geo_patrol.access.Principal.within`, or an analysis window's), and the one place that
binds those areas.

A query puts :func:`in_scope` (an area id column) or :func:`meets_scope` (a subquery of area
ids) in its ``WHERE`` and adds :func:`scope_params` to its parameters; with no scope (``None``)
every row passes, with an empty one none does.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Area ids a user's records are limited to (``None``: no limit).
Within = frozenset[int] | None

#: The scope's area ids, as :func:`scope_params` binds them (NULL: no limit).
_IDS = "CAST(:within AS integer[])"


def in_scope(column: str) -> str:
    """SQL that is true where ``column`` (an area id) is one of the scope's areas."""
    return f"({_IDS} IS NULL OR {column} = ANY({_IDS}))"


def meets_scope(ids: str) -> str:
    """SQL that is true where some area id the subquery ``ids`` selects is one of the scope's
    areas (a district whose communities include one of the user's, for instance)."""
    return f"({_IDS} IS NULL OR {_IDS} && ARRAY({ids}))"


def scope_params(within: Iterable[int] | None) -> dict[str, list[int] | None]:
    """The bind parameters of :func:`in_scope` and :func:`meets_scope` for a scope."""
    return {"within": None if within is None else sorted(within)}
