"""Retrying a statement when its connection broke (a restarted server, a terminated
backend): the pool hands out a fresh connection on the next try."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from flowdeck.db.types import Conn

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 5


async def with_connection(
    pool: AsyncConnectionPool[Conn], work: Callable[[Conn], Awaitable[T]]
) -> T:
    """Run `work` on a pooled connection, again on a new one if the connection broke.

    Only for work that is safe to repeat (the engine's guarded, idempotent writes).
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with pool.connection() as conn:
                return await work(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if attempt == ATTEMPTS:
                raise
            log.warning("database connection lost (%s); retrying (%d/%d)", exc, attempt, ATTEMPTS)
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")
