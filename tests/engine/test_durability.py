"""What the engine promises when things break: a killed worker, dropped connections,
two workers racing. Real worker processes, a real PostgreSQL, a real HTTP server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.db.queries import query
from flowdeck.engine.lifecycle import start as start_execution
from tests.api.conftest import Api
from tests.engine.conftest import Target, steps_of, wait_for_final
from tests.helpers import flowdeck_env


def _workflow(api: Api, definition: dict[str, Any]) -> tuple[UUID, UUID]:
    """(user id, workflow id) of a new workflow owned by a new user."""
    ada = api.person("ada")
    made = api.post("/api/workflows", ada, json={"name": "durable", "definition": definition})
    assert made.status_code == 201, made.json()
    return ada.id, UUID(made.json()["id"])


def _start_many(
    db_url: str, user_id: UUID, workflow_id: UUID, count: int, numbered: bool = False
) -> list[UUID]:
    async def go() -> list[UUID]:
        async with await AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            started = []
            for n in range(count):
                inputs = {"n": n} if numbered else {}
                execution_id, _ = await start_execution(
                    conn, user_id, workflow_id=workflow_id, inputs=inputs
                )
                started.append(execution_id)
            return started

    return asyncio.run(go())


class Workers:
    """`flowdeck worker` subprocesses on one database."""

    def __init__(self, db_url: str) -> None:
        self.env = flowdeck_env(database_url=db_url)
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, *extra: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowdeck", "worker", "--lease", "2", *extra],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:  # wait until it is running
            if "running" in line and "Worker" in line:
                break
        else:
            raise AssertionError("the worker did not start")
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=60)
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def workers(db_url: str) -> Iterator[Workers]:
    pool = Workers(db_url)
    yield pool
    pool.stop_all()


def test_a_killed_worker_loses_nothing_and_finished_steps_run_once(
    api: Api, target: Target, workers: Workers, db_url: str
) -> None:
    user_id, workflow_id = _workflow(
        api,
        {
            "steps": [
                {"id": "one", "type": "http", "with": {"url": f"{target.url}/ok/1"}},
                {"id": "two", "type": "http", "with": {"url": f"{target.url}/ok/2"}},
                {"id": "three", "type": "http", "with": {"url": f"{target.url}/block/three"}},
                {"id": "four", "type": "http", "with": {"url": f"{target.url}/ok/4"}},
            ],
            "outputs": {"last": "{{ steps.four.output.status }}"},
        },
    )
    first = workers.start()
    [execution] = _start_many(db_url, user_id, workflow_id, 1)
    assert target.wait_entered("three")
    first.send_signal(signal.SIGKILL)  # kill -9 while step 3 of 4 runs
    first.wait(timeout=30)
    target.release("three")
    workers.start()
    statuses = wait_for_final(db_url, [execution])
    assert statuses[execution] == "succeeded"
    assert target.hits["/ok/1"] == 1, "step 1 ran again after the crash"
    assert target.hits["/ok/2"] == 1, "step 2 ran again after the crash"
    assert target.hits["/block/three"] == 2  # in flight when the worker died: at least once
    assert target.hits["/ok/4"] == 1
    body = api.get(f"/api/executions/{execution}", api.person("ada")).json()
    assert body["attempt"] == 2
    assert [s["path"] for s in body["steps"]] == ["one", "two", "three", "four"]
    assert steps_of(body)["three"]["attempt"] == 2
    assert body["outputs"] == {"last": 200}


def test_two_workers_run_500_executions_each_exactly_once(
    api: Api, target: Target, workers: Workers, db_url: str
) -> None:
    user_id, workflow_id = _workflow(
        api,
        {
            "inputs": {"n": {"type": "integer"}},
            "steps": [
                {
                    "id": "hit",
                    "type": "http",
                    "with": {"url": f"{target.url}/count/{{{{ inputs.n }}}}"},
                }
            ],
        },
    )
    workers.start("--concurrency", "20")
    workers.start("--concurrency", "20")
    ids = _start_many(db_url, user_id, workflow_id, 500, numbered=True)
    statuses = wait_for_final(db_url, ids, timeout=120)
    assert set(statuses.values()) == {"succeeded"}
    assert len(target.hits) == 500
    assert set(target.hits.values()) == {1}, "an execution ran twice"
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT worker_id), max(attempt) FROM workflow_executions "
            "WHERE id = ANY(%s)",
            (ids,),
        ).fetchone()
    assert row is not None
    assert row[0] == 500 and row[2] == 1
    assert row[1] == 2, "both workers should have taken a share"


def test_sigterm_lets_the_running_step_finish(
    api: Api, target: Target, workers: Workers, db_url: str
) -> None:
    user_id, workflow_id = _workflow(
        api,
        {
            "steps": [
                {"id": "slow", "type": "http", "with": {"url": f"{target.url}/block/slow"}},
                {"id": "after", "type": "http", "with": {"url": f"{target.url}/ok/after"}},
            ]
        },
    )
    worker = workers.start("--grace", "30")
    [execution] = _start_many(db_url, user_id, workflow_id, 1)
    assert target.wait_entered("slow")
    worker.send_signal(signal.SIGTERM)
    target.release("slow")
    assert worker.wait(timeout=60) == 0
    statuses = wait_for_final(db_url, [execution])
    assert statuses[execution] == "succeeded"
    assert target.hits["/block/slow"] == 1


def test_a_worker_that_stalled_past_its_lease_keeps_renewing_the_attempt_it_claimed_again(
    api: Api, target: Target, workers: Workers, db_url: str
) -> None:
    # Each attempt blocks on its own gate, so the test decides when each one ends.
    user_id, workflow_id = _workflow(
        api,
        {
            "steps": [
                {
                    "id": "call",
                    "type": "http",
                    "with": {"url": f"{target.url}/block/a{{{{ execution.attempt }}}}"},
                }
            ]
        },
    )
    worker = workers.start("--no-supervisor")  # lease 2 s; SIGSTOP must reach the worker
    [execution] = _start_many(db_url, user_id, workflow_id, 1)
    assert target.wait_entered("a1")
    worker.send_signal(signal.SIGSTOP)  # stalled past its lease, as a paused VM would be
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE workflow_executions SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = %s",
            (execution,),
        )
        rescued = conn.execute(query("executions", "rescue"), {"crash_limit": 3}).fetchall()
        assert [row[1] for row in rescued] == ["queued"]
        conn.execute(query("executions", "notify_queued"))
    worker.send_signal(signal.SIGCONT)
    assert target.wait_entered("a2")  # the same worker claimed it again: attempt 2
    target.release("a1")  # attempt 1 comes back late, finds its lease lost, and ends
    # Attempt 2 stays in its step for three leases: the worker must keep renewing it
    # (it used to forget it when attempt 1 ended, and rescued it as attempt 3).
    time.sleep(6)
    target.release("a2")
    assert wait_for_final(db_url, [execution])[execution] == "succeeded"
    assert target.hits["/block/a3"] == 0, "attempt 2's lease was not renewed"
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT attempt FROM workflow_executions WHERE id = %s", (execution,)
        ).fetchone()
    assert row is not None and row[0] == 2
