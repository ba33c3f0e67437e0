"""The database side of the runner: recorded steps in, step results out, guarded; and
what durable steps need (signals, child executions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from flowdeck.db.queries import query
from flowdeck.db.retry import with_connection
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError
from flowdeck.engine import lifecycle
from flowdeck.engine.runner import Interrupted, StepResult
from flowdeck.engine.steps.base import Child, StepError
from flowdeck.vault.mask import NO_SECRETS, Masker

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
        user_id: UUID | None = None,
        mask: Masker = NO_SECRETS,
    ) -> None:
        self.pool = pool
        self.mask = mask  # every value written passes through it: no secret is stored
        self.execution_id = execution_id
        self.worker_id = worker_id
        self.execution_attempt = execution_attempt
        self.user_id = user_id  # the owner: child executions run as them

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
                "output": Jsonb(self.mask(result.output)),
                "error": Jsonb(self.mask(result.error)) if result.error is not None else None,
                "logs": Jsonb(self.mask(result.logs)),
                "started_at": result.started_at,
            },
        )

    async def suspend(self, path: str, step: Mapping[str, Any], result: StepResult) -> None:
        await self._write(
            "step_suspend",
            {
                **self._guard(),
                "path": path,
                "step_id": step["id"],
                "step_type": step["type"],
                "attempt": result.attempts,
                "output": Jsonb(self.mask(result.output)),
                "started_at": result.started_at,
            },
        )

    # --- what durable steps need ---------------------------------------------------------

    async def take_signal(self, path: str, name: str) -> tuple[bool, Any]:
        async def take(conn: Conn) -> tuple[bool, Any]:
            cur = await conn.execute(
                query(Q, "take_signal"), {**self._guard(), "path": path, "name": name}
            )
            row = await cur.fetchone()
            return (False, None) if row is None else (True, row["payload"])

        return await with_connection(self.pool, take)

    async def start_child(self, path: str, workflow: str, inputs: Mapping[str, Any]) -> str:
        if self.user_id is None:
            raise StepError("this execution has no owner to run a child as", retryable=False)
        user_id = self.user_id

        async def start(conn: Conn) -> str:
            cur = await conn.execute(
                query(Q, "child_workflow"), {"user_id": user_id, "ref": workflow}
            )
            found = await cur.fetchall()
            if not found:
                raise StepError(
                    f"no workflow with the id or name {workflow!r} was found among the "
                    "owner's workflows",
                    retryable=False,
                )
            if not found[0]["by_id"] and len(found) > 1:
                raise StepError(
                    f"{len(found)} or more workflows are named {workflow!r}; name it by its id",
                    retryable=False,
                )
            try:
                child_id, _ = await lifecycle.start(
                    conn,
                    user_id,
                    workflow_id=found[0]["id"],
                    # Stored with the child: a secret's value must not be (the child can
                    # read the same user's secrets by name itself).
                    inputs=self.mask(inputs),
                    trigger="workflow",
                    # The same key for the same step: a replay gets the child it started.
                    idempotency_key=f"{self.execution_id}:{path}",
                    parent_execution_id=self.execution_id,
                )
            except lifecycle.NotStartable as exc:
                raise StepError(f"workflow {workflow!r}: {exc}", retryable=False) from None
            except DefinitionError as exc:  # its inputs (or its definition) do not fit
                raise StepError(
                    f"workflow {workflow!r} cannot start: {exc}", retryable=False
                ) from None
            return str(child_id)

        return await with_connection(self.pool, start)

    async def child(self, child_id: str) -> Child | None:
        async def read(conn: Conn) -> Child | None:
            cur = await conn.execute(query(Q, "child_state"), {"id": child_id})
            row = await cur.fetchone()
            if row is None:
                return None
            return Child(row["status"], row["output"], row["error"])

        return await with_connection(self.pool, read)

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
