"""My workflows: create (from scratch, from a template, by import), list, read, change,
duplicate, export, delete. Another user's workflow is a 404, as if it did not exist."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, ValidationError

from flowdeck.api.bodies import BoundedRoute, document_limits
from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.errors import (
    ApiError,
    definition_invalid,
    document_too_complex,
    invalid,
    location_path,
    not_found,
    prefixed_path,
    unstorable,
)
from flowdeck.api.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page
from flowdeck.api.patch import NotNull
from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, InputSpec, Issue
from flowdeck.documents import (
    DocumentTooComplexError,
    MalformedDocumentError,
    UnstorableValueError,
)
from flowdeck.users.service import User
from flowdeck.workflows import documents

router = APIRouter(route_class=BoundedRoute, tags=["workflows"])

Q = "workflows"


class WorkflowSummary(BaseModel):
    id: UUID
    template_id: str | None
    name: str
    description: str | None
    category: str | None
    is_active: bool
    is_favorite: bool
    last_used: datetime | None
    execution_count: int
    created_at: datetime
    updated_at: datetime


class WorkflowOut(WorkflowSummary):
    definition: dict[str, Any]
    config: dict[str, Any]


class WorkflowIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    category: str | None = Field(None, max_length=100)
    definition: dict[str, Any]
    config: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    is_favorite: bool = False


class WorkflowPatch(BaseModel):
    name: NotNull[str] = Field(None, min_length=1, max_length=255)
    description: str | None = None
    category: str | None = Field(None, max_length=100)
    definition: NotNull[dict[str, Any]] = None
    config: NotNull[dict[str, Any]] = None
    is_active: NotNull[bool] = None
    is_favorite: NotNull[bool] = None


class FromTemplate(BaseModel):
    name: str | None = Field(
        None, min_length=1, max_length=255, description="Default: the template's."
    )
    description: str | None = Field(None, description="Default: the template's goal.")
    category: str | None = Field(None, max_length=100, description="Default: the template's.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Values for the template's declared inputs."
    )


def _checked(definition: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Validate a definition and a config together, reporting every problem at once."""
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
    return config


