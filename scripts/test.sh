#!/usr/bin/env bash
# The whole test suite with the same automatic set-up (real PostGIS, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
