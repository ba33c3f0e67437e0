"""Executions: start one (of a workflow, or of a template directly), list my history,
read one with its steps, cancel. Another user's execution is a 404."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.pagination import Page
from flowdeck.db.types import Conn
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import executions
from flowdeck.services.executions import ExecutionQuery
from flowdeck.users.service import User

router = APIRouter(route_class=BoundedRoute, tags=["executions"])

MAX_WAIT = 300.0


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
    execution_id, created = await executions.start(
        conn,
        user,
        workflow_id=workflow_id,
        template_id=template_id,
        inputs=body.inputs,
        trigger=body.trigger,
        idempotency_key=idempotency_key,
    )
    if wait > 0:

        async def is_final() -> bool:
            return await executions.is_final(conn, user, execution_id)

        await request.app.state.finished.wait(execution_id, wait, is_final)
    execution = await executions.get_execution(conn, user, execution_id)
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
    user: CurrentUser, conn: ConnDep, asked: Annotated[ExecutionQuery, Query()]
) -> dict[str, Any]:
    """My executions, newest first."""
    return await executions.list_executions(conn, user, asked)


@router.get("/api/executions/{execution_id}", response_model=ExecutionOut)
async def get_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One execution with its steps in the order they started."""
    return await executions.get_execution(conn, user, execution_id)


@router.post("/api/executions/{execution_id}/cancel", response_model=ExecutionOut)
async def cancel_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Cancel: a queued or waiting execution at once, a running one at its next step."""
    return await executions.cancel(conn, user, execution_id)


@router.post("/api/executions/{execution_id}/retry", status_code=201, response_model=ExecutionOut)
async def retry_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A new execution of the same snapshot and inputs that reuses the recorded results
    of the steps that succeeded and continues from the one that failed (`retry_of`)."""
    return await executions.retry(conn, user, execution_id)


class RerunIn(BaseModel):
    inputs: dict[str, Any] | None = Field(
        None, description="New inputs; default: the inputs of the execution rerun."
    )


@router.post("/api/executions/{execution_id}/rerun", status_code=201, response_model=ExecutionOut)
async def rerun_execution(
    execution_id: UUID, user: CurrentUser, conn: ConnDep, body: RerunIn | None = None
) -> dict[str, Any]:
    """Run the same workflow (or template) again from the start, optionally with new inputs."""
    inputs = body.inputs if body is not None else None
    return await executions.rerun(conn, user, execution_id, inputs)


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
        await executions.get_execution(conn, user, execution_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        seen_steps: dict[str, tuple[str, int]] = {}
        seen_status: str | None = None
        while True:
            async with pool.connection() as conn:
                snap = await executions.snapshot(conn, user, execution_id)
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
