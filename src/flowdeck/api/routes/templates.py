"""The template catalog: browse and search for everyone, manage for admins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from flowdeck.api.deps import ADMIN_ONLY, SIGNED_IN, ConnDep, CurrentUser
from flowdeck.api.pagination import DEFAULT_LIMIT, Limit, Page
from flowdeck.api.patch import NotNull
from flowdeck.api.timestamps import Timestamp
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import catalog
from flowdeck.services.catalog import TemplateSort

router = APIRouter(
    route_class=BoundedRoute, prefix="/api/templates", tags=["templates"], dependencies=[SIGNED_IN]
)

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class TemplateSummary(BaseModel):
    id: str
    name: str
    goal: str | None
    category: str | None
    inputs: dict[str, Any]
    is_active: bool
    builtin: bool
    usage_count: int
    created_at: Timestamp
    updated_at: Timestamp


class TemplateOut(TemplateSummary):
    conditions: list[Any] | None
    steps: list[Any]
    outputs: dict[str, Any] | None


class Category(BaseModel):
    category: str
    count: int


class TemplateIn(BaseModel):
    id: str = Field(pattern=SLUG, max_length=255, description="A slug, e.g. 'uptime-check'.")
    name: str = Field(min_length=1, max_length=255)
    category: str | None = Field(None, max_length=100)
    goal: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    conditions: list[Any] = Field(default_factory=list)
    steps: list[Any]
    outputs: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class TemplatePatch(BaseModel):
    name: NotNull[str] = Field(None, min_length=1, max_length=255)
    category: str | None = Field(None, max_length=100)
    goal: str | None = None
    inputs: NotNull[dict[str, Any]] = None
    conditions: list[Any] | None = None
    steps: NotNull[list[Any]] = None
    outputs: dict[str, Any] | None = None
    is_active: NotNull[bool] = None


@router.get("", response_model=Page[TemplateSummary])
async def list_templates(
    conn: ConnDep,
    category: str | None = None,
    q: Annotated[
        str | None, Query(description="Words to search in name, goal and category.")
    ] = None,
    active: Annotated[
        Literal["true", "false", "all"], Query(description="Which templates.")
    ] = "true",
    sort: TemplateSort = "popularity",
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Browse the catalog: most used first (or by name), filtered and searched."""
    return await catalog.list_templates(
        conn,
        category=category,
        q=q,
        active=None if active == "all" else active == "true",
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.get("/categories", response_model=list[Category])
async def categories(conn: ConnDep) -> list[dict[str, Any]]:
    """Categories of active templates, with how many each has."""
    return await catalog.categories(conn)


@router.get("/{template_id}", response_model=TemplateOut)
async def get_template(template_id: str, conn: ConnDep) -> dict[str, Any]:
    """One template with its full definition."""
    return await catalog.get_template(conn, template_id)


@router.post("", status_code=201, response_model=TemplateOut, dependencies=[ADMIN_ONLY])
async def create_template(body: TemplateIn, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Add a template to the catalog (admins)."""
    return await catalog.create_template(conn, user, body.model_dump())


@router.patch("/{template_id}", response_model=TemplateOut, dependencies=[ADMIN_ONLY])
async def update_template(
    template_id: str, body: TemplatePatch, user: CurrentUser, conn: ConnDep
) -> dict[str, Any]:
    """Change a template (admins); the merged definition is validated again."""
    changes = body.model_dump(exclude_unset=True)
    return await catalog.update_template(conn, user, template_id, changes)


@router.delete("/{template_id}", status_code=204, dependencies=[ADMIN_ONLY])
async def delete_template(template_id: str, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete a template (admins). Workflows made from it keep working, with no template.

    A template with direct executions keeps their history: it is deactivated
    instead, and the answer is 409 saying so.
    """
    await catalog.delete_template(conn, user, template_id)
    return Response(status_code=204)
