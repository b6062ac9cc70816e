#!/usr/bin/env bash
# The whole test suite with the same automatic set-up (real PostGIS, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# one process per core, each with its own PostGIS cluster; a test file stays in one process
# (its module's database), the longest files first (tests/conftest.py); `-n 0`: one process
exec .venv/bin/python -m pytest -n auto --dist loadfile --no-loadscope-reorder "$@"
