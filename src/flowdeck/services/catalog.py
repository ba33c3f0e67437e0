"""The template catalog: browse and search for everyone signed in, change for admins.

A template with direct executions is deactivated rather than deleted (Conflict
template_in_use, saying so), so their history stays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from psycopg.types.json import Jsonb

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, validate_definition
from flowdeck.services.errors import Conflict, definition_invalid, found
from flowdeck.services.paging import DEFAULT_LIMIT, decode_cursor, page
from flowdeck.services.users import require_admin
from flowdeck.users.service import User

Q = "templates"
DEFINITION_FIELDS = ("goal", "inputs", "conditions", "steps", "outputs")
TemplateSort = Literal["popularity", "name"]


def prefix_tsquery(text: str) -> str | None:
    """'upt chec' -> 'upt:* & chec:*': every word, as a prefix (only word characters pass)."""
    words = re.findall(r"\w+", text)
    return " & ".join(f"{word}:*" for word in words) or None


async def list_templates(
    conn: Conn,
    *,
    category: str | None = None,
    q: str | None = None,
    active: bool | None = True,
    sort: TemplateSort = "popularity",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the catalog: most used first (or by name), filtered and searched;
    `active` None lists every template."""
    params: dict[str, Any] = {
        "category": category,
        "active": active,
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


async def categories(conn: Conn) -> list[dict[str, Any]]:
    """Categories of active templates, with how many each has."""
    cur = await conn.execute(query(Q, "categories"))
    return await cur.fetchall()


async def get_template(conn: Conn, template_id: str) -> dict[str, Any]:
    """One template with its full definition; NotFound."""
    cur = await conn.execute(query(Q, "get"), {"id": template_id})
    return found(await cur.fetchone(), f"The template {template_id!r}")


def _checked(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template's columns, after its definition validates (Invalid with paths)."""
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


async def create_template(conn: Conn, actor: User, values: Mapping[str, Any]) -> dict[str, Any]:
    """Add a template (admins): `values` has every column of TemplateIn; Conflict
    template_exists for an id taken."""
    require_admin(actor)
    cur = await conn.execute(query(Q, "create"), _checked(values))
    if await cur.fetchone() is None:
        raise Conflict(
            "template_exists", f"A template with the id {values['id']!r} exists already."
        )
    return await get_template(conn, values["id"])


async def update_template(
    conn: Conn, actor: User, template_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a template (admins): `changes` holds only the fields sent; the merged
    definition is validated again."""
    require_admin(actor)
    async with conn.transaction():
        cur = await conn.execute(query(Q, "get_for_update"), {"id": template_id})
        current = found(await cur.fetchone(), f"The template {template_id!r}")
        await conn.execute(query(Q, "update"), _checked({**current, **changes}))
    return await get_template(conn, template_id)


async def delete_template(conn: Conn, actor: User, template_id: str) -> None:
    """Delete a template (admins). Workflows made from it keep working, with no template.

    A template with direct executions keeps their history: it is deactivated instead,
    and Conflict template_in_use says so.
    """
    require_admin(actor)
    async with conn.transaction():
        cur = await conn.execute(query(Q, "get_for_update"), {"id": template_id})
        found(await cur.fetchone(), f"The template {template_id!r}")
        cur = await conn.execute(query(Q, "direct_executions"), {"id": template_id})
        row = await cur.fetchone()
        runs = row["count"] if row else 0
        if runs:
            await conn.execute(query(Q, "deactivate"), {"id": template_id})
        else:
            await conn.execute(query(Q, "delete"), {"id": template_id})
    if runs:
        raise Conflict(
            "template_in_use",
            f"The template {template_id!r} has {runs} direct execution(s), so it was deactivated "
            "instead of deleted; their history stays.",
        )
