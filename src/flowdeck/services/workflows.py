"""My workflows: create (from scratch, from a template, by import), list, read, change,
duplicate, export, delete. Another user's workflow is NotFound, as if it did not exist;
every definition and config is validated before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, InputSpec, Issue
from flowdeck.services.errors import Conflict, definition_invalid, found, prefixed_path
from flowdeck.services.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page
from flowdeck.users.service import User
from flowdeck.workflows import documents

Q = "workflows"
WorkflowSort = Literal["updated_at", "name", "last_used"]
# Where each sort's cursor goes, and the query that lists by it.
SORT_AFTER = {"updated_at": "after_updated", "name": "after_name", "last_used": "after_last_used"}
SORT_QUERY = {
    "updated_at": "list_by_updated",
    "name": "list_by_name",
    "last_used": "list_by_last_used",
}


def checked_config(definition: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a definition and a config together, reporting every problem at once
    (Invalid, paths from the document's root); the config with its values coerced."""
    issues: list[Issue] = []
    declared: dict[str, InputSpec] = {}
    try:
        declared = documents.check_definition(definition)
    except DefinitionError as error:
        issues.extend(Issue(prefixed_path("definition", i.path), i.message) for i in error.issues)
    try:
        config = documents.check_config(declared, config) if not issues else config
    except DefinitionError as error:
        issues.extend(error.issues)
    if issues:
        raise definition_invalid(DefinitionError(issues), prefix="")
    return dict(config)


async def insert(conn: Conn, actor: User, values: Mapping[str, Any]) -> dict[str, Any]:
    """Store a workflow of the actor's, already checked (`checked_config`)."""
    cur = await conn.execute(
        query(Q, "create"),
        {
            "user_id": actor.id,
            "template_id": values.get("template_id"),
            "name": values["name"],
            "description": values.get("description"),
            "category": values.get("category"),
            "definition": Jsonb(values["definition"]),
            "config": Jsonb(values.get("config") or {}),
            "is_active": values.get("is_active", True),
            "is_favorite": values.get("is_favorite", False),
        },
    )
    return await fetch_row(cur)


async def get_workflow(conn: Conn, actor: User, workflow_id: UUID) -> dict[str, Any]:
    """One of the actor's workflows, with its definition and config; NotFound."""
    cur = await conn.execute(query(Q, "get"), {"id": workflow_id, "user_id": actor.id})
    return found(await cur.fetchone(), "The workflow")


async def create_workflow(conn: Conn, actor: User, values: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow from scratch (the columns of WorkflowIn); its definition validated first."""
    config = checked_config(values["definition"], values.get("config") or {})
    return await insert(conn, actor, {**values, "config": config})


async def create_from_template(
    conn: Conn,
    actor: User,
    template_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Make a workflow of a template: its definition is copied, the config checked
    against its declared inputs, and the template's usage_count goes up by one.
    NotFound for no such template, Conflict template_inactive for an inactive one."""
    cur = await conn.execute(query("templates", "get"), {"id": template_id})
    template = found(await cur.fetchone(), f"The template {template_id!r}")
    checked = checked_config(definition_of(template), config or {})
    async with conn.transaction():
        cur = await conn.execute(query("templates", "take_for_workflow"), {"id": template_id})
        taken = await cur.fetchone()
        if taken is None:
            raise Conflict("template_inactive", f"The template {template_id!r} is not active.")
        return await insert(
            conn,
            actor,
            {
                "template_id": template_id,
                "name": name or taken["name"],
                "description": description if description is not None else taken["goal"],
                "category": category or taken["category"],
                "definition": definition_of(taken),
                "config": checked,
            },
        )


def definition_of(template: Mapping[str, Any]) -> dict[str, Any]:
    """A template's columns as a workflow definition."""
    definition: dict[str, Any] = {
        "goal": template["goal"],
        "inputs": template["inputs"] or {},
        "conditions": template["conditions"] or [],
        "steps": template["steps"],
        "outputs": template["outputs"] or {},
    }
    return {key: value for key, value in definition.items() if value is not None}


class WorkflowQuery(BaseModel):
    """Which of the actor's workflows to list, in which order (the API's query parameters)."""

    category: str | None = None
    favorite: bool | None = None
    active: bool | None = None
    q: Annotated[str | None, Field(description="Text in the name or description.")] = None
    sort: WorkflowSort = "updated_at"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


async def list_workflows(conn: Conn, actor: User, asked: WorkflowQuery) -> dict[str, Any]:
    """A page of the actor's workflows (keyset pagination: follow next_cursor)."""
    sort, cursor, limit = asked.sort, asked.cursor, asked.limit
    params: dict[str, Any] = {
        "user_id": actor.id,
        "category": asked.category,
        "favorite": asked.favorite,
        "active": asked.active,
        "pattern": _like_pattern(asked.q) if asked.q else None,
        "limit": limit + 1,
        "after_id": None,
        "after_updated": None,
        "after_name": None,
        "after_last_used": None,
    }
    if cursor:
        first = str if sort == "name" else datetime.fromisoformat
        params[SORT_AFTER[sort]], params["after_id"] = decode_cursor(cursor, first, UUID)
    cur = await conn.execute(query(Q, SORT_QUERY[sort]), params)
    return page(await cur.fetchall(), limit, (sort, "id"))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def update_workflow(
    conn: Conn, actor: User, workflow_id: UUID, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a workflow (`changes`: only the fields to change); a new definition or
    config is validated again."""
    async with conn.transaction():
        cur = await conn.execute(
            query(Q, "get_for_update"), {"id": workflow_id, "user_id": actor.id}
        )
        current = found(await cur.fetchone(), "The workflow")
        merged = {**current, **changes}
        if "definition" in changes or "config" in changes:
            merged["config"] = checked_config(merged["definition"], merged["config"] or {})
        cur = await conn.execute(
            query(Q, "update"),
            {
                **merged,
                "definition": Jsonb(merged["definition"]),
                "config": Jsonb(merged["config"] or {}),
            },
        )
        return await fetch_row(cur)


async def delete_workflow(conn: Conn, actor: User, workflow_id: UUID) -> None:
    """Delete a workflow and, with it, its executions."""
    cur = await conn.execute(query(Q, "delete"), {"id": workflow_id, "user_id": actor.id})
    found(await cur.fetchone(), "The workflow")


async def duplicate_workflow(conn: Conn, actor: User, workflow_id: UUID) -> dict[str, Any]:
    """A copy named '<name> (copy)', with no history and not a favorite."""
    original = await get_workflow(conn, actor, workflow_id)
    return await insert(
        conn, actor, {**original, "name": _copy_name(original["name"]), "is_favorite": False}
    )


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 255 - len(suffix)] + suffix


async def last_runs(conn: Conn, actor: User, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The latest execution of each of these workflows of the actor's, by workflow id."""
    cur = await conn.execute(query("web", "last_runs"), {"user_id": actor.id, "ids": ids})
    return {row["user_workflow_id"]: row for row in await cur.fetchall()}


async def categories(conn: Conn, actor: User) -> list[str]:
    """The categories the actor's workflows use."""
    cur = await conn.execute(query("web", "workflow_categories"), {"user_id": actor.id})
    return [row["category"] for row in await cur.fetchall()]
