"""Executions: start one (of a workflow, or of a template directly), list my history,
read one with its steps, cancel. Another user's execution is a 404."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.errors import ApiError, definition_invalid, not_found
from flowdeck.api.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page
from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError
from flowdeck.engine import lifecycle
from flowdeck.engine.start import NotStartable, start_execution
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.users.service import User

router = APIRouter(route_class=BoundedRoute, tags=["executions"])

Q = "executions"
MAX_WAIT = 300.0
Status = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled", "skipped"]
Trigger = Literal["manual", "api", "schedule", "webhook", "workflow"]


class StartIn(BaseModel):
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Checked against the declared inputs."
    )
    trigger: Literal["manual", "api"] = "api"


class StepOut(BaseModel):
    path: str
    step_id: str
    step_type: str
    status: str
    attempt: int
    output: Any
    error: dict[str, Any] | None
    logs: list[Any]
    started_at: datetime | None
    finished_at: datetime | None


class ExecutionSummary(BaseModel):
    id: UUID
    user_workflow_id: UUID | None
    template_id: str | None
    status: str
    trigger: str
    error: Any
    attempt: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_of: UUID | None
    parent_execution_id: UUID | None


class ExecutionOut(ExecutionSummary):
    inputs: Any
    outputs: Any
    priority: int
    cancel_requested: bool
    steps: list[StepOut]


async def fetch_execution(conn: Conn, user: User, execution_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": user.id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("The execution")
    cur = await conn.execute(query(Q, "steps"), {"id": execution_id})
    return {**row, "steps": await cur.fetchall()}


async def _start(
    request: Request,
    conn: Conn,
    user: User,
    body: StartIn,
    idempotency_key: str | None,
    wait: float,
    *,
    workflow_id: UUID | None = None,
    template_id: str | None = None,
) -> JSONResponse:
    try:
        execution_id, created = await start_execution(
            conn,
            user.id,
            workflow_id=workflow_id,
            template_id=template_id,
            inputs=body.inputs,
            trigger=body.trigger,
            idempotency_key=idempotency_key,
        )
    except NotStartable as exc:
        raise ApiError(404 if exc.code == "not_found" else 409, exc.code, str(exc)) from None
    except DefinitionError as error:
        raise definition_invalid(error, prefix="") from None
    if wait > 0:

        async def is_final() -> bool:
            cur = await conn.execute(query(Q, "get"), {"id": execution_id, "user_id": user.id})
            row = await cur.fetchone()
            return row is not None and ExecutionStatus(row["status"]) in FINAL

        await request.app.state.finished.wait(execution_id, wait, is_final)
    execution = await fetch_execution(conn, user, execution_id)
    status_code = 201 if created else 200
    return JSONResponse(
        ExecutionOut.model_validate(execution).model_dump(mode="json"),
        status_code=status_code,
        headers={"Location": f"/api/executions/{execution_id}"},
    )


WaitQuery = Query(
    0.0, ge=0, le=MAX_WAIT, description="Seconds to wait for the end; 0: answer at once."
)
IdempotencyHeader = Header(None, alias="Idempotency-Key", max_length=255)
# A start sent again with the same Idempotency-Key answers the execution it started.
SAME_KEY: dict[int | str, dict[str, Any]] = {
    200: {"model": ExecutionOut, "description": "Started before with this Idempotency-Key."}
}


@router.post(
    "/api/workflows/{workflow_id}/executions",
    status_code=201,
    response_model=ExecutionOut,
    responses=SAME_KEY,
)
async def run_workflow(
    workflow_id: UUID,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    body: StartIn | None = None,
    wait: float = WaitQuery,
    idempotency_key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Run one of my workflows. The same Idempotency-Key returns the same execution."""
    return await _start(
        request, conn, user, body or StartIn(), idempotency_key, wait, workflow_id=workflow_id
    )


