"""The transitions of an execution a worker holds: claim, finish, stop at a cancel,
suspend, and giving it back (release, crash, a stalled step).

Each is one guarded statement in the caller's transaction: guarded by the status it
expects and, for a running execution, by the worker and attempt that hold it, so a worker
that comes back late after a rescue or a cancel changes nothing (None, or no rows).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.engine.lifecycle.waking import ended, wake_parent
from flowdeck.engine.states import ExecutionStatus

Q = "executions"
Row = dict[str, Any]


async def claim(conn: Conn, worker_id: str, lease: timedelta, limit: int) -> list[Row]:
    """queued -> running: up to `limit` due executions, most urgent first (SKIP LOCKED),
    leased to `worker_id`; their rows, as the runner needs them."""
    cur = await conn.execute(
        query(Q, "claim"), {"limit": limit, "worker_id": worker_id, "lease": lease}
    )
    return await cur.fetchall()


async def renew(conn: Conn, worker_id: str, ids: list[UUID], lease: timedelta) -> None:
    """No change of status: the heartbeat that keeps `worker_id`'s leases of the running
    executions `ids` from expiring (and the rescuer from taking them)."""
    await conn.execute(query(Q, "heartbeat"), {"ids": ids, "worker_id": worker_id, "lease": lease})


async def finish(
    conn: Conn,
    execution_id: UUID,
    worker_id: str,
    attempt: int,
    status: ExecutionStatus,
    outputs: Any,
    error: dict[str, Any] | None,
) -> bool:
    """running -> succeeded | failed | skipped, by the worker and attempt that hold it;
    wakes a waiting parent. False when the execution is no longer theirs."""
    cur = await conn.execute(
        query(Q, "finish"),
        {
            "id": execution_id,
            "worker_id": worker_id,
            "execution_attempt": attempt,
            "status": str(status),
            "outputs": Jsonb(outputs),
            "error": Jsonb(error) if error is not None else None,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return False
    if row["parent_execution_id"] is not None:
        await wake_parent(conn, execution_id)
    return True


async def stop_cancelled(conn: Conn, execution_id: UUID) -> bool:
    """running -> cancelled, when a cancel was asked for and its worker reached a step
    boundary; says so and wakes a waiting parent."""
    cur = await conn.execute(query(Q, "cancel_running_requested"), {"id": execution_id})
    row = await cur.fetchone()
    if row is None:
        return False
    await ended(conn, execution_id, row["parent_execution_id"])
    return True


async def suspend(
    conn: Conn, execution_id: UUID, worker_id: str, attempt: int, until: datetime | None
) -> ExecutionStatus | None:
    """running -> waiting (its timer at `until`; None: only a signal or a child wakes it),
    by the worker and attempt that hold it; -> cancelled when a cancel was asked for.
    The new status, or None when the execution is no longer theirs.

    Then, in a transaction of its own (once `waiting` is committed), wake_ready: what
    came while it was suspending could not wake it."""
    cur = await conn.execute(
        query(Q, "suspend"),
        {
            "id": execution_id,
            "worker_id": worker_id,
            "execution_attempt": attempt,
            "until": until,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    status = ExecutionStatus(row["status"])
    if status == ExecutionStatus.CANCELLED:
        await ended(conn, execution_id, row["parent_execution_id"])
    else:
        await conn.execute(query(Q, "notify_waiting"), {"id": execution_id})
    return status


async def release(conn: Conn, worker_id: str, ids: list[UUID] | None) -> list[Row]:
    """running -> queued (-> cancelled when a cancel was asked for): what `worker_id`
    could not finish through no fault of its own (shutdown; a sibling stalled it). `ids`
    None: all it held. Not a crash. The rows changed, for announce."""
    cur = await conn.execute(query(Q, "release"), {"ids": ids, "worker_id": worker_id})
    return await cur.fetchall()


async def crash(
    conn: Conn,
    worker_id: str,
    reason: str,
    crash_limit: int,
    execution_id: UUID | None = None,
    attempt: int | None = None,
) -> list[Row]:
    """running -> queued, or -> failed at the crash limit, or -> cancelled when a cancel
    was asked for (flowdeck_record_crash): the worker's code raised running the execution
    (`execution_id` and `attempt`), or its worker stalled outside any step (None: each it
    held). The rows changed, for announce."""
    cur = await conn.execute(
        query(Q, "crash"),
        {
            "id": execution_id,
            "execution_attempt": attempt,
            "worker_id": worker_id,
            "reason": reason,
            "crash_limit": crash_limit,
        },
    )
    return await cur.fetchall()


async def rescue(conn: Conn, crash_limit: int) -> list[Row]:
    """running -> queued | failed | cancelled, as crash, for executions whose lease
    expired (their worker died). The rows changed, for announce."""
    cur = await conn.execute(query(Q, "rescue"), {"crash_limit": crash_limit})
    return await cur.fetchall()


async def fail_stalled(
    conn: Conn, execution_id: UUID, worker_id: str, step: dict[str, str], error: dict[str, Any]
) -> bool:
    """running -> failed, with the step (`path`, `step_id`, `step_type`) that held a
    supervised worker's event loop past its limit: run again, it would hold the next."""
    cur = await conn.execute(
        query(Q, "fail_stalled"),
        {"id": execution_id, "worker_id": worker_id, **step, "error": Jsonb(error)},
    )
    return await cur.fetchone() is not None
