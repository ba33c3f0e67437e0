"""Triggers of my workflows: schedules (cron in a time zone) and webhooks.

A webhook's URL token and signing secret are shown once, in what `create_trigger`
returns; the database keeps the token's digest and the secret sealed. Another user's
trigger (or a trigger of another user's workflow) is NotFound, as if it did not exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, Issue
from flowdeck.services.errors import Invalid, definition_invalid, found
from flowdeck.services.workflows import get_workflow
from flowdeck.triggers.schedule import ScheduleError, check_cron, next_fire_times, zone_of
from flowdeck.users.credentials import digest
from flowdeck.users.service import User
from flowdeck.vault.box import SecretBox
from flowdeck.workflows import documents

Q = "triggers"
SHOWN_FIRE_TIMES = 5
SCHEDULE_FIELDS = frozenset({"cron", "timezone", "catch_up"})


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
    """The checked cron and time zone and the next fire time from now; Invalid with paths."""
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


def _inputs(workflow: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        declared = documents.check_definition(workflow["definition"])
        return documents.check_config(declared, inputs, path="inputs")
    except DefinitionError as error:
        raise definition_invalid(error, prefix="") from None


async def _trigger(conn: Conn, actor: User, trigger_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": trigger_id, "user_id": actor.id})
    return found(await cur.fetchone(), "The trigger")


async def list_triggers(conn: Conn, actor: User, workflow_id: UUID) -> list[dict[str, Any]]:
    """The triggers of one of the actor's workflows, oldest first."""
    await get_workflow(conn, actor, workflow_id)
    cur = await conn.execute(
        query(Q, "list_for_workflow"), {"workflow_id": workflow_id, "user_id": actor.id}
    )
    return [_out(row) for row in await cur.fetchall()]


async def create_trigger(
    conn: Conn, actor: User, box: SecretBox, workflow_id: UUID, values: Mapping[str, Any]
) -> dict[str, Any]:
    """Add a schedule or a webhook (the fields of TriggerIn) to one of the actor's
    workflows. A webhook's `url` and `signing_secret` are in what this returns only."""
    workflow = await get_workflow(conn, actor, workflow_id)
    row: dict[str, Any] = {
        "workflow_id": workflow_id,
        "user_id": actor.id,
        "type": values["type"],
        "is_active": values["is_active"],
        "cron": None,
        "timezone": None,
        "catch_up": values["catch_up"],
        "next_fire_at": None,
        "token_hash": None,
        "signing_secret_encrypted": None,
        "rate_limit_per_minute": values["rate_limit_per_minute"],
    }
    shown: dict[str, Any] = {}
    if values["type"] == "schedule":
        row["cron"], row["timezone"], row["next_fire_at"] = _schedule(
            values["cron"], values["timezone"]
        )
    else:
        if values["cron"] is not None:
            raise Invalid("A webhook has no schedule.", [Issue("cron", "only for schedules")])
        token = secrets.token_urlsafe(32)
        row["token_hash"] = digest(token)
        shown["url"] = f"/hooks/{token}"
        if values["signed"]:
            signing_secret = secrets.token_urlsafe(32)
            row["signing_secret_encrypted"] = box.seal(signing_secret)
            shown["signing_secret"] = signing_secret
    row["inputs"] = Jsonb(_inputs(workflow, values["inputs"]))
    cur = await conn.execute(query(Q, "create"), row)
    created = found(await cur.fetchone(), "The workflow")  # deleted meanwhile
    return {**_out(created), **shown}


async def get_trigger(conn: Conn, actor: User, trigger_id: UUID) -> dict[str, Any]:
    """One of the actor's triggers (a webhook's URL and secret are not shown again)."""
    return _out(await _trigger(conn, actor, trigger_id))


async def update_trigger(
    conn: Conn, actor: User, trigger_id: UUID, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a trigger (`changes`: only the fields sent); a schedule's next fire time is
    computed again from now. Invalid for schedule fields on a webhook."""
    current = await _trigger(conn, actor, trigger_id)
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
    elif SCHEDULE_FIELDS & set(changes):
        fields = sorted(SCHEDULE_FIELDS & set(changes))
        raise Invalid(
            "A webhook has no schedule.", [Issue(name, "only for schedules") for name in fields]
        )
    workflow = await get_workflow(conn, actor, current["user_workflow_id"])
    values["inputs"] = Jsonb(_inputs(workflow, values["inputs"] or {}))
    cur = await conn.execute(query(Q, "update"), {**values, "id": trigger_id, "user_id": actor.id})
    return _out(await fetch_row(cur))


async def delete_trigger(conn: Conn, actor: User, trigger_id: UUID) -> None:
    """Delete one of the actor's triggers."""
    cur = await conn.execute(query(Q, "delete"), {"id": trigger_id, "user_id": actor.id})
    found(await cur.fetchone(), "The trigger")
