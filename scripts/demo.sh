#!/usr/bin/env bash
# The main job on the embedded default: set up, start the local PostGIS, load and report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec .venv/bin/geo-patrol demo "$@"