async def _insert(conn: Conn, user: User, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        query(Q, "create"),
        {
            "user_id": user.id,
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


async def _fetch(conn: Conn, user: User, workflow_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": workflow_id, "user_id": user.id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("The workflow")
    return row


@router.post("/api/workflows", status_code=201, response_model=WorkflowOut)
async def create_workflow(body: WorkflowIn, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Create a workflow from scratch; its definition is validated first."""
    values = body.model_dump()
    values["config"] = _checked(body.definition, body.config)
    return await _insert(conn, user, values)


@router.post("/api/templates/{template_id}/workflows", status_code=201, response_model=WorkflowOut)
async def create_from_template(
    template_id: str, body: FromTemplate, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Make a workflow of a template: its definition is copied, the config checked
    against its declared inputs, and the template's usage_count goes up by one."""
    cur = await conn.execute(query("templates", "get"), {"id": template_id})
    template = await cur.fetchone()
    if template is None:
        raise not_found(f"The template {template_id!r}")
    definition = _definition_of(template)
    config = _checked(definition, body.config)
    async with conn.transaction():
        cur = await conn.execute(query("templates", "take_for_workflow"), {"id": template_id})
        taken = await cur.fetchone()
        if taken is None:
            raise ApiError(409, "template_inactive", f"The template {template_id!r} is not active.")
        return await _insert(
            conn,
            user,
            {
                "template_id": template_id,
                "name": body.name or taken["name"],
                "description": body.description if body.description is not None else taken["goal"],
                "category": body.category or taken["category"],
                "definition": _definition_of(taken),
                "config": config,
            },
        )


def _definition_of(template: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "goal": template["goal"],
        "inputs": template["inputs"] or {},
        "conditions": template["conditions"] or [],
        "steps": template["steps"],
        "outputs": template["outputs"] or {},
    }
    return {key: value for key, value in definition.items() if value is not None}


@router.get("/api/workflows", response_model=Page[WorkflowSummary])
async def list_workflows(
    user: CurrentUser,
    conn: ConnDep,
    category: str | None = None,
    favorite: bool | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(description="Text in the name or description.")] = None,
    sort: Literal["updated_at", "name", "last_used"] = "updated_at",
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """My workflows, a page at a time (keyset pagination: follow next_cursor)."""
    params: dict[str, Any] = {
        "user_id": user.id,
        "category": category,
        "favorite": favorite,
        "active": active,
        "pattern": _like_pattern(q) if q else None,
        "limit": limit + 1,
        "after_id": None,
        "after_updated": None,
        "after_name": None,
        "after_last_used": None,
    }
    sort_field = {
        "updated_at": "after_updated",
        "name": "after_name",
        "last_used": "after_last_used",
    }
    if cursor:
        first = str if sort == "name" else datetime.fromisoformat
        params[sort_field[sort]], params["after_id"] = decode_cursor(cursor, first, UUID)
    name = {
        "updated_at": "list_by_updated",
        "name": "list_by_name",
        "last_used": "list_by_last_used",
    }
    cur = await conn.execute(query(Q, name[sort]), params)
    return page(await cur.fetchall(), limit, (sort, "id"))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("/api/workflows/{workflow_id}", response_model=WorkflowOut)
async def get_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One of my workflows, with its definition and config."""
    return await _fetch(conn, user, workflow_id)


@router.patch("/api/workflows/{workflow_id}", response_model=WorkflowOut)
async def update_workflow(
    workflow_id: UUID, body: WorkflowPatch, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Change a workflow; a new definition or config is validated again."""
    changes = body.model_dump(exclude_unset=True)
    async with conn.transaction():
        cur = await conn.execute(
            query(Q, "get_for_update"), {"id": workflow_id, "user_id": user.id}
        )
        current = await cur.fetchone()
        if current is None:
            raise not_found("The workflow")
        merged = {**current, **changes}
        if "definition" in changes or "config" in changes:
            merged["config"] = _checked(merged["definition"], merged["config"] or {})
        cur = await conn.execute(
            query(Q, "update"),
            {
                **merged,
                "definition": Jsonb(merged["definition"]),
                "config": Jsonb(merged["config"] or {}),
            },
        )
        return await fetch_row(cur)


@router.delete("/api/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete a workflow and, with it, its executions."""
    cur = await conn.execute(query(Q, "delete"), {"id": workflow_id, "user_id": user.id})
    if await cur.fetchone() is None:
        raise not_found("The workflow")
    return Response(status_code=204)


@router.post("/api/workflows/{workflow_id}/duplicate", status_code=201, response_model=WorkflowOut)
async def duplicate_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A copy named '<name> (copy)', with no history and not a favorite."""
    original = await _fetch(conn, user, workflow_id)
    return await _insert(
        conn,
        user,
        {
            **original,
            "name": _copy_name(original["name"]),
            "is_favorite": False,
        },
    )


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 255 - len(suffix)] + suffix


class ImportDocument(BaseModel):
    """What export gives and import takes back."""

    kind: Literal["flowdeck/workflow"] = "flowdeck/workflow"
    version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    category: str | None = Field(None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict)
    definition: dict[str, Any]


@router.get(
    "/api/workflows/{workflow_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The export document, as an attachment.",
            "content": {
                "application/yaml": {"schema": ImportDocument.model_json_schema()},
                "application/json": {"schema": ImportDocument.model_json_schema()},
            },
        }
    },
)
async def export_workflow(
    workflow_id: UUID,
    user: CurrentUser,
    conn: ConnDep,
    format: Literal["yaml", "json"] = "yaml",
) -> Response:
    """The workflow as a YAML or JSON document that import takes back."""
    workflow = await _fetch(conn, user, workflow_id)
    text = documents.render_export(documents.export_document(workflow), format)
    media = "application/json" if format == "json" else "application/yaml"
    return Response(
        text,
        media_type=media,
        headers={"Content-Disposition": attachment(f"{_slug(workflow['name'])}.{format}")},
    )


def attachment(filename: str) -> str:
    """A Content-Disposition for `filename` as RFC 6266 has it: an ASCII `filename` for
    old clients, and the name itself in UTF-8 as `filename*` (headers are Latin-1, so
    a name such as "Übersicht 名前" cannot go into them as it is)."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_")
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _slug(name: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return "-".join(part for part in slug.split("-") if part)[:80] or "workflow"


@router.post(
    "/api/workflows/import",
    status_code=201,
    response_model=WorkflowOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/yaml": {"schema": ImportDocument.model_json_schema()},
                "application/json": {"schema": ImportDocument.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def import_workflow(request: Request, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Create a workflow from an exported document (YAML or JSON body)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_document", "The document is not UTF-8 text.") from None
    json_only = request.headers.get("content-type", "").startswith("application/json")
    try:
        # In a thread: YAML is parsed in Python, and a large document (within the limits)
        # takes long enough that other requests would wait for it on the event loop.
        data = await asyncio.to_thread(
            documents.parse_text, text, json_only=json_only, limits=document_limits(request)
        )
    except MalformedDocumentError as exc:
        raise ApiError(400, "malformed_document", str(exc)) from None
    except DocumentTooComplexError as exc:
        raise document_too_complex(exc) from None
    except UnstorableValueError as exc:
        raise unstorable(exc.path, exc.reason) from None
    if not isinstance(data, dict):
        raise invalid(
            "The document must be a mapping with name and definition.",
            [Issue("", "expected a mapping (an object)")],
        )
    try:
        document = ImportDocument.model_validate(data)
    except ValidationError as exc:
        raise invalid(
            "The document is not valid.",
            [Issue(location_path(e["loc"]), e["msg"]) for e in exc.errors()],
        ) from None
    values = document.model_dump()
    values["config"] = _checked(document.definition, document.config)
    return await _insert(conn, user, values)
