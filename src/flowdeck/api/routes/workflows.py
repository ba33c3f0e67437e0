"""My workflows: create (from scratch, from a template, by import), list, read, change,
duplicate, export, delete. Another user's workflow is a 404, as if it did not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.pagination import Page
from flowdeck.api.patch import NotNull
from flowdeck.http.bodies import BoundedRoute, document_limits
from flowdeck.services import workflow_documents, workflows
from flowdeck.services.workflow_documents import ExportFormat, ImportDocument
from flowdeck.services.workflows import WorkflowQuery

router = APIRouter(route_class=BoundedRoute, tags=["workflows"])


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


@router.post("/api/workflows", status_code=201, response_model=WorkflowOut)
async def create_workflow(body: WorkflowIn, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Create a workflow from scratch; its definition is validated first."""
    return await workflows.create_workflow(conn, user, body.model_dump())


@router.post("/api/templates/{template_id}/workflows", status_code=201, response_model=WorkflowOut)
async def create_from_template(
    template_id: str, body: FromTemplate, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Make a workflow of a template: its definition is copied, the config checked
    against its declared inputs, and the template's usage_count goes up by one."""
    return await workflows.create_from_template(
        conn,
        user,
        template_id,
        name=body.name,
        description=body.description,
        category=body.category,
        config=body.config,
    )


@router.get("/api/workflows", response_model=Page[WorkflowSummary])
async def list_workflows(
    user: CurrentUser, conn: ConnDep, asked: Annotated[WorkflowQuery, Query()]
) -> dict[str, Any]:
    """My workflows, a page at a time (keyset pagination: follow next_cursor)."""
    return await workflows.list_workflows(conn, user, asked)


@router.get("/api/workflows/{workflow_id}", response_model=WorkflowOut)
async def get_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """One of my workflows, with its definition and config."""
    return await workflows.get_workflow(conn, user, workflow_id)


@router.patch("/api/workflows/{workflow_id}", response_model=WorkflowOut)
async def update_workflow(
    workflow_id: UUID, body: WorkflowPatch, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Change a workflow; a new definition or config is validated again."""
    changes = body.model_dump(exclude_unset=True)
    return await workflows.update_workflow(conn, user, workflow_id, changes)


@router.delete("/api/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete a workflow and, with it, its executions."""
    await workflows.delete_workflow(conn, user, workflow_id)
    return Response(status_code=204)


@router.post("/api/workflows/{workflow_id}/duplicate", status_code=201, response_model=WorkflowOut)
async def duplicate_workflow(workflow_id: UUID, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A copy named '<name> (copy)', with no history and not a favorite."""
    return await workflows.duplicate_workflow(conn, user, workflow_id)


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
    format: ExportFormat = "yaml",
) -> Response:
    """The workflow as a YAML or JSON document that import takes back."""
    workflow, text = await workflow_documents.export_workflow(conn, user, workflow_id, format)
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
    json_only = request.headers.get("content-type", "").startswith("application/json")
    return await workflow_documents.import_workflow(
        conn, user, await request.body(), json_only=json_only, limits=document_limits(request)
    )
