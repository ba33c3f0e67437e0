"""Chaos: the engine's durability guarantees, checked from outside while workers are killed
and the database crash-restarts.

    python -m bench.chaos [--executions 3000] [--workers 4] [--kill-every 2] [--no-db-restart]
                          [--self-test] [--seed 1] [--timeout 1800] [--stall 60] [--settle 60]

Owns, for one run, everything it starts: a private PostgreSQL cluster (the machine's
server binaries, or the embedded wheel's; run as an unprivileged user when started as
root), `flowdeck serve --no-worker`, W `flowdeck worker` processes (short lease) and a
counting HTTP server on 127.0.0.1 (bench/chaos_target.py). It starts N executions of a
workflow with `set` and `http` steps (one slow, so that kills land mid-step) through
the API, each with an Idempotency-Key, sent again with the same key when the API
answers 5xx or drops the connection. Every --kill-every seconds one worker is
`kill -9`'d and replaced; once, when half the executions are accepted, the database is
crash-restarted (`pg_ctl restart -m immediate`). Then it compares what the client was
told, what the database holds and what the server saw (bench/chaos_report.py).

Prints progress and a summary; the last line has every figure. Asserts nothing; exits
0 when every guarantee held, 1 when one broke, 2 when it could not run. --self-test
plants re-runs of finished steps after the run (requests replayed with a finished
step's identity): the report must count them, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psycopg

from bench.chaos_cluster import Cluster, find_bindir
from bench.chaos_procs import Proc, Workers
from bench.chaos_report import Report, Submitted, analyse, print_summary
from bench.chaos_target import Target
from flowdeck.db import admin
from flowdeck.db.migrate import migrate

READY = re.compile(r"Uvicorn running on (http://\S+)")
TOKEN = re.compile(r"API token:\s*(\S+)")
HTTP_STEPS = {"notify", "work", "confirm"}
STEP_COUNT = 5
AUDIT = Path(__file__).with_name("chaos_audit.sql")
COUNTS = """
SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled', 'skipped')),
       count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'queued'),
       count(*)
