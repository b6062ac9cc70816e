"""Analysis: patrol paths, street coverage, hazard compliance and gaps for a time window."""

from geo_patrol.analysis.params import AnalysisParams

__all__ = ["AnalysisParams"]
