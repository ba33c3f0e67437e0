"""Maintenance: the periodic work every worker process also does, apart from running
executions — the rescuer (requeue executions whose lease expired, wake waiting ones
whose signal or child came unnoticed), retention (delete finished executions past
FLOWDECK_EXECUTION_RETENTION) and the scheduler (start what schedules made due).

Any number of processes may run it at once: each statement is guarded or takes rows
with SKIP LOCKED, so a rescue, a deletion or a schedule's fire happens once. `serve`
and `worker` compose it with a Worker (`Worker(..., maintenance=Maintenance(...))`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

from flowdeck.db.types import Conn, Pool
from flowdeck.engine import lifecycle
from flowdeck.engine.retention import delete_expired
from flowdeck.engine.scheduler import fire_due

if TYPE_CHECKING:  # the worker composes maintenance; only its settings' type is read here
    from flowdeck.engine.worker import WorkerSettings

log = logging.getLogger(__name__)


@dataclass
class Maintenance:
    pool: Pool
    interval: float = 5.0  # seconds between rounds of rescue and schedules
    retention: timedelta | None = timedelta(days=30)  # None: keep every execution
    retention_interval: float = 600.0
    crash_limit: int = 3  # crashes in a row without progress that end an execution

    @classmethod
    def beside(cls, pool: Pool, settings: WorkerSettings) -> Maintenance:
        """The maintenance a worker with `settings` runs beside its executions."""
        return cls(
            pool,
            interval=settings.rescue_interval,
            retention=settings.retention,
            retention_interval=settings.retention_interval,
            crash_limit=settings.crash_limit,
        )

    async def run(self) -> None:
        """Rounds until cancelled; a failed round is logged and tried again."""
        swept_at: float | None = None
        while True:
            if self.retention is not None:
                now = asyncio.get_running_loop().time()
                if swept_at is None or now - swept_at >= self.retention_interval:
                    swept_at = now
                    await self.sweep(self.retention)
            try:
                async with self.pool.connection() as conn:
                    await self.rescue(conn)
            except psycopg.Error as exc:
                log.warning("rescuer failed (%s); retrying", exc)
            try:
                async with self.pool.connection() as conn:
                    fired = await fire_due(conn, datetime.now(UTC))
                    if fired:
                        log.info("schedules started %d execution(s)", fired)
            except psycopg.Error as exc:
                log.warning("scheduler failed (%s); retrying", exc)
            await asyncio.sleep(self.interval)

    async def rescue(self, conn: Conn) -> None:
        """Requeue (or, at the crash limit, fail) executions whose lease expired, and
        wake the waiting ones that have what they wait for."""
        async with conn.transaction():
            rescued = await lifecycle.rescue(conn, self.crash_limit)
            await lifecycle.announce(conn, rescued)
        if rescued:
            log.warning("rescued %d execution(s) whose lease expired", len(rescued))
        async with conn.transaction():
            await lifecycle.wake_ready(conn)

    async def sweep(self, retention: timedelta) -> None:
        """Delete expired executions a batch at a time (every worker may; SKIP LOCKED)."""
        try:
            async with self.pool.connection() as conn:
                while (deleted := await delete_expired(conn, retention)) > 0:
                    log.info("retention: deleted %d finished execution(s)", deleted)
        except psycopg.Error as exc:
            log.warning("retention sweep failed (%s); will try again", exc)
