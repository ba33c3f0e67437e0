"""What a supervisor writes when its worker stalled: with the step it was evaluating, that
step and its execution fail and the worker's other executions go back to the queue; with
none, every execution the worker held counts a crash."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.engine.lifecycle import start as start_execution
from flowdeck.engine.supervisor import SupervisorSettings, WorkerSupervisor
from flowdeck.engine.watchdog import Mark
from tests.api.conftest import Api
from tests.api.conftest import api as api

WORKER = "host:1:stalled"


def _held_by_worker(api: Api, count: int) -> list[UUID]:
    """`count` executions, claimed by WORKER as a worker's claim would."""
    ada = api.person("ada")
    definition = {"steps": [{"id": "s", "type": "set", "with": {"v": 1}}]}
    made = api.post("/api/workflows", ada, json={"name": "w", "definition": definition})
    assert made.status_code == 201

    async def start() -> list[UUID]:
        async with await AsyncConnection.connect(
            api.db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            return [
                (await start_execution(conn, ada.id, workflow_id=UUID(made.json()["id"])))[0]
                for _ in range(count)
            ]

    ids = asyncio.run(start())
    api.sql(
        "UPDATE workflow_executions SET status = 'running', worker_id = %s, attempt = 1, "
        "lease_expires_at = now() + interval '30 seconds' WHERE id = ANY(%s)",
        WORKER,
        ids,
    )
    return ids


def _rows(api: Api, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = api.sql(
        "SELECT id, status, crash_count, error FROM workflow_executions WHERE id = ANY(%s)", ids
    )
    return {row["id"]: row for row in rows}


def _supervisor(db_url: str) -> WorkerSupervisor:
    return WorkerSupervisor([], {}, SupervisorSettings(database_url=db_url, block_seconds=10))


def test_a_stall_in_a_step_fails_it_and_releases_the_others(api: Api, db_url: str) -> None:
    stalled, other = _held_by_worker(api, 2)
    mark = Mark(str(stalled), "s", "s", "set", "steps[0].with.v")
    _supervisor(db_url)._record_stall(WORKER, mark)
    rows = _rows(api, [stalled, other])
    assert rows[stalled]["status"] == "failed"
    assert rows[stalled]["error"] == {
        "message": "steps[0].with.v: the step held its worker for more than 10 s "
        "(FLOWDECK_WORKER_BLOCK_SECONDS); the worker was restarted",
        "path": "steps[0].with.v",
        "step": "s",
    }
    [step] = api.sql(
        "SELECT path, step_type, status FROM workflow_execution_steps WHERE execution_id = %s",
        stalled,
    )
    assert step == {"path": "s", "step_type": "set", "status": "failed"}
    assert (rows[other]["status"], rows[other]["crash_count"]) == ("queued", 0)


def test_a_stall_outside_any_step_counts_a_crash_for_each_execution(api: Api, db_url: str) -> None:
    ids = _held_by_worker(api, 2)
    _supervisor(db_url)._record_stall(WORKER, None)
    rows = _rows(api, ids)
    assert {(row["status"], row["crash_count"]) for row in rows.values()} == {("queued", 1)}
    with psycopg.connect(db_url) as conn:
        held = conn.execute(
            "SELECT count(*) FROM workflow_executions WHERE worker_id = %s", (WORKER,)
        ).fetchone()
    assert held == (0,)
