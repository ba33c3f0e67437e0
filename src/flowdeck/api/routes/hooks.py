"""Webhooks: `POST /hooks/{token}` starts the trigger's workflow (the rules are
`flowdeck.services.webhooks`'): 202 with the execution's id and status, or with `wait`,
200 and its outputs once it has ended within that many seconds."""

from __future__ import annotations

import time
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from flowdeck.db.types import Conn
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.http.bodies import BoundedRoute, document_limits
from flowdeck.http.session import ConnDep
from flowdeck.services import webhooks

router = APIRouter(route_class=BoundedRoute, tags=["webhooks"])

MAX_WAIT = 300.0


@router.post("/hooks/{token}", status_code=202)
async def call_webhook(
    token: str,
    request: Request,
    conn: ConnDep,
    wait: float = Query(
        0.0, ge=0, le=MAX_WAIT, description="Seconds to wait for the end; 0: answer at once."
    ),
) -> JSONResponse:
    """Start the webhook trigger's workflow with the request as its inputs."""
    execution_id = await webhooks.receive(
        conn,
        request.app.state.box,
        token,
        raw=await request.body(),
        headers=request.headers,
        query_params={k: v for k, v in request.query_params.items() if k != "wait"},
        limits=document_limits(request),
        now=time.time(),
    )
    return await _answer(request, conn, execution_id, wait)


async def _answer(request: Request, conn: Conn, execution_id: UUID, wait: float) -> JSONResponse:
    if wait <= 0:
        row = await webhooks.result(conn, execution_id)
        return JSONResponse(
            {"execution_id": str(execution_id), "status": row["status"]}, status_code=202
        )

    async def is_final() -> bool:
        row = await webhooks.result(conn, execution_id)
        return ExecutionStatus(row["status"]) in FINAL

    await request.app.state.finished.wait(execution_id, wait, is_final)
    row = await webhooks.result(conn, execution_id)
    ended = ExecutionStatus(row["status"]) in FINAL
    return JSONResponse(
        {
            "execution_id": str(execution_id),
            "status": row["status"],
            "outputs": row["outputs"],
            "error": row["error"],
        },
        status_code=200 if ended else 202,
    )
