"""Executions: start one (of a workflow, or of a template directly), list my history,
read one with its steps, cancel. Another user's execution is a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.errors import ApiError, definition_invalid, not_found
from flowdeck.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, page
from flowdeck.db.queries import query
from flowdeck.engine.definition import DefinitionError
from flowdeck.engine.start import NotStartable, start_execution
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.users.service import Conn, User

router = APIRouter(tags=["executions"])

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


@router.post(
    "/api/workflows/{workflow_id}/executions", status_code=201, response_model=ExecutionOut
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
    "/api/templates/{template_id}/executions", status_code=201, response_model=ExecutionOut
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
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
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
        params["after_created"], params["after_id"] = decode_cursor(cursor, 2)
        try:
            UUID(str(params["after_id"]))
            datetime.fromisoformat(str(params["after_created"]))
        except ValueError:
            raise ApiError(
                400, "invalid_cursor", "The cursor is not valid; start from the first page."
            ) from None
    cur = await conn.execute(query(Q, "list"), params)
    return page(await cur.fetchall(), limit, ("created_at", "id"))


@router.get("/api/executions/{execution_id}", response_model=ExecutionOut)
async def get_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One execution with its steps in the order they started."""
    return await fetch_execution(conn, user, execution_id)


@router.post("/api/executions/{execution_id}/cancel", response_model=ExecutionOut)
async def cancel_execution(execution_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Cancel: a queued or waiting execution at once, a running one at its next step."""
    cur = await conn.execute(query(Q, "cancel"), {"id": execution_id, "user_id": user.id})
    cancelled = await cur.fetchone()
    if cancelled is not None and cancelled["status"] == "cancelled":
        await conn.execute(query(Q, "notify_finished"), {"id": execution_id})
    if cancelled is None:
        current = await fetch_execution(conn, user, execution_id)  # 404 when not mine
        raise ApiError(
            409, "execution_finished", f"The execution has already ended ({current['status']})."
        )
    return await fetch_execution(conn, user, execution_id)
