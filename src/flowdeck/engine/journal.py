"""The database side of the runner: recorded steps in, step results out, guarded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from flowdeck.db.queries import query
from flowdeck.db.retry import with_connection
from flowdeck.engine.runner import Interrupted, StepResult
from flowdeck.users.service import Conn

Q = "executions"


async def recorded_steps(conn: Conn, execution_id: UUID) -> dict[str, StepResult]:
    """What earlier attempts of this execution recorded, by step path."""
    cur = await conn.execute(query(Q, "recorded_steps"), {"id": execution_id})
    results: dict[str, StepResult] = {}
    for row in await cur.fetchall():
        elapsed = 0.0
        if row["started_at"] and row["finished_at"]:
            elapsed = round((row["finished_at"] - row["started_at"]).total_seconds() * 1000, 1)
        results[row["path"]] = StepResult(
            status=row["status"],
            output=row["output"],
            error=row["error"],
            attempts=row["attempt"],
            elapsed_ms=elapsed,
            started_at=row["started_at"],
        )
    return results


class Journal:
    """Records one execution's steps while this worker holds it (the StepStore)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        execution_id: UUID,
        worker_id: str,
        execution_attempt: int,
    ) -> None:
        self.pool = pool
        self.execution_id = execution_id
        self.worker_id = worker_id
        self.execution_attempt = execution_attempt

    def _guard(self) -> dict[str, Any]:
        return {
            "id": self.execution_id,
            "worker_id": self.worker_id,
            "execution_attempt": self.execution_attempt,
        }

    async def begin(self, path: str, step: Mapping[str, Any], attempt: int) -> None:
        await self._write(
            "step_begin",
            {
                **self._guard(),
                "path": path,
                "step_id": step["id"],
                "step_type": step["type"],
                "attempt": attempt,
            },
        )

    async def finish(self, path: str, step: Mapping[str, Any], result: StepResult) -> None:
        await self._write(
            "step_finish",
            {
                **self._guard(),
                "path": path,
                "step_id": step["id"],
                "step_type": step["type"],
                "status": result.status,
                "attempt": result.attempts,
                "output": Jsonb(result.output),
                "error": Jsonb(result.error) if result.error is not None else None,
                "logs": Jsonb(result.logs),
                "started_at": result.started_at,
            },
        )

    async def _write(self, name: str, params: dict[str, Any]) -> None:
        """A guarded step write (retried on a new connection if the old one broke)."""

        async def write(conn: Conn) -> bool:
            cur = await conn.execute(query(Q, name), params)
            return await cur.fetchone() is not None

        if not await with_connection(self.pool, write):
            await with_connection(self.pool, self._interrupted)

    async def _interrupted(self, conn: Conn) -> bool:
        cur = await conn.execute(query(Q, "why_interrupted"), {"id": self.execution_id})
        row = await cur.fetchone()
        if row is not None and row["cancel_requested"] and row["status"] == "running":
            raise Interrupted("cancelled")
        raise Interrupted("lease_lost")