FROM workflow_executions WHERE user_workflow_id = %s
"""


def workflow(target: str, slow_ms: int) -> dict[str, Any]:
    """set → http → slow http → set → http; the output carries `n` through every step."""

    def call(step_id: str, route: str, n: str, query: dict[str, int] | None = None) -> Any:
        return {
            "id": step_id,
            "type": "http",
            # The step sends Idempotency-Key: <execution id>:<step path>, which is how
            # the counting server tells which step a hit belongs to.
            "idempotent": True,
            "retry": {"attempts": 3, "backoff": "200ms"},
            "with": {
                "method": "POST",
                "url": f"{target}{route}",
                "json": {"n": n},
                "query": query or {},
                "timeout": "30s",
            },
        }

    return {
        "inputs": {"n": {"type": "integer"}},
        "steps": [
            {"id": "prepare", "type": "set", "with": {"n": "{{ inputs.n }}"}},
            call("notify", "/hit", "{{ steps.prepare.output.n }}"),
            call("work", "/slow", "{{ steps.notify.output.body.n }}", {"ms": slow_ms}),
            {"id": "check", "type": "set", "with": {"n": "{{ steps.work.output.body.n }}"}},
            call("confirm", "/hit", "{{ steps.check.output.n }}"),
        ],
        "outputs": {"n": "{{ steps.confirm.output.body.n }}"},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--executions", type=int, default=3000, help="executions to start (default 3000)")
    # 4, not 2: a replacement takes seconds to start (imports, connect), so with 2 and a
    # kill every 2 s the workers would spend most of their lives starting up.
    add("--workers", type=int, default=4, help="worker processes (default 4)")
    add("--concurrency", type=int, default=16, help="executions per worker at once")
    add("--lease", type=float, default=3.0, help="the workers' lease, seconds (default 3)")
    add("--kill-every", type=float, default=2.0, help="seconds between kills; 0: none")
    add("--no-db-restart", action="store_true", help="do not crash-restart the database")
    add("--slow-ms", type=int, default=300, help="how long the slow http step takes")
    add("--clients", type=int, default=8, help="concurrent API clients")
    add("--self-test", action="store_true", help="plant re-runs; the report must count them")
    add("--plant", type=int, default=3, help="re-runs the self-test plants (default 3)")
    add("--seed", type=int, default=1, help="seeds which worker is killed")
    add("--timeout", type=float, default=1800, help="bound on the whole run, seconds")
    add("--stall", type=float, default=60, help="stop when nothing ended for this long")
    add("--settle", type=float, default=60, help="wait after the chaos before 'stuck'")
    add("--submit-timeout", type=float, default=120, help="give up on one key after this")
    add("--progress", type=float, default=5, help="seconds between progress lines")
    add("--pg-bin", help="directory of initdb, pg_ctl and postgres (default: found)")
    return parser.parse_args(argv)


class Run:
    """One chaos run's moving parts and figures."""

    def __init__(self, args: argparse.Namespace, api: str, token: str, workflow_id: str) -> None:
        self.args = args
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}
        self.workflow_id = workflow_id
        self.submitted = Submitted()
        self.submitting = True
        self.half_accepted = asyncio.Event()
        self.restarts = 0
        self.restart_seconds = 0.0
        self.started = time.monotonic()
        self.ended = self.started

    async def submit_all(self) -> None:
        keys = iter(range(self.args.executions))
        limits = httpx.Limits(max_connections=self.args.clients)
        async with httpx.AsyncClient(base_url=self.api, timeout=30, limits=limits) as client:

            async def loop() -> None:
                for n in keys:
                    key = f"chaos-{self.args.seed}-{n}"
                    await self.submit(client, key, n)
                    if n % 20 == 0 and key in self.submitted.accepted:
                        await self.submit(client, key, n)  # the same request again, on purpose

            await asyncio.gather(*(loop() for _ in range(self.args.clients)))
        self.submitting = False
        self.half_accepted.set()

    async def submit(self, client: httpx.AsyncClient, key: str, n: int) -> None:
        """POST until answered 2xx or 4xx; again with the same key after a 5xx or a drop."""
        deadline = time.monotonic() + self.args.submit_timeout
        delay = 0.1
        path = f"/api/workflows/{self.workflow_id}/executions"
        while True:
            try:
                answer = await client.post(
                    path,
                    headers={**self.headers, "Idempotency-Key": key},
                    json={"inputs": {"n": n}},
                )
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}"
            else:
                if answer.status_code in (200, 201):
                    self.submitted.accepted.setdefault(key, set()).add(answer.json()["id"])
                    self.submitted.unanswered.pop(key, None)
                    if len(self.submitted.accepted) >= self.args.executions // 2:
                        self.half_accepted.set()
                    return
                if answer.status_code < 500:
                    self.submitted.refused[key] = f"{answer.status_code}: {answer.text[:200]}"
                    return
                error = f"HTTP {answer.status_code}"
            self.submitted.errors[error] += 1
            self.submitted.unanswered[key] = error
            if time.monotonic() > deadline:
                return
            self.submitted.resent += 1
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def counts(self, db_url: str) -> tuple[int, int, int, int] | None:
        """(ended, running, queued, all) for the workflow; None while the database is down."""
        try:
            async with await psycopg.AsyncConnection.connect(
                db_url, autocommit=True, connect_timeout=3
            ) as conn:
                cur = await conn.execute(COUNTS, (self.workflow_id,))
                row = await cur.fetchone()
        except psycopg.Error:
            return None
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3])) if row else None

    async def restart_db(self, cluster: Cluster) -> None:
        """Crash-restart the database once, when half the executions are accepted."""
        await self.half_accepted.wait()
        began = time.monotonic()
        await asyncio.to_thread(cluster.crash_restart)
        self.restart_seconds = time.monotonic() - began
        self.restarts += 1
        print(f"  database crash-restarted ({self.restart_seconds:.1f} s)", flush=True)

    async def chaos(self, workers: Workers, stop: asyncio.Event) -> None:
        """Kill one worker every --kill-every seconds; replace any that died on its own."""
        rng = random.Random(self.args.seed)
        every = self.args.kill_every
        next_kill = time.monotonic() + every
        while not stop.is_set():
            workers.reap()
            if every > 0 and time.monotonic() >= next_kill and workers.kill_one(rng):
                next_kill += every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    def progress(self, counts: tuple[int, int, int, int] | None, workers: Workers) -> None:
        at = time.monotonic() - self.started
        if counts is None:
            state = "database unreachable"
        else:
            ended, running, queued, _ = counts
            state = f"ended {ended}, running {running}, queued {queued}"
        print(
            f"  [{at:6.1f} s] accepted {len(self.submitted.accepted)}/{self.args.executions}, "
            f"{state}, kills {workers.kills}, db restarts {self.restarts}",
            flush=True,
        )

    async def wait_all_ended(self, db_url: str, workers: Workers, bound: float) -> None:
        """Until every accepted execution ended, nothing ended for --stall s, or `bound` s."""
        deadline = time.monotonic() + bound
        ended_before, progressed = -1, time.monotonic()
        printed = time.monotonic()
        while time.monotonic() < deadline:
            counts = await self.counts(db_url)
            if time.monotonic() - printed >= self.args.progress:
                self.progress(counts, workers)
                printed = time.monotonic()
            if counts is not None:
                ended, _, _, total = counts
                if ended != ended_before:
                    ended_before, progressed = ended, time.monotonic()
                    self.ended = progressed
                if not self.submitting and ended == total >= len(self.submitted.accepted):
                    return
            if time.monotonic() - progressed > self.args.stall and not self.submitting:
                print(f"  nothing ended for {self.args.stall:g} s; stopping the chaos")
                return
            await asyncio.sleep(0.25)

    async def go(self, db_url: str, cluster: Cluster, workers: Workers) -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(self.submit_all()),
            asyncio.create_task(self.chaos(workers, stop)),
        ]
        if not self.args.no_db_restart:
            tasks.append(asyncio.create_task(self.restart_db(cluster)))
        try:
            await self.wait_all_ended(db_url, workers, self.args.timeout)
            stop.set()
            await asyncio.gather(*tasks)
            # Calm now: W live workers, and a bounded wait for what is left.
            workers.reap()
            await self.wait_all_ended(db_url, workers, self.args.settle)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def plant_reruns(db_url: str, target: Target, count: int) -> int:
    """Self-test: replay `count` finished http steps' requests (their Idempotency-Key)
    to the counting server, as a step run again after it finished would."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT execution_id::text, path FROM chaos_step_finishes "
            "WHERE path = ANY(%s) ORDER BY 1, 2 LIMIT %s",
            (sorted(HTTP_STEPS), count),
        ).fetchall()
    time.sleep(0.01)  # strictly after every finish, whatever the clock's resolution
    for execution_id, path in rows:
        httpx.post(
            f"{target.url}/hit", headers={"Idempotency-Key": f"{execution_id}:{path}"}, json={}
        )
    return len(rows)


def setup(stack: ExitStack, args: argparse.Namespace, bindir: Path) -> dict[str, Any]:
    """Cluster, database (migrated, audited), target, serve, workers, workflow."""
    cluster = Cluster(bindir)
    stack.callback(cluster.stop)
    server_url = cluster.start()
    db_url = admin.create_database(server_url, "flowdeck_chaos")
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(AUDIT.read_text())
    target = Target()
    target.start()
    stack.callback(target.stop)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWDECK_")}
    env.update(
        FLOWDECK_DATABASE_URL=db_url,
        FLOWDECK_DATA_DIR=str(cluster.root / "flowdeck"),
        # The crash counter would end an execution whose worker died N times in one
        # step `failed`: right for a poison step, not what chaos measures.
        FLOWDECK_STEP_CRASH_LIMIT="1000",
    )
    serve = Proc(["serve", "--no-worker", "--host", "127.0.0.1", "--port", "0"], env, READY)
    stack.callback(serve.stop)
    api = serve.wait_ready(120).group(1)
    token = next(m.group(1) for line in serve.lines if (m := TOKEN.search(line)))
    workers = Workers(env, args.workers, args.concurrency, args.lease)
    stack.callback(workers.stop_all)
    workers.start()
    made = httpx.post(
        f"{api}/api/workflows",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "chaos", "definition": workflow(target.url, args.slow_ms)},
        timeout=30,
    )
    if made.status_code != 201:
        raise RuntimeError(f"creating the workflow: {made.status_code} {made.text}")
    return {
        "cluster": cluster, "db_url": db_url, "target": target, "api": api, "token": token,
        "workers": workers, "workflow_id": made.json()["id"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bindir = find_bindir(args.pg_bin)
    if bindir is None:
        print("chaos: no PostgreSQL server binaries (initdb, pg_ctl, postgres) found — NOT RUN")
        return 2

    def interrupted(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal API)
        raise KeyboardInterrupt  # through every finally: nothing is left running

    signal.signal(signal.SIGTERM, interrupted)
    print(
        f"chaos: {args.executions} executions, {args.workers} workers x {args.concurrency}, "
        f"lease {args.lease:g} s, a kill every {args.kill_every:g} s, "
        f"{'no' if args.no_db_restart else 'one'} db crash-restart; PostgreSQL from {bindir}",
        flush=True,
    )
    try:
        report = chaos(args, bindir)
    except KeyboardInterrupt:
        print("chaos: interrupted; everything it started is stopped — NOT FINISHED")
        return 130
    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError) as exc:
        print(f"chaos: could not run: {exc}\nchaos: NOT RUN")
        return 2
    print(report.last_line(), flush=True)
    return 1 if report.problems() else 0


def chaos(args: argparse.Namespace, bindir: Path) -> Report:
    """Set up, run, analyse; everything started is stopped when this returns or raises."""
    with ExitStack() as stack:
        parts = setup(stack, args, bindir)
        run = Run(args, parts["api"], parts["token"], parts["workflow_id"])
        asyncio.run(run.go(parts["db_url"], parts["cluster"], parts["workers"]))
        planted = 0
        if args.self_test:
            planted = plant_reruns(parts["db_url"], parts["target"], args.plant)
        hits = parts["target"].snapshot()
        report = analyse(
            parts["db_url"], parts["workflow_id"], run.submitted, hits, HTTP_STEPS, STEP_COUNT
        )
        report.kills, report.restarts = parts["workers"].kills, run.restarts
        report.rate = len(run.submitted.accepted) / max(run.ended - run.started, 1e-9)
        print_summary(report, run.submitted, len(hits), parts["workers"], run.restarts)
        if args.self_test:
            print(f"self-test: planted {planted} re-runs of finished steps after the run")
    return report


if __name__ == "__main__":
    sys.exit(main())
