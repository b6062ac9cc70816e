"""Readers: one per source. Each turns a file into clean, validated WGS-84 data or raises an
:class:`~geo_patrol.errors.InputError` naming the file and the row or feature at fault."""

from geo_patrol.ingest.boundaries import BoundarySet, read_boundaries
from geo_patrol.ingest.streets import read_streets

__all__ = ["BoundarySet", "read_boundaries", "read_streets"]
