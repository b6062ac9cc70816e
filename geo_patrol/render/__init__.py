"""Render: folium maps and HTML briefings from stored analysis results (offline assets only)."""
