"""The reliability run stays runnable end to end (a file of its own: the longest test, which
the parallel runner schedules on its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def test_reliability_run_on_a_small_budget():
    """Faults, load and fuzzing end to end (its own cluster), on a small budget."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.reliability", "--fixes", "60000",
                          "--earlier-fixes", "10000", "--load-seconds", "4", "--users", "4",
                          "--fuzz-examples", "3", "--parser-examples", "10",
                          "--no-attacker-suites"], cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True, timeout=900, check=False)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["kill_mid_load"]["after_kill"] == figures["kill_mid_load"]["before"]
    assert figures["restart_under_traffic"]["failed_after"] == 0
    assert figures["concurrent_uploads"]["uploads_stored"] == 1
    assert figures["load"]["server_errors_5xx"] == 0 and figures["load"]["requests"] > 0
    assert figures["all_ok"], out.stdout[-3000:]
    assert out.returncode == 0
