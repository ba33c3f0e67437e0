"""How fast the `flowdeck` command answers (issue 20): the median wall time and peak
memory of `python -c pass` (the baseline), `flowdeck --help` and `flowdeck executions
list --json` against a running server, each run RUNS times in a fresh process.

    FLOWDECK_DATABASE_URL=postgresql://... python bench/cli.py

Without FLOWDECK_DATABASE_URL the server uses the embedded database (in a temporary
data dir). The bench starts `flowdeck serve --port 0 --no-worker` (listing executions
needs no worker, and an idle worker would only add noise), makes a user and a token
with `flowdeck users create` and `flowdeck tokens create`, and points the client at the
server with FLOWDECK_URL / FLOWDECK_TOKEN (and FLOWDECK_CONFIG at a file that does not
exist, so that no saved login is read). Exits 1 when a figure misses its target.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RUNS = 5
HELP_RATIO = 5.0  # `flowdeck --help` within 5x the baseline's wall time
CLIENT_RATIO = 15.0  # a client command against a server within 15x
MEMORY_MB = 60.0  # every command's peak RSS
READY = re.compile(r"Uvicorn running on (http://\S+)")


@dataclass(frozen=True)
class Figure:
    """Medians of RUNS runs of one command."""

    name: str
    seconds: float
    peak_mb: float


def flowdeck_command() -> list[str]:
    """The console script beside this interpreter (what a person runs), else -m."""
    script = Path(sys.executable).parent / "flowdeck"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowdeck"]


def run_once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of `argv`, which must exit 0."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN's ru_maxrss is the
    # largest of all children so far, the server included, so deltas of it mean nothing).
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {error.strip()}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def measure(name: str, argv: Sequence[str], env: dict[str, str]) -> Figure:
    run_once(argv, env)  # warm the file cache and the bytecode, not counted
    runs = [run_once(argv, env) for _ in range(RUNS)]
    return Figure(
        name,
        statistics.median(seconds for seconds, _ in runs),
        statistics.median(peak for _, peak in runs),
    )


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    """`flowdeck serve --port 0 --no-worker` until the block ends; yields its URL."""
    process = subprocess.Popen(
        [*flowdeck_command(), "serve", "--port", "0", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = READY.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()  # the server ended: stop waiting

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(120) or not found:
            raise SystemExit("flowdeck serve did not start:\n" + "".join(output[-20:]))
        yield found[0]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_token(env: dict[str, str]) -> str:
    """A new user and an API token of theirs, made on the database directly."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    flowdeck = flowdeck_command()
    subprocess.run([*flowdeck, "users", "create", "--email", email], env=env, check=True)
    made = subprocess.run(
        [*flowdeck, "tokens", "create", "--email", email, "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip()


def report(baseline: Figure, figures: list[tuple[Figure, float]]) -> bool:
    """Print each figure, its ratio to the baseline and its targets; True if all met."""
    print(f"{'command':<36} {'median s':>9} {'peak MB':>8} {'ratio':>7}  targets")
    print(f"{baseline.name:<36} {baseline.seconds:>9.3f} {baseline.peak_mb:>8.1f} {1:>6.1f}x")
    met = True
    for figure, ratio_target in figures:
        ratio = figure.seconds / baseline.seconds
        ok = ratio <= ratio_target and figure.peak_mb < MEMORY_MB
        met = met and ok
        print(
            f"{figure.name:<36} {figure.seconds:>9.3f} {figure.peak_mb:>8.1f} {ratio:>6.1f}x"
            f"  <= {ratio_target:g}x, < {MEMORY_MB:g} MB: {'met' if ok else 'MISSED'}"
        )
    return met


def main() -> int:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    flowdeck = flowdeck_command()
    with tempfile.TemporaryDirectory(prefix="flowdeck-bench-") as scratch:
        server_env = {**base_env, "FLOWDECK_DATA_DIR": str(Path(scratch) / "data")}
        if os.environ.get("FLOWDECK_DATABASE_URL"):
            server_env["FLOWDECK_DATABASE_URL"] = os.environ["FLOWDECK_DATABASE_URL"]
        client_env = {**base_env, "FLOWDECK_CONFIG": str(Path(scratch) / "no-config.toml")}
        print(f"{RUNS} runs each (median); python {sys.version.split()[0]}", flush=True)
        baseline = measure("python -c pass", [sys.executable, "-c", "pass"], base_env)
        help_ = measure("flowdeck --help", [*flowdeck, "--help"], client_env)
        with server(server_env) as url:
            client_env |= {"FLOWDECK_URL": url, "FLOWDECK_TOKEN": create_token(server_env)}
            listing = measure(
                "flowdeck executions list --json",
                [*flowdeck, "executions", "list", "--json"],
                client_env,
            )
    met = report(baseline, [(help_, HELP_RATIO), (listing, CLIENT_RATIO)])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
