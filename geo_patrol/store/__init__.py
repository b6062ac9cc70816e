"""PostGIS storage: the only layer that speaks SQL (SQLAlchemy 2 + GeoAlchemy2)."""
