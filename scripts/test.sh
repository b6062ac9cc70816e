#!/usr/bin/env bash
# The whole test suite with the same automatic set-up (real PostGIS, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# one process per core, each with its own PostGIS cluster; a test file stays in one process
# (its module's database); `scripts/test.sh -n 0` runs everything in one process
exec .venv/bin/python -m pytest -n auto --dist loadfile "$@"
