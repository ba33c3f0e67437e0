"""Waiting for executions to finish, on NOTIFY flowdeck_finished (sent at each end)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import psycopg
from psycopg import AsyncConnection

log = logging.getLogger(__name__)


class FinishedListener:
    """One LISTEN connection per process, shared by every request that waits."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._listening = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(
                    self.database_url, autocommit=True
                ) as conn:
                    await conn.execute("LISTEN flowdeck_finished")
                    self._listening.set()
                    async for notice in conn.notifies():
                        for future in self._waiters.pop(notice.payload, set()):
                            if not future.done():
                                future.set_result(None)
            except psycopg.Error as exc:
                self._listening.clear()
                log.warning("listening for finished executions failed (%s); reconnecting", exc)
                await asyncio.sleep(1)

    async def wait(
        self,
        execution_id: UUID,
        within: float,
        is_final: Callable[[], Awaitable[bool]],
    ) -> bool:
        """Wait until the execution ends or `within` seconds pass; True when it ended."""
        key = str(execution_id)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, set()).add(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), within)
            # It may have ended before we were listening: look once, then wait.
            if await is_final():
                return True
            try:
                await asyncio.wait_for(future, within)
            except TimeoutError:
                return await is_final()
            return True
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    self._waiters.pop(key, None)
