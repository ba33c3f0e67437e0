"""The worker: claims due executions, runs them, keeps their leases, stops gracefully.

- Claims in batches with FOR UPDATE SKIP LOCKED, up to its concurrency limit; wakes on
  NOTIFY flowdeck_queued and polls as a fallback (a lost notification costs a poll).
- Heartbeats renew the leases of what it runs; the rescuer (every worker runs one)
  puts executions whose lease expired back in the queue, so a killed worker's work
  is picked up by another.
- Every write is guarded by (status, worker, attempt): a worker that comes back late
  after its execution was rescued or cancelled changes nothing.
- stop(): no more claims; running executions get `grace` seconds to finish, then are
  cancelled in-process and released back to the queue.
- Every execution ends: a worker that dies (its lease expires) or raises unexpectedly
  while running an execution counts a crash against it (flowdeck_record_crash); at
  `crash_limit` crashes in a row without a finished step, the execution fails, naming
  the step. A cancel asked for always wins over a requeue.
- Durable waiting: an execution whose step suspends (delay, wait, workflow) goes from
  running to waiting and holds no worker. It is queued again when its timer is due (each
  claim round wakes due timers; the worker that parked it also sets a local timer, so a
  short delay does not cost a poll interval), when a signal it waits for is sent (the
  signals route), or when a child it waits for ends (here, in the child's finishing
  transaction). The rescuer also wakes any whose signal or child came unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from flowdeck.db.retry import with_connection
from flowdeck.db.types import Conn
from flowdeck.engine import lifecycle
from flowdeck.engine.journal import Journal, recorded_steps
from flowdeck.engine.maintenance import Maintenance
from flowdeck.engine.outbound import OutboundPolicy, http_client
from flowdeck.engine.runner import Execution, Interrupted, Outcome, Runner
from flowdeck.engine.states import ExecutionStatus
from flowdeck.engine.steps.base import Suspend
from flowdeck.engine.watchdog import Board
from flowdeck.vault.box import SecretBox, SecretUnreadable
from flowdeck.vault.mask import Masker
from flowdeck.vault.store import secret_values

log = logging.getLogger(__name__)

TIMER_CHECK_INTERVAL = 0.5  # seconds between looks at other workers' timers


@dataclass
class WorkerSettings:
    concurrency: int = 10
    lease: timedelta = timedelta(seconds=30)
    poll_interval: float = 2.0
    rescue_interval: float = 5.0
    grace: float = 10.0
    retention: timedelta | None = timedelta(days=30)  # None: keep every execution
    retention_interval: float = 600.0
    crash_limit: int = 3  # crashes in a row without progress that end an execution
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)  # where steps may connect


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    pool: AsyncConnectionPool[Conn]
    database_url: str
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    worker_id: str = field(default_factory=new_worker_id)
    box: SecretBox | None = None  # None: this worker runs no execution that uses secrets
    board: Board | None = None  # the supervisor's watchdog page, when supervised
    maintenance: Maintenance | None = None  # rescuer, retention, schedules, run beside

    def __post_init__(self) -> None:
        self._running: dict[UUID, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._timer_fired = False
        self._timers_checked_at = 0.0
        self._stopping = asyncio.Event()
        self._http = http_client(self.settings.outbound)
        self.finished = 0  # executions this worker brought to an end (for tests, metrics)

    async def run(self) -> None:
        """Work until stop() is called; then drain within the grace period and return."""
        log.info("worker %s started (concurrency %d)", self.worker_id, self.settings.concurrency)
        background = [
            asyncio.create_task(self._listen(), name="listen"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
        ]
        if self.maintenance is not None:
            background.append(asyncio.create_task(self.maintenance.run(), name="maintenance"))
        if self.board is not None:
            background.append(asyncio.create_task(self.board.beat_forever(), name="beat"))
        try:
            await self._claim_loop()
        finally:
            await self._drain()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._http.aclose()
            log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    # --- claiming ------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._wake_due()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("waking due executions failed (%s); retrying", exc)
            free = self.settings.concurrency - len(self._running)
            claimed = 0
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    log.warning("claiming failed (%s); retrying", exc)
            if claimed and claimed == free:
                continue  # there may be more: claim again once a slot frees up
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _secrets(self, row: dict[str, Any]) -> dict[str, str]:
        """The owner's secrets, decrypted, when the definition mentions them at all
        (most do not: one query saved per execution)."""
        if self.box is None or "secrets" not in json.dumps(row["definition"] or {}):
            return {}
        box = self.box

        async def load(conn: Conn) -> dict[str, str]:
            return await secret_values(conn, box, row["user_id"])

        return await with_connection(self.pool, load)

    def _timer_due(self) -> None:
        self._timer_fired = True
        self._wake.set()

    async def _wake_due(self) -> None:
        """Queue the waiting executions whose timer is due (waiting -> queued).

        Not on every claim round: a busy worker claims hundreds of times a second, and
        timers need only be looked at when one of ours fired, or now and then for the
        ones other workers (or a worker that died) set.
        """
        now = asyncio.get_running_loop().time()
        if not self._timer_fired and now - self._timers_checked_at < TIMER_CHECK_INTERVAL:
            return
        self._timer_fired = False
        self._timers_checked_at = now
        async with self.pool.connection() as conn, conn.transaction():
            await lifecycle.wake_due(conn)

    async def _claim(self, limit: int) -> int:
        async with self.pool.connection() as conn:
            rows = await lifecycle.claim(conn, self.worker_id, self.settings.lease, limit)
        for row in rows:
            task = asyncio.create_task(self._execute(row), name=f"execution {row['id']}")
            self._running[row["id"]] = task
            task.add_done_callback(functools.partial(self._done, row["id"]))
        return len(rows)

    def _done(self, execution_id: UUID, task: asyncio.Task[None]) -> None:
        # Only this task's own entry: a worker that stalled past its lease may have
        # claimed the same execution again (a new attempt) while this one was still in
        # its step, and that attempt's entry is what the heartbeat must keep renewing.
        if self._running.get(execution_id) is task:
            del self._running[execution_id]
        self._wake.set()

    # --- running one execution -----------------------------------------------------------

    async def _execute(self, row: dict[str, Any]) -> None:
        execution_id: UUID = row["id"]
        try:
            recorded = {}
            # A first attempt has nothing recorded to replay, unless it is a retry (which
            # starts with the succeeded steps of the execution it retries).
            if row["attempt"] > 1 or row["retry_of"] is not None:
                recorded = await with_connection(
                    self.pool, functools.partial(recorded_steps, execution_id=execution_id)
                )
            secrets = await self._secrets(row)
            mask = Masker(secrets.values())
            execution = Execution(
                id=str(execution_id),
                secrets=secrets,
                definition=row["definition"] or {},
                inputs=row["input"] or {},
                config=row["config"] or {},
                attempt=row["attempt"],
                trigger=row["trigger"],
                workflow={
                    "id": str(row["user_workflow_id"]) if row["user_workflow_id"] else None,
                    "template_id": row["template_id"],
                },
                deadline=row["deadline_at"],
            )
            journal = Journal(
                self.pool, execution_id, self.worker_id, row["attempt"], row["user_id"], mask
            )
            outcome = await Runner(
                execution, recorded, journal, self._http, self.settings.outbound
            ).run()
            outcome = Outcome(outcome.status, mask(outcome.outputs), mask(outcome.error))
            await self._finish(execution_id, row["attempt"], outcome)
        except Suspend as suspension:
            await self._suspend(execution_id, row, suspension.until)
        except SecretUnreadable as exc:
            failed = Outcome(ExecutionStatus.FAILED, error={"message": str(exc)})
            await self._finish(execution_id, row["attempt"], failed)
        except Interrupted as interruption:
            if interruption.reason == "cancelled":
                async with self.pool.connection() as conn, conn.transaction():
                    await lifecycle.stop_cancelled(conn, execution_id)
            else:
                log.warning("execution %s: lease lost; another worker has it", execution_id)
        except asyncio.CancelledError:
            raise  # shutdown: released by _drain
        except (psycopg.OperationalError, psycopg.InterfaceError):
            # The database gone for longer than the pool waits: nothing can be recorded
            # now; the rescuer requeues the execution when its lease expires.
            log.exception("execution %s: the database is unreachable", execution_id)
        except Exception as exc:
            # A bug in the engine (a step's own failures never come here): a crash, so
            # that an execution which raises every time ends instead of going round.
            log.exception("execution %s: unexpected error", execution_id)
            await self._crashed(execution_id, row["attempt"], exc)

    async def _crashed(self, execution_id: UUID, attempt: int, exc: Exception) -> None:
        reason = f"it raised {type(exc).__name__}: {exc}"

        async def crash(conn: Conn) -> None:
            async with conn.transaction():
                crashed = await lifecycle.crash(
                    conn,
                    self.worker_id,
                    reason[:500],
                    self.settings.crash_limit,
                    execution_id=execution_id,
                    attempt=attempt,
                )
                await lifecycle.announce(conn, crashed)

        try:
            await with_connection(self.pool, crash)
        except psycopg.Error as error:
            log.warning("execution %s: could not record the crash (%s)", execution_id, error)

    async def _finish(self, execution_id: UUID, attempt: int, outcome: Outcome) -> None:
        async def finish(conn: Conn) -> bool:
            async with conn.transaction():
                return await lifecycle.finish(
                    conn,
                    execution_id,
                    self.worker_id,
                    attempt,
                    outcome.status,
                    outcome.outputs,
                    outcome.error,
                )

        if await with_connection(self.pool, finish):
            self.finished += 1
        else:
            log.warning("execution %s: finished elsewhere; result dropped", execution_id)

    # --- durable waiting -----------------------------------------------------------------

    async def _suspend(
        self, execution_id: UUID, row: dict[str, Any], until: datetime | None
    ) -> None:
        """running -> waiting (guarded by the lease), with its timer at `until`."""
        deadline: datetime | None = row["deadline_at"]
        if deadline is not None and (until is None or deadline < until):
            until = deadline  # wake to fail it when the execution's time is up

        async def suspend(conn: Conn) -> ExecutionStatus | None:
            async with conn.transaction():
                return await lifecycle.suspend(
                    conn, execution_id, self.worker_id, row["attempt"], until
                )

        status = await with_connection(self.pool, suspend)
        if status is None:
            log.warning("execution %s: lease lost before it could wait", execution_id)
            return
        if status != ExecutionStatus.WAITING:
            return

        async def wake_if_ready(conn: Conn) -> bool:
            # A signal or a child's end that came while we were suspending found the
            # execution still running and could not wake it: look once more, now that
            # `waiting` is committed.
            async with conn.transaction():
                return await lifecycle.wake_ready(conn, execution_id) > 0

        if not await with_connection(self.pool, wake_if_ready) and until is not None:
            delay = max(0.0, (until - datetime.now(UTC)).total_seconds())
            # Other workers find it due at their next poll; this one wakes on time.
            asyncio.get_running_loop().call_later(delay, self._timer_due)

    # --- leases --------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = self.settings.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if not self._running:
                continue
            try:
                async with self.pool.connection() as conn:
                    await lifecycle.renew(
                        conn, self.worker_id, list(self._running), self.settings.lease
                    )
            except psycopg.Error as exc:
                log.warning("heartbeat failed (%s); retrying", exc)

    async def _listen(self) -> None:
        """Wake the claim loop on NOTIFY; reconnect when the connection drops."""
        while True:
            try:
                async with await AsyncConnection.connect(
                    self.database_url, autocommit=True
                ) as conn:
                    await conn.execute("LISTEN flowdeck_queued")
                    self._wake.set()  # anything queued while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log.warning("listening for new executions failed (%s); reconnecting", exc)
                await asyncio.sleep(1)

    # --- shutdown ------------------------------------------------------------------------

    async def _drain(self) -> None:
        if not self._running:
            return
        tasks = list(self._running.values())
        log.info("waiting up to %.0f s for %d execution(s)", self.settings.grace, len(tasks))
        _, pending = await asyncio.wait(tasks, timeout=self.settings.grace)
        if not pending:
            return
        unfinished = [key for key, task in self._running.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        async with self.pool.connection() as conn, conn.transaction():
            released = await lifecycle.release(conn, self.worker_id, unfinished)
            await lifecycle.announce(conn, released)
        log.info("released %d unfinished execution(s) to the queue", len(unfinished))


__all__ = ["ExecutionStatus", "Worker", "WorkerSettings"]
