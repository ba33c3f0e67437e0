"""My secrets: names are listed, values are written (sealed) and never read back."""

from __future__ import annotations

from typing import Any

from flowdeck.db.types import Conn
from flowdeck.services.errors import NotFound
from flowdeck.users.service import User
from flowdeck.vault import store
from flowdeck.vault.box import SecretBox


async def list_secrets(conn: Conn, actor: User) -> list[dict[str, Any]]:
    """The names of the actor's secrets, with when they were stored (never the values)."""
    return await store.list_secrets(conn, actor.id)


async def put_secret(
    conn: Conn, actor: User, box: SecretBox, name: str, value: str
) -> dict[str, Any]:
    """Store a secret of the actor's, or replace its value; the row says `created`."""
    return await store.put_secret(conn, box, actor.id, name, value)


async def delete_secret(conn: Conn, actor: User, name: str) -> None:
    """Delete one of the actor's secrets; NotFound when there is none of that name."""
    if not await store.delete_secret(conn, actor.id, name):
        raise NotFound.of("The secret")
