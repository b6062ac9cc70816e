"""geo-patrol: patrol coverage and hazard mapping for volunteer community patrols.

Data flows one way: :mod:`geo_patrol.ingest` reads files, :mod:`geo_patrol.store` keeps them
in PostGIS, and the later stages analyse, render and export what is stored.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("geo-patrol")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