@router.post(
    "/api/templates/{template_id}/executions",
    status_code=201,
    response_model=ExecutionOut,
    responses=SAME_KEY,
)
async def run_template(
    template_id: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    body: StartIn | None = None,
    wait: float = WaitQuery,
    idempotency_key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Run a template directly, without making a workflow of it."""
    return await _start(
        request, conn, user, body or StartIn(), idempotency_key, wait, template_id=template_id
    )


@router.get("/api/executions", response_model=Page[ExecutionSummary])
async def list_executions(
    user: CurrentUser,
    conn: ConnDep,
    status: Status | None = None,
    workflow_id: UUID | None = None,
    template_id: str | None = None,
    trigger: Trigger | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """My executions, newest first."""
    params: dict[str, Any] = {
        "user_id": user.id,
        "status": status,
        "workflow_id": workflow_id,
        "template_id": template_id,
        "trigger": trigger,
        "since": since,
        "until": until,
        "limit": limit + 1,
        "after_created": None,
        "after_id": None,
    }
    if cursor:
        params["after_created"], params["after_id"] = decode_cursor(
            cursor, datetime.fromisoformat, UUID
        )
    cur = await conn.execute(query(Q, "list"), params)
    return page(await cur.fetchall(), limit, ("created_at", "id"))


@router.get("/api/executions/{execution_id}", response_model=ExecutionOut)
async def get_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One execution with its steps in the order they started."""
    return await fetch_execution(conn, user, execution_id)


@router.post("/api/executions/{execution_id}/cancel", response_model=ExecutionOut)
async def cancel_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Cancel: a queued or waiting execution at once, a running one at its next step."""
    async with conn.transaction():
        cancelled = await lifecycle.cancel(conn, user.id, execution_id)
    if cancelled is None:
        current = await fetch_execution(conn, user, execution_id)  # 404 when not mine
        raise ApiError(
            409, "execution_finished", f"The execution has already ended ({current['status']})."
        )
    return await fetch_execution(conn, user, execution_id)


async def _source(conn: Conn, user: User, execution_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query("history", "source"), {"id": execution_id, "user_id": user.id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("The execution")
    return row


@router.post("/api/executions/{execution_id}/retry", status_code=201, response_model=ExecutionOut)
async def retry_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A new execution of the same snapshot and inputs that reuses the recorded results
    of the steps that succeeded and continues from the one that failed (`retry_of`)."""
    source = await _source(conn, user, execution_id)
    if source["status"] not in ("failed", "cancelled"):
        raise ApiError(
            409,
            "not_retryable",
            f"Only a failed or cancelled execution can be retried; this one is {source['status']}.",
        )
    if source["definition"] is None:
        raise ApiError(409, "not_retryable", "This execution recorded no definition to run again.")
    async with conn.transaction():
        cur = await conn.execute(query("history", "insert_retry"), {"id": execution_id})
        new_id = (await fetch_row(cur))["id"]
        await conn.execute(
            query("history", "copy_succeeded_steps"), {"new_id": new_id, "old_id": execution_id}
        )
        await conn.execute(query(Q, "notify_queued"))
    return await fetch_execution(conn, user, new_id)


class RerunIn(BaseModel):
    inputs: dict[str, Any] | None = Field(
        None, description="New inputs; default: the inputs of the execution rerun."
    )


@router.post("/api/executions/{execution_id}/rerun", status_code=201, response_model=ExecutionOut)
async def rerun_execution(
    execution_id: UUID, user: CurrentUser, conn: ConnDep, body: RerunIn | None = None
) -> dict[str, Any]:
    """Run the same workflow (or template) again from the start, optionally with new inputs."""
    source = await _source(conn, user, execution_id)
    inputs = body.inputs if body is not None and body.inputs is not None else source["input"]
    try:
        new_id, _ = await start_execution(
            conn,
            user.id,
            workflow_id=source["user_workflow_id"],
            template_id=source["template_id"],
            inputs=inputs or {},
            trigger="manual" if source["trigger"] == "manual" else "api",
        )
    except NotStartable as exc:
        raise ApiError(404 if exc.code == "not_found" else 409, exc.code, str(exc)) from None
    except DefinitionError as error:
        raise definition_invalid(error, prefix="") from None
    return await fetch_execution(conn, user, new_id)


EVENT_POLL_SECONDS = 0.25


# One event of the stream, as a reader of server-sent events sees it; `data` is JSON text.
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["step", "status"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
    "required": ["event", "data"],
}


@router.get(
    "/api/executions/{execution_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `step` and `status`, ending with the final status.",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        }
    },
)
async def execution_events(
    execution_id: UUID, request: Request, user: CurrentUser
) -> StreamingResponse:
    """Live progress as server-sent events: `step` when a step starts or finishes, `status`
    when the execution's status changes; the stream ends with the final status.

    The stream looks at the execution four times a second while someone watches, which
    costs the engine nothing per step (no NOTIFY on the hot path).
    """
    pool = request.app.state.pool
    async with pool.connection() as conn:
        await fetch_execution(conn, user, execution_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        seen_steps: dict[str, tuple[str, int]] = {}
        seen_status: str | None = None
        while True:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    query("history", "snapshot"), {"id": execution_id, "user_id": user.id}
                )
                snap = await cur.fetchone()
            if snap is None:
                yield _event("status", {"status": "deleted"})
                return
            for step in snap["steps"]:
                key = (step["status"], step["attempt"])
                if seen_steps.get(step["path"]) != key:
                    seen_steps[step["path"]] = key
                    yield _event("step", step)
            status: str = snap["status"]
            if status != seen_status:
                seen_status = status
                yield _event(
                    "status",
                    {"status": seen_status, "error": snap["error"], "outputs": snap["output"]},
                )
            if ExecutionStatus(status) in FINAL or await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
