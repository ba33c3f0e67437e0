"""Retention: finished executions older than FLOWDECK_EXECUTION_RETENTION are deleted,
in batches, by the workers' maintenance loop."""

from __future__ import annotations

from datetime import timedelta

from flowdeck.db.queries import query
from flowdeck.db.types import Conn

BATCH = 1000


async def delete_expired(conn: Conn, retention: timedelta, *, batch: int = BATCH) -> int:
    """Delete up to `batch` expired executions; return how many went."""
    cur = await conn.execute(
        query("history", "delete_expired"), {"retention": retention, "batch": batch}
    )
    return cur.rowcount
