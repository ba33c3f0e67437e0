"""The transitions out of waiting and into an end without a worker: wake (a timer, a
signal, a child), cancel; and what an execution's end sets off (ended, announce).

Each function runs inside the caller's transaction (it commits nothing itself), so an
execution's change and what it sets off — waking workers, telling followers it ended,
waking a parent that waits for it — commit together or not at all.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.engine.states import ExecutionStatus

Q = "executions"


async def wake_due(conn: Conn) -> int:
    """waiting -> queued for the executions whose timer is due (a few at a time)."""
    cur = await conn.execute(query(Q, "wake_due"))
    woken = len(await cur.fetchall())
    if woken:
        await conn.execute(query(Q, "notify_queued"))
    return woken


async def wake_ready(conn: Conn, execution_id: UUID | None = None) -> int:
    """waiting -> queued for an execution that has what it waits for (a signal, a
    child's end): the one given, or (None) any, a few at a time."""
    cur = await conn.execute(query(Q, "wake_ready_one"), {"id": execution_id})
    woken = len(await cur.fetchall())
    if woken:
        await conn.execute(query(Q, "notify_queued"))
    return woken


async def wake_parent(conn: Conn, execution_id: UUID) -> None:
    """waiting -> queued for the parent of a child execution that just ended, in the
    transaction that ended it.

    The parent's row is locked first: a parent still running cannot commit its
    suspend until this commits, and the check that follows its suspend then sees
    that the child has ended (see wake_ready).
    """
    cur = await conn.execute(query(Q, "lock_parent"), {"child_id": execution_id})
    if await cur.fetchone() is None:
        return
    cur = await conn.execute(query(Q, "wake_parent"), {"child_id": execution_id})
    if await cur.fetchone() is not None:
        await conn.execute(query(Q, "notify_queued"))


async def ended(conn: Conn, execution_id: UUID, parent_id: UUID | None) -> None:
    """In the transaction that ended an execution without its worker (cancelled, or
    failed at the crash limit): say so, and wake its parent."""
    await conn.execute(query(Q, "notify_finished"), {"id": execution_id})
    if parent_id is not None:
        await wake_parent(conn, execution_id)


async def announce(conn: Conn, rows: list[dict[str, Any]]) -> None:
    """In the transaction that requeued or ended executions without their worker (the
    rescuer, a crash, a release at shutdown): wake the workers for the requeued, and
    say so for the ended (waking their parents)."""
    if any(row["status"] == ExecutionStatus.QUEUED for row in rows):
        await conn.execute(query(Q, "notify_queued"))
    for row in rows:
        if row["status"] in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
            await ended(conn, row["id"], row["parent_execution_id"])


async def cancel(conn: Conn, user_id: UUID, execution_id: UUID) -> dict[str, Any] | None:
    """queued | waiting -> cancelled at once (its parent woken); running: asked to stop,
    which its worker does at the next step boundary (stop_cancelled). For one of
    `user_id`'s executions; None when there is no such execution still going."""
    # A child that ends here must reach its waiting parent now: lock the parent first,
    # as the worker does when a child finishes (see lock_parent).
    await conn.execute(query(Q, "lock_parent"), {"child_id": execution_id})
    cur = await conn.execute(query(Q, "cancel"), {"id": execution_id, "user_id": user_id})
    cancelled = await cur.fetchone()
    if cancelled is not None and cancelled["status"] == ExecutionStatus.CANCELLED:
        await conn.execute(query(Q, "notify_finished"), {"id": execution_id})
        cur = await conn.execute(query(Q, "wake_parent"), {"child_id": execution_id})
        if await cur.fetchone() is not None:
            await conn.execute(query(Q, "notify_queued"))
    return cancelled
