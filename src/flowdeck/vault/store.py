"""Secrets in the database: names in the clear, values sealed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.vault.box import SecretBox

Q = "secrets"


async def list_secrets(conn: Conn, user_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(query(Q, "list"), {"user_id": user_id})
    return await cur.fetchall()


async def put_secret(
    conn: Conn, box: SecretBox, user_id: UUID, name: str, value: str
) -> dict[str, Any]:
    cur = await conn.execute(
        query(Q, "put"), {"user_id": user_id, "name": name, "value": box.seal(value)}
    )
    return await fetch_row(cur)


async def delete_secret(conn: Conn, user_id: UUID, name: str) -> bool:
    cur = await conn.execute(query(Q, "delete"), {"user_id": user_id, "name": name})
    return await cur.fetchone() is not None


async def secret_values(conn: Conn, box: SecretBox, user_id: UUID) -> dict[str, str]:
    """Every secret of a user, decrypted (for the process that runs their execution)."""
    cur = await conn.execute(query(Q, "values"), {"user_id": user_id})
    return {
        row["name"]: box.open(row["value_encrypted"], row["name"]) for row in await cur.fetchall()
    }
