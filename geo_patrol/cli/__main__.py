"""``python -m geo_patrol.cli``."""

from geo_patrol.cli import main

main()
