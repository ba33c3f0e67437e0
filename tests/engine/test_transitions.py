"""states.TRANSITIONS holds in the database: for every pair (source status, target status),
an execution is put in the source status with SQL and each way the lifecycle has to the
target is run; an allowed edge ends in the target, a forbidden one changes nothing (the
row is the same, column for column).

A way is one lifecycle function (or cancel and then the worker's stop at a step
boundary); which edges it makes is lifecycle.MOVES, which lifecycle checks against
TRANSITIONS when imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from flowdeck.db.types import Conn
from flowdeck.engine import lifecycle
from flowdeck.engine.lifecycle import MOVES, LifecycleError
from flowdeck.engine.states import RETRYABLE, TRANSITIONS, ExecutionStatus
from flowdeck.users.service import create_user

S = ExecutionStatus
WORKER = "host:1:transitions"
DEFINITION = {
    "inputs": {"n": {"type": "integer", "default": 0}},
    "steps": [{"id": "s", "type": "set", "with": {"v": 1}}],
}


@dataclass(frozen=True)
class Ids:
    user: UUID
    execution: UUID
    child: UUID


@dataclass(frozen=True)
class Way:
    """Functions run one after the other, towards one target status."""

    functions: tuple[str, ...]
    run: Callable[[Conn, Ids], Awaitable[object]]
    cancel_requested: bool = False  # asked for before: the way under test is what follows

    def edges(self, target: ExecutionStatus) -> set[tuple[ExecutionStatus, ExecutionStatus]]:
        return {edge for name in self.functions for edge in MOVES[name] if edge[1] == target}


def _finish(status: ExecutionStatus) -> Way:
    return Way(
        ("finish",),
        lambda conn, ids: lifecycle.finish(conn, ids.execution, WORKER, 1, status, {}, None),
    )


def _crash(limit: int, *, cancel_requested: bool = False) -> list[Way]:
    return [
        Way(
            ("crash",),
            lambda conn, ids: lifecycle.crash(conn, WORKER, "test", limit, ids.execution, 1),
            cancel_requested,
        ),
        Way(("rescue",), lambda conn, _: lifecycle.rescue(conn, limit), cancel_requested),
    ]


async def _cancel_then_stop(conn: Conn, ids: Ids) -> None:
    await lifecycle.cancel(conn, ids.user, ids.execution)
    await lifecycle.stop_cancelled(conn, ids.execution)


def _suspend(cancel_requested: bool) -> Way:
    return Way(
        ("suspend",),
        lambda conn, ids: lifecycle.suspend(conn, ids.execution, WORKER, 1, None),
        cancel_requested,
    )


def _release(cancel_requested: bool) -> Way:
    return Way(
        ("release",), lambda conn, _: lifecycle.release(conn, WORKER, None), cancel_requested
    )


STALLED_STEP = {"path": "s", "step_id": "s", "step_type": "set"}

WAYS: dict[ExecutionStatus, list[Way]] = {
    S.QUEUED: [
        Way(("wake_due",), lambda conn, _: lifecycle.wake_due(conn)),
        Way(("wake_ready",), lambda conn, ids: lifecycle.wake_ready(conn, ids.execution)),
        Way(("wake_ready",), lambda conn, _: lifecycle.wake_ready(conn)),
        Way(("wake_parent",), lambda conn, ids: lifecycle.wake_parent(conn, ids.child)),
        _release(False),
        *_crash(100),
    ],
    S.RUNNING: [
        Way(("claim",), lambda conn, _: lifecycle.claim(conn, WORKER, timedelta(seconds=30), 10))
    ],
    S.WAITING: [_suspend(False)],
    S.SUCCEEDED: [_finish(S.SUCCEEDED)],
    S.SKIPPED: [_finish(S.SKIPPED)],
    S.FAILED: [
        _finish(S.FAILED),
        *_crash(1),
        Way(
            ("fail_stalled",),
            lambda conn, ids: lifecycle.fail_stalled(
                conn, ids.execution, WORKER, STALLED_STEP, {"message": "stalled"}
            ),
        ),
    ],
    S.CANCELLED: [
        Way(("cancel", "stop_cancelled"), _cancel_then_stop),
        _suspend(True),
        _release(True),
        *_crash(100, cancel_requested=True),
    ],
}


async def _setup(conn: Conn) -> Ids:
    user = await create_user(conn, "transitions@example.com")
    cur = await conn.execute(
        "INSERT INTO user_workflows (user_id, name, definition) VALUES (%s, 'w', %s) RETURNING id",
        (user.id, Jsonb(DEFINITION)),
    )
    workflow: UUID = (await _one(cur))["id"]
    cur = await conn.execute(
        "INSERT INTO workflow_executions (user_id, user_workflow_id, status, trigger, "
        "definition, input) VALUES (%s, %s, 'queued', 'api', %s, %s) RETURNING id",
        (user.id, workflow, Jsonb(DEFINITION), Jsonb({"n": 2})),
    )
    execution: UUID = (await _one(cur))["id"]
    # What wakes it when it waits: a signal it waits for, and a child of it that ended.
    await conn.execute(
        "INSERT INTO workflow_execution_steps (execution_id, path, step_id, step_type, status, "
        "attempt, output) VALUES (%s, 'w', 'w', 'wait', 'waiting', 1, %s)",
        (execution, Jsonb({"signal": "go"})),
    )
    await conn.execute(
        "INSERT INTO execution_signals (execution_id, name, payload) VALUES (%s, 'go', 'null')",
        (execution,),
    )
    cur = await conn.execute(
        "INSERT INTO workflow_executions (user_id, template_id, status, trigger, definition, "
        "parent_execution_id) VALUES (%s, 'transitions', 'succeeded', 'workflow', %s, %s) "
        "RETURNING id",
        (user.id, Jsonb(DEFINITION), execution),
    )
    return Ids(user.id, execution, (await _one(cur))["id"])


async def _one(cur: Any) -> DictRow:
    row: DictRow | None = await cur.fetchone()
    assert row is not None
    return row


async def _put(conn: Conn, ids: Ids, status: ExecutionStatus, cancel_requested: bool) -> None:
    """The execution in `status` as the code that moved it there leaves it: a running one
    held by WORKER (attempt 1, its lease expired, so that the rescuer takes it), a timer
    due, a final one finished."""
    await conn.execute(
        "UPDATE workflow_executions SET status = %(status)s, cancel_requested = %(cancel)s, "
        "worker_id = CASE WHEN %(running)s THEN %(worker)s END, attempt = 1, "
        "lease_expires_at = CASE WHEN %(running)s THEN now() - interval '1 minute' END, "
        "scheduled_at = now() - interval '1 minute', crash_count = 0, crash_progress = NULL, "
        "finished_at = CASE WHEN %(final)s THEN now() END, error = NULL, output = NULL "
        "WHERE id = %(id)s",
        {
            "status": str(status),
            "cancel": cancel_requested,
            "running": status == S.RUNNING,
            "final": status.final,
            "worker": WORKER,
            "id": ids.execution,
        },
    )


async def _row(conn: Conn, ids: Ids) -> DictRow:
    cur = await conn.execute("SELECT * FROM workflow_executions WHERE id = %s", (ids.execution,))
    return await _one(cur)


async def _connect(db_url: str) -> Conn:
    return await AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row)


PAIRS = [(source, target) for source in S for target in S]


def test_every_allowed_edge_is_made_and_every_way_is_tested() -> None:
    allowed = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    made = {edge for target, ways in WAYS.items() for way in ways for edge in way.edges(target)}
    assert made == allowed
    assert {name for ways in WAYS.values() for way in ways for name in way.functions} == set(MOVES)


@pytest.mark.parametrize("source", list(S))
def test_each_pair_moves_only_where_transitions_allows(db_url: str, source: S) -> None:
    async def check() -> list[str]:
        wrong = []
        async with await _connect(db_url) as conn:
            ids = await _setup(conn)
            for target, ways in WAYS.items():
                for way in ways:
                    await _put(conn, ids, source, way.cancel_requested)
                    before = await _row(conn, ids)
                    async with conn.transaction():
                        await way.run(conn, ids)
                    after = await _row(conn, ids)
                    name = "+".join(way.functions)
                    if (source, target) in way.edges(target):
                        if after["status"] != target:
                            wrong.append(f"{name}: {source} -> {after['status']}, not {target}")
                    elif after != before:
                        changed = sorted(key for key in before if before[key] != after[key])
                        wrong.append(f"{name} ({source}, towards {target}) changed {changed}")
        return wrong

    assert asyncio.run(check()) == []


async def _start_again(
    conn: Conn, ids: Ids, way: str, source: ExecutionStatus, user: UUID
) -> dict[str, Any]:
    if way == "retry":
        return await lifecycle.retry(conn, user, ids.execution)
    return await lifecycle.rerun(conn, user, ids.execution, {"n": 1} if source.final else None)


@pytest.mark.parametrize("way", ["retry", "rerun"])
def test_retry_and_rerun_start_a_new_execution_and_leave_the_old_one(db_url: str, way: str) -> None:
    """retry: only a failed or cancelled execution, with its inputs (`retry_of`); rerun:
    any, from the start, with new inputs or the old ones."""

    async def check() -> None:
        async with await _connect(db_url) as conn:
            ids = await _setup(conn)
            for source in S:
                await _put(conn, ids, source, False)
                before = await _row(conn, ids)
                if way == "rerun" or source in RETRYABLE:
                    new = await _start_again(conn, ids, way, source, ids.user)
                    assert new["status"] == "queued"
                    if way == "retry":
                        assert (new["retry_of"], new["inputs"]) == (ids.execution, {"n": 2})
                    else:
                        inputs = {"n": 1} if source.final else {"n": 2}
                        assert (new["retry_of"], new["inputs"]) == (None, inputs)
                else:
                    with pytest.raises(LifecycleError) as refused:
                        await _start_again(conn, ids, way, source, ids.user)
                    assert refused.value.code == "not_retryable"
                assert await _row(conn, ids) == before
            with pytest.raises(LifecycleError) as missing:  # not this user's
                await _start_again(conn, ids, way, S.FAILED, uuid4())
            assert missing.value.code == "not_found"

    asyncio.run(check())
