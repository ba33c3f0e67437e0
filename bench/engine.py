"""Engine throughput and latency, with N worker processes, beside the database's own limit.

    python -m bench.engine [--workers 2] [--concurrency 16] [--executions 2000] [--runs 200]

(a) throughput: 2,000 executions of a 3-step `set` workflow are queued at once, then
    the workers drain them: executions/s and steps/s;
(b) latency: POST /api/workflows/{id}/executions?wait=10 of a 1-step workflow, 200 times
    one after the other, against `flowdeck serve --no-worker` and the same workers:
    p50 and p99 from the client's side;
(c) the same database's single-row INSERT+COMMIT rate, from one connection and from as
    many as the workers use, measured in the same run, and the ratio of (a) to it;
(d) per-step overhead: (b) for a 20-step `set` workflow against the 1-step one, p50s,
    divided by the 19 steps more.

Uses the server named by FLOWDECK_DATABASE_URL (a maintenance database; a database
flowdeck_bench_<pid> is created and dropped), or an embedded server in a temp dir.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import psycopg

from bench.workflows_list import percentile, scratch_server
from flowdeck.db import admin
from flowdeck.db.migrate import migrate

THREE_SETS = (
    '{"steps": [{"id": "a", "type": "set", "with": {"x": 1}},'
    ' {"id": "b", "type": "set", "with": {"y": "{{ steps.a.output.x + 1 }}"}},'
    ' {"id": "c", "type": "set", "with": {"z": "{{ steps.b.output.y * 2 }}"}}],'
    ' "outputs": {"z": "{{ steps.c.output.z }}"}}'
)
ONE_SET = '{"steps": [{"id": "a", "type": "set", "with": {"x": 1}}]}'
TWENTY_SETS = json.dumps(
    {
        "steps": [{"id": "s0", "type": "set", "with": {"n": 1}}]
        + [
            {"id": f"s{i}", "type": "set", "with": {"n": f"{{{{ steps.s{i - 1}.output.n + 1 }}}}"}}
            for i in range(1, 20)
        ]
    }
)
READY = re.compile(r"Uvicorn running on (http://\S+)")


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    env["FLOWDECK_DATABASE_URL"] = db_url
    return env


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A flowdeck subprocess, once it printed a line matching `ready`; its log is drained."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    found = ""
    for line in proc.stdout:
        match = re.search(ready, line)
        if match:
            found = match.group(1) if match.groups() else line
            break
    else:
        raise RuntimeError(f"flowdeck {' '.join(args)} exited before it was ready")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        yield proc, found
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stdout.close()


def setup(db_url: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        user = conn.execute(
            "INSERT INTO users (email, is_admin) VALUES ('bench@example.com', true) RETURNING id"
        ).fetchone()
        assert user is not None
        ids = {}
        for name, definition in (("three", THREE_SETS), ("one", ONE_SET), ("twenty", TWENTY_SETS)):
            row = conn.execute(
                "INSERT INTO user_workflows (user_id, name, definition) "
                "VALUES (%s, %s, %s) RETURNING id",
                (user[0], name, definition),
            ).fetchone()
            assert row is not None
            ids[name] = row[0]
    return {"user_id": user[0], **ids}


def throughput(db_url: str, ids: dict[str, Any], count: int) -> float:
    """Seconds for the workers to finish `count` executions queued at once."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN flowdeck_finished")
        with conn.transaction():
            conn.execute(
                "INSERT INTO workflow_executions "
                "(user_id, user_workflow_id, status, trigger, definition, input) "
                "SELECT %s, %s, 'queued', 'api', %s::jsonb, '{}' FROM generate_series(1, %s)",
                (ids["user_id"], ids["three"], THREE_SETS, count),
            )
            conn.execute("SELECT pg_notify('flowdeck_queued', '')")
        started = time.perf_counter()
        done = 0
        while done < count:
            for _ in conn.notifies(timeout=5, stop_after=count - done):
                done += 1
            finished = conn.execute(
                "SELECT count(*) FROM workflow_executions "
                "WHERE user_workflow_id = %s AND status = 'succeeded'",
                (ids["three"],),
            ).fetchone()
            done = int(finished[0]) if finished else done
        elapsed = time.perf_counter() - started
        failed = conn.execute(
            "SELECT count(*) FROM workflow_executions "
            "WHERE status <> 'succeeded' AND user_workflow_id = %s",
            (ids["three"],),
        ).fetchone()
        assert failed == (0,), f"{failed} executions did not succeed"
    return elapsed


def latency(base_url: str, token: str, workflow_id: Any, runs: int) -> list[float]:
    times: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for i in range(runs + 10):
            started = time.perf_counter()
            response = client.post(f"/api/workflows/{workflow_id}/executions", params={"wait": 10})
            elapsed = (time.perf_counter() - started) * 1000
            if response.json().get("status") != "succeeded":
                raise RuntimeError(response.text)
            if i >= 10:  # the first few warm the pools
                times.append(elapsed)
    return times


def commit_rate(db_url: str, connections: int, seconds: float = 3.0) -> float:
    """Single-row INSERT+COMMITs per second, from `connections` connections at once."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_commits "
            "(id bigserial PRIMARY KEY, at timestamptz DEFAULT now())"
        )
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while time.perf_counter() < stop:
                conn.execute("INSERT INTO bench_commits DEFAULT VALUES")
                counts[slot] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def token_for(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck", "tokens", "create", "--email", "bench@example.com"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    name = f"flowdeck_bench_{os.getpid()}"
    with scratch_server() as server_url:
        db_url = admin.create_database(server_url, name)
        try:
            migrate(db_url)
            ids = setup(db_url)
            env = _env(db_url)
            token = token_for(env)
            with ExitStack() as stack:
                for _ in range(args.workers):
                    stack.enter_context(
                        process(
                            ["worker", "--concurrency", str(args.concurrency)],
                            env,
                            r"Worker .* running",
                        )
                    )
                elapsed = throughput(db_url, ids, args.executions)
                _, base_url = stack.enter_context(
                    process(["serve", "--no-worker", "--port", "0"], env, READY.pattern)
                )
                times = latency(base_url, token, ids["one"], args.runs)
                twenty = latency(base_url, token, ids["twenty"], args.runs // 2)
            one = commit_rate(db_url, 1)
            many = commit_rate(db_url, args.workers * args.concurrency)
        finally:
            admin.drop_database(server_url, name)
    rate = args.executions / elapsed
    print(f"engine, {args.workers} worker process(es) x concurrency {args.concurrency}:")
    print(
        f"  (a) {args.executions} executions of a 3-step set workflow in {elapsed:.2f} s: "
        f"{rate:.0f} executions/s, {rate * 3:.0f} steps/s"
    )
    print(
        f"  (b) POST -> finished, 1-step workflow, {len(times)} sequential runs: "
        f"p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms"
    )
    print(
        f"  (c) single-row INSERT+COMMIT: {one:.0f}/s from 1 connection, "
        f"{many:.0f}/s from {args.workers * args.concurrency} connections"
    )
    connections = args.workers * args.concurrency
    print(f"      (a) / (c, {connections} connections) = {rate / many:.3f} executions per commit")
    per_step = (percentile(twenty, 0.5) - percentile(times, 0.5)) / 19
    print(
        f"  (d) POST -> finished, 20-step workflow, {len(twenty)} sequential runs: "
        f"p50 {percentile(twenty, 0.5):.1f} ms; per-step overhead {per_step:.2f} ms"
    )


if __name__ == "__main__":
    main()
