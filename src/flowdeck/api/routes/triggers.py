"""Triggers of my workflows: schedules (cron in a time zone) and webhooks.

A webhook's URL token and signing secret are shown once, in the create response; the
database keeps the token's digest and the secret sealed. Another user's trigger (or a
trigger of another user's workflow) is a 404, as if it did not exist.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.errors import definition_invalid, invalid, not_found
from flowdeck.api.patch import NotNull
from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, Issue
from flowdeck.triggers.schedule import ScheduleError, check_cron, next_fire_times, zone_of
from flowdeck.users.credentials import digest
from flowdeck.users.service import User
from flowdeck.workflows import documents

router = APIRouter(route_class=BoundedRoute, tags=["triggers"])

Q = "triggers"
SHOWN_FIRE_TIMES = 5


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


def _out(row: dict[str, Any]) -> dict[str, Any]:
    out = {**row, "workflow_id": row["user_workflow_id"]}
    if row["type"] == "schedule":
        out["next_fire_times"] = next_fire_times(
            row["cron"], row["timezone"], datetime.now(UTC), SHOWN_FIRE_TIMES
        )
        out["signed"] = None
        out["rate_limit_per_minute"] = None
    return out


def _schedule(cron: str | None, timezone: str) -> tuple[str, str, datetime | None]:
    """The checked cron and time zone and the next fire time from now; 422 with paths."""
    issues: list[Issue] = []
    if cron is None:
        issues.append(Issue("cron", "a schedule needs a cron expression"))
    else:
        try:
            cron = check_cron(cron)
        except ScheduleError as error:
            issues.append(Issue(error.field, error.message))
    try:
        zone_of(timezone)
    except ScheduleError as error:
        issues.append(Issue(error.field, error.message))
    if issues or cron is None:
        raise definition_invalid(DefinitionError(issues), prefix="")
    upcoming = next_fire_times(cron, timezone, datetime.now(UTC), 1)
    return cron, timezone, upcoming[0] if upcoming else None


async def _workflow(conn: Conn, user: User, workflow_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query("workflows", "get"), {"id": workflow_id, "user_id": user.id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("The workflow")
    return row


def _inputs(workflow: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    try:
        declared = documents.check_definition(workflow["definition"])
        return documents.check_config(declared, inputs, path="inputs")
    except DefinitionError as error:
        raise definition_invalid(error, prefix="") from None


async def _trigger(conn: Conn, user: User, trigger_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": trigger_id, "user_id": user.id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("The trigger")
    return row


@router.get("/api/workflows/{workflow_id}/triggers", response_model=list[TriggerOut])
async def list_triggers(
    workflow_id: UUID, user: CurrentUser, conn: ConnDep
) -> list[dict[str, Any]]:
    """The triggers of one of my workflows, oldest first."""
    await _workflow(conn, user, workflow_id)
    cur = await conn.execute(
        query(Q, "list_for_workflow"), {"workflow_id": workflow_id, "user_id": user.id}
    )
    return [_out(row) for row in await cur.fetchall()]


@router.post("/api/workflows/{workflow_id}/triggers", status_code=201, response_model=NewTriggerOut)
async def create_trigger(
    workflow_id: UUID, body: TriggerIn, request: Request, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Add a schedule or a webhook to one of my workflows. A webhook's URL and signing
    secret are in this response only."""
    workflow = await _workflow(conn, user, workflow_id)
    values: dict[str, Any] = {
        "workflow_id": workflow_id,
        "user_id": user.id,
        "type": body.type,
        "is_active": body.is_active,
        "cron": None,
        "timezone": None,
        "catch_up": body.catch_up,
        "next_fire_at": None,
        "token_hash": None,
        "signing_secret_encrypted": None,
        "rate_limit_per_minute": body.rate_limit_per_minute,
    }
    shown: dict[str, Any] = {}
    if body.type == "schedule":
        values["cron"], values["timezone"], values["next_fire_at"] = _schedule(
            body.cron, body.timezone
        )
    else:
        if body.cron is not None:
            raise invalid("A webhook has no schedule.", [Issue("cron", "only for schedules")])
        token = secrets.token_urlsafe(32)
        values["token_hash"] = digest(token)
        shown["url"] = f"/hooks/{token}"
        if body.signed:
            signing_secret = secrets.token_urlsafe(32)
            values["signing_secret_encrypted"] = request.app.state.box.seal(signing_secret)
            shown["signing_secret"] = signing_secret
    values["inputs"] = Jsonb(_inputs(workflow, body.inputs))
    cur = await conn.execute(query(Q, "create"), values)
    row = await cur.fetchone()
    if row is None:  # the workflow was deleted meanwhile
        raise not_found("The workflow")
    return {**_out(row), **shown}


@router.get("/api/triggers/{trigger_id}", response_model=TriggerOut)
async def get_trigger(trigger_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One of my triggers (a webhook's URL and secret are not shown again)."""
    return _out(await _trigger(conn, user, trigger_id))


@router.patch("/api/triggers/{trigger_id}", response_model=TriggerOut)
async def update_trigger(
    trigger_id: UUID, body: TriggerPatch, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Change a trigger; a schedule's next fire time is computed again from now."""
    current = await _trigger(conn, user, trigger_id)
    changes = body.model_dump(exclude_unset=True)
    values = {
        key: current[key]
        for key in ("inputs", "is_active", "cron", "timezone", "catch_up", "rate_limit_per_minute")
    }
    values.update({key: value for key, value in changes.items() if value is not None})
    values["next_fire_at"] = current["next_fire_at"]
    if current["type"] == "schedule":
        values["cron"], values["timezone"], values["next_fire_at"] = _schedule(
            values["cron"], values["timezone"]
        )
    elif {"cron", "timezone", "catch_up"} & set(changes):
        fields = sorted({"cron", "timezone", "catch_up"} & set(changes))
        raise invalid(
            "A webhook has no schedule.", [Issue(name, "only for schedules") for name in fields]
        )
    workflow = await _workflow(conn, user, current["user_workflow_id"])
    values["inputs"] = Jsonb(_inputs(workflow, values["inputs"] or {}))
    cur = await conn.execute(query(Q, "update"), {**values, "id": trigger_id, "user_id": user.id})
    return _out(await fetch_row(cur))


@router.delete("/api/triggers/{trigger_id}", status_code=204)
async def delete_trigger(trigger_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete one of my triggers."""
    cur = await conn.execute(query(Q, "delete"), {"id": trigger_id, "user_id": user.id})
    if await cur.fetchone() is None:
        raise not_found("The trigger")
    return Response(status_code=204)
