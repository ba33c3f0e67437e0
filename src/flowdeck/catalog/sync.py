"""`flowdeck templates sync`: upsert the built-in templates into workflow_templates."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.types.json import Jsonb

from flowdeck.catalog.loader import BuiltinTemplate, load_builtin_templates
from flowdeck.db.queries import query
from flowdeck.db.types import Conn


@dataclass(frozen=True)
class SyncResult:
    inserted: list[str]
    updated: list[str]
    unchanged: list[str]


async def sync_builtin_templates(
    conn: Conn, templates: list[BuiltinTemplate] | None = None
) -> SyncResult:
    """Insert new built-ins, update changed ones; usage counts and is_active are kept."""
    templates = templates if templates is not None else load_builtin_templates()
    inserted: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    async with conn.transaction():
        for template in templates:
            cur = await conn.execute(
                query("templates", "sync_builtin"),
                {
                    "id": template.id,
                    "name": template.name,
                    "goal": template.goal,
                    "category": template.category,
                    "steps": Jsonb(template.steps),
                    "conditions": Jsonb(template.conditions),
                    "outputs": Jsonb(template.outputs),
                    "inputs": Jsonb(template.inputs),
                },
            )
            row = await cur.fetchone()
            if row is None:
                unchanged.append(template.id)
            elif row["inserted"]:
                inserted.append(template.id)
            else:
                updated.append(template.id)
    return SyncResult(inserted, updated, unchanged)
