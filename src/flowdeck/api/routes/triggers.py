"""Triggers of my workflows: schedules (cron in a time zone) and webhooks.

A webhook's URL token and signing secret are shown once, in the create response; the
database keeps the token's digest and the secret sealed. Another user's trigger (or a
trigger of another user's workflow) is a 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.patch import NotNull
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import triggers

router = APIRouter(route_class=BoundedRoute, tags=["triggers"])


# The column is an INTEGER; a million calls a minute is far past what one process answers.
MAX_RATE_LIMIT = 1_000_000


class TriggerIn(BaseModel):
    type: Literal["schedule", "webhook"]
    cron: str | None = Field(None, description="Schedule: a 5-field cron expression.")
    timezone: str = Field("UTC", description="Schedule: the IANA time zone the cron reads.")
    catch_up: Literal["skip", "once", "all"] = Field(
        "once", description="Schedule: what to run for times missed while nothing ran."
    )
    inputs: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    signed: bool = Field(True, description="Webhook: require an HMAC signature.")
    rate_limit_per_minute: int = Field(
        60, gt=0, le=MAX_RATE_LIMIT, description="Webhook: calls a minute."
    )


class TriggerPatch(BaseModel):
    cron: NotNull[str] = None
    timezone: NotNull[str] = None
    catch_up: NotNull[Literal["skip", "once", "all"]] = None
    inputs: NotNull[dict[str, Any]] = None
    is_active: NotNull[bool] = None
    rate_limit_per_minute: NotNull[int] = Field(None, gt=0, le=MAX_RATE_LIMIT)


class TriggerOut(BaseModel):
    id: UUID
    workflow_id: UUID
    type: str
    inputs: dict[str, Any]
    is_active: bool
    cron: str | None
    timezone: str | None
    catch_up: str
    next_fire_at: datetime | None
    last_fired_at: datetime | None
    next_fire_times: list[datetime] | None = Field(
        None, description="Schedule: the next five times it fires (UTC)."
    )
    signed: bool | None = Field(None, description="Webhook: whether calls must be signed.")
    rate_limit_per_minute: int | None
    created_at: datetime
    updated_at: datetime


class NewTriggerOut(TriggerOut):
    url: str | None = Field(None, description="Webhook: its URL path. Shown this once only.")
    signing_secret: str | None = Field(
        None, description="Webhook: the HMAC signing secret. Shown this once only."
    )


@router.get("/api/workflows/{workflow_id}/triggers", response_model=list[TriggerOut])
async def list_triggers(
    workflow_id: UUID, user: CurrentUser, conn: ConnDep
) -> list[dict[str, Any]]:
    """The triggers of one of my workflows, oldest first."""
    return await triggers.list_triggers(conn, user, workflow_id)


@router.post("/api/workflows/{workflow_id}/triggers", status_code=201, response_model=NewTriggerOut)
async def create_trigger(
    workflow_id: UUID, body: TriggerIn, request: Request, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Add a schedule or a webhook to one of my workflows. A webhook's URL and signing
    secret are in this response only."""
    box = request.app.state.box
    return await triggers.create_trigger(conn, user, box, workflow_id, body.model_dump())


@router.get("/api/triggers/{trigger_id}", response_model=TriggerOut)
async def get_trigger(trigger_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One of my triggers (a webhook's URL and secret are not shown again)."""
    return await triggers.get_trigger(conn, user, trigger_id)


@router.patch("/api/triggers/{trigger_id}", response_model=TriggerOut)
async def update_trigger(
    trigger_id: UUID, body: TriggerPatch, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Change a trigger; a schedule's next fire time is computed again from now."""
    changes = body.model_dump(exclude_unset=True)
    return await triggers.update_trigger(conn, user, trigger_id, changes)


@router.delete("/api/triggers/{trigger_id}", status_code=204)
async def delete_trigger(trigger_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete one of my triggers."""
    await triggers.delete_trigger(conn, user, trigger_id)
    return Response(status_code=204)
