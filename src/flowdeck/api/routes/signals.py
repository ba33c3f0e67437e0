"""Signals: send a named signal, with any JSON payload, to one of my executions.

A `wait` step for that name takes it: at once when the execution is waiting for it,
later when the execution gets to such a step (signals are kept until taken). Another
user's execution is a 404, one that has ended a 409.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import executions

router = APIRouter(route_class=BoundedRoute, tags=["executions"])

SignalName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=255,
        description="A letter or _, then letters, digits and _ (the wait step's `signal`).",
    ),
]
Payload = Annotated[Any, Body(description="Any JSON value; the wait step's output.")]


class SignalOut(BaseModel):
    execution_id: UUID
    signal: str
    delivered: bool  # True: the execution was waiting for it and is queued again


@router.post(
    "/api/executions/{execution_id}/signals/{name}", status_code=202, response_model=SignalOut
)
async def send_signal(
    execution_id: UUID,
    name: SignalName,
    user: CurrentUser,
    conn: ConnDep,
    payload: Payload = None,
) -> dict[str, Any]:
    """Send a signal to an execution; a `wait` step for its name takes it (once)."""
    delivered = await executions.send_signal(conn, user, execution_id, name, payload)
    return {"execution_id": execution_id, "signal": name, "delivered": delivered}
