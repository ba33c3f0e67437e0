"""The chaos benchmark in short, on every run of the suite: a few hundred executions
while workers are kill -9'd and the database crash-restarts, and the self-test that
proves the benchmark would see a finished step run again.

It runs `python -m bench.chaos` as a subprocess, as a person changing the engine would;
the benchmark starts its own PostgreSQL cluster, so FLOWDECK_DATABASE_URL is not used.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bench.chaos_cluster import find_bindir

ROOT = Path(__file__).resolve().parents[2]
BOUNDS = ["--timeout", "150", "--stall", "30", "--settle", "30", "--submit-timeout", "60"]

pytestmark = pytest.mark.skipif(
    find_bindir() is None,
    reason="no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine "
    "or in the embedded server's wheel",
)


def chaos(*args: str) -> tuple[int, str, dict[str, int]]:
    """Run the benchmark; (exit code, its output, the figures of its last line)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", *BOUNDS, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    figures = {
        name: int(count)
        for count, name in re.findall(
            r"(\d+) (lost|duplicate|stuck|failed|finished steps re-run|succeeded without hit"
            r"|kills|db restarts?)\b",
            last,
        )
    }
    return done.returncode, f"{done.stdout}\n{done.stderr}", figures


@pytest.mark.timeout(240)
def test_killed_workers_and_a_database_crash_lose_nothing_and_rerun_no_finished_step() -> None:
    code, output, figures = chaos("--executions", "300", "--workers", "2", "--kill-every", "2")
    assert code == 0, output
    assert figures["kills"] >= 1, output
    assert figures["db restart"] == 1, output
    for name in ("lost", "duplicate", "stuck", "failed", "finished steps re-run"):
        assert figures[name] == 0, output
    assert figures["succeeded without hit"] == 0, output


@pytest.mark.timeout(240)
def test_the_self_test_reports_the_re_runs_it_planted() -> None:
    code, output, figures = chaos(
        "--self-test", "--plant", "3", "--executions", "80", "--no-db-restart"
    )
    assert code == 1, output
    assert "self-test: planted 3 re-runs" in output, output
    assert figures["finished steps re-run"] == 3, output
    assert output.strip().splitlines()[-1].endswith("BROKEN: 3 finished steps re-run"), output
    for name in ("lost", "duplicate", "stuck", "failed", "succeeded without hit"):
        assert figures[name] == 0, output
