"""How long the embedded PostgreSQL server takes to give a first connection.

    python -m bench.embedded_start [--runs N]

- cold: an empty data directory (initdb, start, create the flowdeck database, connect);
- warm: an initialised data directory whose server is stopped (start, connect);
- join: the server already runs, started by another handle (connect only).

Each run is a fresh Python process, as `flowdeck` would be, timed from before the
server is asked for until the first query answered.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
import time, sys
from pathlib import Path
from flowdeck.config import Settings
from flowdeck.db.connect import open_database
from flowdeck.db import admin
settings = Settings(data_dir=Path(sys.argv[1]))
started = time.perf_counter()
with open_database(settings) as url:
    with admin.connect(url) as conn:
        conn.execute("SELECT 1").fetchone()
    print(f"{(time.perf_counter() - started) * 1000:.1f}")
    if len(sys.argv) > 2:
        sys.stdout.flush()
        sys.stdin.readline()  # hold the server until told to go
"""


def _time_ms(data_dir: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold: list[float] = []
    warm: list[float] = []
    join: list[float] = []
    with tempfile.TemporaryDirectory(prefix="flowdeck-bench-") as tmp:
        for run in range(args.runs):
            data_dir = Path(tmp) / f"data{run}"
            cold.append(_time_ms(data_dir))
            warm.append(_time_ms(data_dir))
            holder = subprocess.Popen(
                [sys.executable, "-c", PROBE, str(data_dir), "hold"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert holder.stdout is not None and holder.stdin is not None
            holder.stdout.readline()  # the holder has its connection: the server runs
            join.append(_time_ms(data_dir))
            holder.stdin.write("\n")
            holder.stdin.close()
            holder.wait(timeout=60)
            holder.stdout.close()
    print(f"embedded PostgreSQL, time to first query, {args.runs} runs each (ms):")
    for name, values in (("cold", cold), ("warm", warm), ("join", join)):
        print(
            f"  {name:5} median {statistics.median(values):7.1f}   "
            f"min {min(values):7.1f}   max {max(values):7.1f}"
        )


if __name__ == "__main__":
    main()
