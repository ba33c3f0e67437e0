"""Latency of `GET /api/workflows` at 32 concurrent clients, with 10,000 workflows for one user.

    python -m bench.workflows_list [--workflows 10000] [--clients 32] [--requests 4000]

Starts `flowdeck serve` (one process, as a user would) on a scratch database: on the
server named by FLOWDECK_DATABASE_URL (a maintenance database URL; a database
`flowdeck_bench_<pid>` is created there and dropped after), or on an embedded
server in a temporary directory. One user gets the workflows; the clients then
page through them: half of the requests ask for the first page, half follow a
cursor somewhere deep in the list, across the three sort orders. Prints the
latency percentiles and the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from flowdeck.db import admin
from flowdeck.db.embedded import EmbeddedPostgres

READY = re.compile(r"Uvicorn running on (http://\S+)")
SORTS = ("updated_at", "name", "last_used")


@contextmanager
def scratch_server() -> Iterator[str]:
    """A server URL (maintenance database) for the benchmark's own database."""
    url = os.environ.get("FLOWDECK_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="flowdeck-bench-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp))
        try:
            yield embedded.start()
        finally:
            embedded.stop()


@contextmanager
def serve(db_url: str) -> Iterator[tuple[str, str]]:
    """`flowdeck serve --port 0` on `db_url`; yields (base URL, the admin's token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    env["FLOWDECK_DATABASE_URL"] = db_url
    process = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    token = ""
    try:
        for line in process.stdout:
            if "API token:" in line:
                token = line.split("API token:")[1].strip().strip("│").strip()
            match = READY.search(line)
            if match:
                break
        else:
            raise RuntimeError("flowdeck serve exited before it listened")
        # Keep reading its log (one access line per request), or the pipe fills and the
        # server blocks on writing it.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield match.group(1), token
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def seed(db_url: str, count: int) -> None:
    """`count` workflows for the first user, with spread timestamps, names and last use."""
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(
            """
            INSERT INTO user_workflows (user_id, name, category, definition, last_used, updated_at)
            SELECT (SELECT id FROM users ORDER BY created_at LIMIT 1),
                   'workflow ' || lpad(i::text, 6, '0'),
                   (ARRAY['monitoring', 'reporting', 'integrations', 'approvals'])[1 + i %% 4],
                   '{"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}',
                   CASE WHEN i %% 3 = 0 THEN NULL
                        ELSE now() - (i %% 500) * interval '1 minute' END,
                   now() - i * interval '1 second'
            FROM generate_series(1, %s) AS i
            """,
            (count,),
        )
        conn.execute("ANALYZE user_workflows")


async def collect_cursors(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, list[str]]:
    """Cursors spread over the whole list for each sort, by walking it once."""
    cursors: dict[str, list[str]] = {}
    for sort in SORTS:
        found: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"sort": sort, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            body = (await client.get("/api/workflows", params=params, headers=headers)).json()
            cursor = body["next_cursor"]
            if cursor is None:
                break
            found.append(cursor)
        cursors[sort] = found
    return cursors


Sample = tuple[str, float]  # (kind: "<sort> first|deep", milliseconds)


async def load(
    base_url: str, token: str, clients: int, requests: int
) -> tuple[list[Sample], float]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        cursors = await collect_cursors(client, headers)
        rng = random.Random(7)
        plan = []
        for i in range(requests):
            sort = SORTS[i % len(SORTS)]
            params: dict[str, str | int] = {"sort": sort, "limit": 50}
            if i % 2 and cursors[sort]:
                params["cursor"] = rng.choice(cursors[sort])
            plan.append(params)
        queue: asyncio.Queue[dict[str, str | int]] = asyncio.Queue()
        for params in plan:
            queue.put_nowait(params)
        latencies: list[Sample] = []

        async def worker() -> None:
            while not queue.empty():
                params = queue.get_nowait()
                started = time.perf_counter()
                response = await client.get("/api/workflows", params=params, headers=headers)
                kind = f"{params['sort']} {'deep' if 'cursor' in params else 'first'}"
                latencies.append((kind, (time.perf_counter() - started) * 1000))
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        for _ in range(50):  # warm up the pool and the caches
            await client.get("/api/workflows", params={"limit": 50}, headers=headers)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return latencies, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4_000)
    args = parser.parse_args()
    name = f"flowdeck_bench_{os.getpid()}"
    with scratch_server() as server_url:
        db_url = admin.create_database(server_url, name)
        try:
            with serve(db_url) as (base_url, token):
                seed(db_url, args.workflows)
                samples, elapsed = asyncio.run(load(base_url, token, args.clients, args.requests))
        finally:
            admin.drop_database(server_url, name)
    latencies = [ms for _, ms in samples]
    print(
        f"GET /api/workflows, {args.workflows} workflows for one user, {args.clients} concurrent "
        f"clients, {len(latencies)} requests (half first pages, half deep cursors; 3 sorts):"
    )
    p50, p90, p99 = (percentile(latencies, f) for f in (0.50, 0.90, 0.99))
    print(
        f"  p50 {p50:6.1f} ms   p90 {p90:6.1f} ms   p99 {p99:6.1f} ms   "
        f"max {max(latencies):6.1f} ms   mean {statistics.mean(latencies):6.1f} ms"
    )
    print(f"  throughput {len(latencies) / elapsed:7.0f} requests/s")
    for kind in sorted({kind for kind, _ in samples}):
        these = [ms for k, ms in samples if k == kind]
        print(
            f"    {kind:18} p50 {percentile(these, 0.5):6.1f} ms   "
            f"p99 {percentile(these, 0.99):6.1f} ms"
        )


if __name__ == "__main__":
    main()
