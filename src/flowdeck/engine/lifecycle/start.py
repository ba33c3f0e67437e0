"""start: nothing -> queued. Check the inputs, snapshot the definition, queue, count the
use: all in one transaction, with the NOTIFY that wakes the workers delivered at commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import coerce_inputs, validate_definition
from flowdeck.definition.durations import parse_duration
from flowdeck.errors import FlowdeckError

Q = "executions"
TRIGGERS = frozenset({"manual", "api", "schedule", "webhook", "workflow"})


class NotStartable(FlowdeckError):
    """The workflow or template is missing, not the user's, or not active."""

    def __init__(self, message: str, *, code: str = "not_found") -> None:
        super().__init__(message)
        self.code = code


async def start(
    conn: Conn,
    user_id: UUID,
    *,
    workflow_id: UUID | None = None,
    template_id: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    trigger: str = "api",
    idempotency_key: str | None = None,
    parent_execution_id: UUID | None = None,
    retry_of: UUID | None = None,
    priority: int = 0,
) -> tuple[UUID, bool]:
    """Queue an execution of a workflow (or, directly, of a template).

    Returns (execution id, created): with an idempotency key already used by this user,
    the existing execution's id and False. Raises DefinitionError for bad inputs and
    NotStartable when there is nothing (of this user's) to run.
    """
    source = await _source(conn, user_id, workflow_id, template_id)
    definition = source["definition"]
    declared = validate_definition(definition).inputs
    given = {**(source.get("config") or {}), **(inputs or {})}
    checked = coerce_inputs(declared, given)
    timeout = definition.get("timeout")
    async with conn.transaction():
        cur = await conn.execute(
            query(Q, "insert"),
            {
                "user_id": user_id,
                "user_workflow_id": workflow_id,
                "template_id": template_id if workflow_id is None else None,
                "trigger": trigger,
                "definition": Jsonb(definition),
                "inputs": Jsonb(checked),
                "config": Jsonb(source.get("config") or {}),
                "priority": priority,
                "idempotency_key": idempotency_key,
                "parent_execution_id": parent_execution_id,
                "retry_of": retry_of,
                "timeout": parse_duration(timeout) if timeout else None,
            },
        )
        row = await cur.fetchone()
        if row is None:  # the key was used: the same request, answered the same way
            cur = await conn.execute(
                query(Q, "by_idempotency_key"), {"user_id": user_id, "key": idempotency_key}
            )
            return (await fetch_row(cur))["id"], False
        if workflow_id is not None:
            await conn.execute(query(Q, "count_workflow_use"), {"id": workflow_id})
        else:
            await conn.execute(query(Q, "count_template_use"), {"id": template_id})
        await conn.execute(query(Q, "notify_queued"))
    execution_id: UUID = row["id"]
    return execution_id, True


async def _source(
    conn: Conn, user_id: UUID, workflow_id: UUID | None, template_id: str | None
) -> dict[str, Any]:
    if workflow_id is not None:
        cur = await conn.execute(query("workflows", "get"), {"id": workflow_id, "user_id": user_id})
        workflow = await cur.fetchone()
        if workflow is None:
            raise NotStartable("The workflow was not found.")
        if not workflow["is_active"]:
            raise NotStartable(
                "The workflow is not active; activate it to run it.", code="workflow_inactive"
            )
        return dict(workflow)
    cur = await conn.execute(query("templates", "get"), {"id": template_id})
    template = await cur.fetchone()
    if template is None:
        raise NotStartable(f"The template {template_id!r} was not found.")
    if not template["is_active"]:
        raise NotStartable(f"The template {template_id!r} is not active.", code="template_inactive")
    definition = {
        key: template[key]
        for key in ("goal", "inputs", "conditions", "steps", "outputs")
        if template[key] is not None
    }
    return {"definition": definition, "config": {}}
