"""The transitions that start a new execution from an old one: retry (a failed or
cancelled execution, continuing from where it stopped) and rerun (from the start).

The old execution is only read: its row never changes. What the API answers for the
errors: LifecycleError.code "not_found" (404) or "not_retryable" (409); rerun raises
what start raises (NotStartable, DefinitionError).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.engine.lifecycle.start import start
from flowdeck.engine.states import RETRYABLE, ExecutionStatus
from flowdeck.errors import FlowdeckError

Q = "executions"


class LifecycleError(FlowdeckError):
    """A transition that cannot be made: `code` says why ("not_found", "not_retryable")."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


async def retry(conn: Conn, user_id: UUID, execution_id: UUID) -> dict[str, Any]:
    """failed | cancelled -> a new queued execution of the same snapshot and inputs
    (`retry_of`), which replays the steps that succeeded and continues from the one that
    failed. Returns the new execution's row (the `get` query's)."""
    source = await _source(conn, user_id, execution_id)
    if ExecutionStatus(source["status"]) not in RETRYABLE:
        raise LifecycleError(
            f"Only a failed or cancelled execution can be retried; this one is {source['status']}.",
            code="not_retryable",
        )
    if source["definition"] is None:
        raise LifecycleError(
            "This execution recorded no definition to run again.", code="not_retryable"
        )
    async with conn.transaction():
        cur = await conn.execute(query("history", "insert_retry"), {"id": execution_id})
        new_id = (await fetch_row(cur))["id"]
        await conn.execute(
            query("history", "copy_succeeded_steps"), {"new_id": new_id, "old_id": execution_id}
        )
        await conn.execute(query(Q, "notify_queued"))
    return await _get(conn, user_id, new_id)


async def rerun(
    conn: Conn, user_id: UUID, execution_id: UUID, inputs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Any execution -> a new queued execution of the same workflow (or template) from
    the start, as it is now, with `inputs` (None: the old execution's). Returns the new
    execution's row (the `get` query's)."""
    source = await _source(conn, user_id, execution_id)
    new_id, _ = await start(
        conn,
        user_id,
        workflow_id=source["user_workflow_id"],
        template_id=source["template_id"],
        inputs=(inputs if inputs is not None else source["input"]) or {},
        trigger="manual" if source["trigger"] == "manual" else "api",
    )
    return await _get(conn, user_id, new_id)


async def _source(conn: Conn, user_id: UUID, execution_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query("history", "source"), {"id": execution_id, "user_id": user_id})
    row = await cur.fetchone()
    if row is None:
        raise LifecycleError("The execution was not found.", code="not_found")
    return row


async def _get(conn: Conn, user_id: UUID, execution_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": user_id})
    return await fetch_row(cur)
