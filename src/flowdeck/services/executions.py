"""Executions: start one (of a workflow, or of a template directly), list the actor's
history, read one with its steps, cancel, retry, rerun, send a signal. Another user's
execution is NotFound; one that has ended refuses a cancel or a signal (Conflict
execution_finished)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.definition.checks import steps_by_id
from flowdeck.definition.document import DefinitionError
from flowdeck.engine import lifecycle
from flowdeck.engine.lifecycle import NotStartable
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.services.errors import Conflict, DomainError, NotFound, definition_invalid, found
from flowdeck.services.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page
from flowdeck.users.service import User

Q = "executions"
Status = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled", "skipped"]
Trigger = Literal["manual", "api", "schedule", "webhook", "workflow"]


@contextmanager
def starting() -> Iterator[None]:
    """Around a start, a retry or a rerun: the lifecycle's refusals as domain errors.
    "not_found" is NotFound, any other code a Conflict with it; bad inputs are Invalid."""
    try:
        yield
    except (NotStartable, lifecycle.LifecycleError) as exc:
        error: DomainError = (
            NotFound(str(exc)) if exc.code == "not_found" else Conflict(exc.code, str(exc))
        )
        raise error from None
    except DefinitionError as exc:
        raise definition_invalid(exc, prefix="") from None


async def start(
    conn: Conn,
    actor: User,
    *,
    workflow_id: UUID | None = None,
    template_id: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    trigger: str = "api",
    idempotency_key: str | None = None,
) -> tuple[UUID, bool]:
    """Queue an execution of one of the actor's workflows (or of a template): its id, and
    whether it is new (False: the idempotency key was used before). Invalid inputs
    (paths from `inputs`), NotFound, Conflict (inactive)."""
    with starting():
        return await lifecycle.start(
            conn,
            actor.id,
            workflow_id=workflow_id,
            template_id=template_id,
            inputs=inputs,
            trigger=trigger,
            idempotency_key=idempotency_key,
        )


async def get_execution(conn: Conn, actor: User, execution_id: UUID) -> dict[str, Any]:
    """One of the actor's executions with its steps in the order they started."""
    cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": actor.id})
    row = found(await cur.fetchone(), "The execution")
    cur = await conn.execute(query(Q, "steps"), {"id": execution_id})
    return {**row, "steps": await cur.fetchall()}


async def is_final(conn: Conn, actor: User, execution_id: UUID) -> bool:
    """Whether the actor's execution has ended (a missing one has not)."""
    cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": actor.id})
    row = await cur.fetchone()
    return row is not None and ExecutionStatus(row["status"]) in FINAL


class ExecutionQuery(BaseModel):
    """Which of the actor's executions to list (the API's query parameters)."""

    status: Status | None = None
    workflow_id: UUID | None = None
    template_id: str | None = None
    trigger: Trigger | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


async def list_executions(conn: Conn, actor: User, asked: ExecutionQuery) -> dict[str, Any]:
    """A page of the actor's executions, newest first."""
    params: dict[str, Any] = {
        **asked.model_dump(exclude={"limit", "cursor"}),
        "user_id": actor.id,
        "limit": asked.limit + 1,
        "after_created": None,
        "after_id": None,
    }
    if asked.cursor:
        params["after_created"], params["after_id"] = decode_cursor(
            asked.cursor, datetime.fromisoformat, UUID
        )
    cur = await conn.execute(query(Q, "list"), params)
    return page(await cur.fetchall(), asked.limit, ("created_at", "id"))


async def cancel(conn: Conn, actor: User, execution_id: UUID) -> dict[str, Any]:
    """Cancel: a queued or waiting execution at once, a running one at its next step.
    The execution as it is afterwards; Conflict execution_finished when it had ended."""
    async with conn.transaction():
        cancelled = await lifecycle.cancel(conn, actor.id, execution_id)
    if cancelled is None:
        current = await get_execution(conn, actor, execution_id)  # NotFound when not mine
        raise Conflict(
            "execution_finished", f"The execution has already ended ({current['status']})."
        )
    return await get_execution(conn, actor, execution_id)


async def retry(conn: Conn, actor: User, execution_id: UUID) -> dict[str, Any]:
    """A new execution of the same snapshot and inputs that reuses the recorded results
    of the steps that succeeded and continues from the one that failed (`retry_of`).
    Conflict not_retryable unless it failed or was cancelled."""
    with starting():
        row = await lifecycle.retry(conn, actor.id, execution_id)
    return await get_execution(conn, actor, row["id"])


async def rerun(
    conn: Conn, actor: User, execution_id: UUID, inputs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run the same workflow (or template) again from the start; `inputs` None: the
    inputs of the execution rerun."""
    with starting():
        row = await lifecycle.rerun(conn, actor.id, execution_id, inputs)
    return await get_execution(conn, actor, row["id"])


async def snapshot(conn: Conn, actor: User, execution_id: UUID) -> dict[str, Any] | None:
    """The execution's status, error, output and steps in one read (None once deleted)."""
    cur = await conn.execute(
        query("history", "snapshot"), {"id": execution_id, "user_id": actor.id}
    )
    return await cur.fetchone()


async def send_signal(conn: Conn, actor: User, execution_id: UUID, name: str, payload: Any) -> bool:
    """Send a named signal to one of the actor's executions; a `wait` step for its name
    takes it (once). True when the execution was waiting for it and is queued again.
    Conflict execution_finished when it has ended."""
    cur = await conn.execute(
        query(Q, "add_signal"),
        {"id": execution_id, "user_id": actor.id, "name": name, "payload": Jsonb(payload)},
    )
    if await cur.fetchone() is None:
        cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": actor.id})
        current = found(await cur.fetchone(), "The execution")
        raise Conflict(
            "execution_finished",
            f"The execution has already ended ({current['status']}); the signal was not kept.",
        )
    # The signal is committed (autocommit) before this looks: an execution that suspends
    # meanwhile finds it in its own check after suspending, so one of the two wakes it.
    async with conn.transaction():
        cur = await conn.execute(query(Q, "wake_ready_one"), {"id": execution_id})
        delivered = await cur.fetchone() is not None
        if delivered:
            await conn.execute(query(Q, "notify_queued"))
    return delivered


async def source_names(conn: Conn, actor: User, items: list[dict[str, Any]]) -> dict[str, str]:
    """Display names of the workflows and templates these executions ran, by id."""
    workflow_ids = list({i["user_workflow_id"] for i in items if i["user_workflow_id"]})
    template_ids = list({i["template_id"] for i in items if i["template_id"]})
    names: dict[str, str] = {}
    cur = await conn.execute(
        query("web", "workflow_names"), {"user_id": actor.id, "ids": workflow_ids}
    )
    names.update({str(row["id"]): row["name"] for row in await cur.fetchall()})
    cur = await conn.execute(query("web", "template_names"), {"ids": template_ids})
    names.update({row["id"]: row["name"] for row in await cur.fetchall()})
    return names


async def definition_steps(
    conn: Conn, actor: User, execution_id: UUID
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    """The definition snapshot an execution runs, and its steps by id."""
    cur = await conn.execute(
        query("web", "execution_definition"), {"id": execution_id, "user_id": actor.id}
    )
    row = await cur.fetchone()
    definition: dict[str, Any] = (row["definition"] if row else None) or {}
    return definition, steps_by_id(definition.get("steps"))
