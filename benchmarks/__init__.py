"""Benchmarks: each runs our path and its baseline in the same run on the same data."""
