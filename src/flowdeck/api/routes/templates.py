"""The template catalog: browse and search for everyone, manage for admins."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.deps import ADMIN_ONLY, SIGNED_IN, ConnDep
from flowdeck.api.errors import ApiError, definition_invalid, not_found
from flowdeck.api.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page
from flowdeck.api.patch import NotNull
from flowdeck.api.timestamps import Timestamp
from flowdeck.db.queries import query
from flowdeck.definition.document import DefinitionError, validate_definition

router = APIRouter(
    route_class=BoundedRoute, prefix="/api/templates", tags=["templates"], dependencies=[SIGNED_IN]
)

Q = "templates"
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
DEFINITION_FIELDS = ("goal", "inputs", "conditions", "steps", "outputs")


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


def prefix_tsquery(text: str) -> str | None:
    """'upt chec' -> 'upt:* & chec:*': every word, as a prefix (only word characters pass)."""
    words = re.findall(r"\w+", text)
    return " & ".join(f"{word}:*" for word in words) or None


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
    sort: Literal["popularity", "name"] = "popularity",
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Browse the catalog: most used first (or by name), filtered and searched."""
    params: dict[str, Any] = {
        "category": category,
        "active": None if active == "all" else active == "true",
        "tsquery": prefix_tsquery(q) if q else None,
        "limit": limit + 1,
        "after_id": None,
        "after_count": None,
        "after_name": None,
    }
    if q and params["tsquery"] is None:
        return {"items": [], "next_cursor": None}
    if sort == "popularity":
        if cursor:
            params["after_count"], params["after_id"] = decode_cursor(cursor, int, str)
        key = ("usage_count", "id")
    else:
        if cursor:
            params["after_name"], params["after_id"] = decode_cursor(cursor, str, str)
        key = ("name", "id")
    cur = await conn.execute(query(Q, f"list_by_{sort}"), params)
    return page(await cur.fetchall(), limit, key)


@router.get("/categories", response_model=list[Category])
async def categories(conn: ConnDep) -> list[dict[str, Any]]:
    """Categories of active templates, with how many each has."""
    cur = await conn.execute(query(Q, "categories"))
    return await cur.fetchall()


async def fetch_template(conn: ConnDep, template_id: str) -> dict[str, Any]:
    cur = await conn.execute(query(Q, "get"), {"id": template_id})
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"The template {template_id!r}")
    return row


@router.get("/{template_id}", response_model=TemplateOut)
async def get_template(template_id: str, conn: ConnDep) -> dict[str, Any]:
    """One template with its full definition."""
    return await fetch_template(conn, template_id)


def _checked(document: dict[str, Any]) -> dict[str, Any]:
    """The template's columns, after its definition validates (422 with paths otherwise)."""
    try:
        validate_definition(
            {
                field: document[field]
                for field in DEFINITION_FIELDS
                if document.get(field) is not None
            }
        )
    except DefinitionError as error:
        raise definition_invalid(error, prefix="") from None
    return {
        **document,
        "inputs": Jsonb(document.get("inputs") or {}),
        "conditions": Jsonb(document.get("conditions") or []),
        "steps": Jsonb(document.get("steps") or []),
        "outputs": Jsonb(document.get("outputs") or {}),
    }


@router.post("", status_code=201, response_model=TemplateOut, dependencies=[ADMIN_ONLY])
async def create_template(body: TemplateIn, conn: ConnDep) -> dict[str, Any]:
    """Add a template to the catalog (admins)."""
    values = _checked(body.model_dump())
    cur = await conn.execute(query(Q, "create"), values)
    if await cur.fetchone() is None:
        raise ApiError(
            409, "template_exists", f"A template with the id {body.id!r} exists already."
        )
    return await fetch_template(conn, body.id)


@router.patch("/{template_id}", response_model=TemplateOut, dependencies=[ADMIN_ONLY])
async def update_template(
    template_id: str,
    body: TemplatePatch,
    conn: ConnDep,
) -> dict[str, Any]:
    """Change a template (admins); the merged definition is validated again."""
    async with conn.transaction():
        cur = await conn.execute(query(Q, "get_for_update"), {"id": template_id})
        current = await cur.fetchone()
        if current is None:
            raise not_found(f"The template {template_id!r}")
        merged = {**current, **body.model_dump(exclude_unset=True)}
        await conn.execute(query(Q, "update"), _checked(merged))
    return await fetch_template(conn, template_id)


@router.delete("/{template_id}", status_code=204, dependencies=[ADMIN_ONLY])
async def delete_template(template_id: str, conn: ConnDep) -> Response:
    """Delete a template (admins). Workflows made from it keep working, with no template.

    A template with direct executions keeps their history: it is deactivated
    instead, and the answer is 409 saying so.
    """
    async with conn.transaction():
        cur = await conn.execute(query(Q, "get_for_update"), {"id": template_id})
        if await cur.fetchone() is None:
            raise not_found(f"The template {template_id!r}")
        cur = await conn.execute(query(Q, "direct_executions"), {"id": template_id})
        row = await cur.fetchone()
        runs = row["count"] if row else 0
        if runs:
            await conn.execute(query(Q, "deactivate"), {"id": template_id})
        else:
            await conn.execute(query(Q, "delete"), {"id": template_id})
    if runs:
        raise ApiError(
            409,
            "template_in_use",
            f"The template {template_id!r} has {runs} direct execution(s), so it was deactivated "
            "instead of deleted; their history stays.",
        )
    return Response(status_code=204)
