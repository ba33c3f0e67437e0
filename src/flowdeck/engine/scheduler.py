"""The scheduler: start the executions of due schedules, exactly once each.

Every worker runs `fire_due` in its maintenance loop. Due triggers are taken with
FOR UPDATE SKIP LOCKED (one scheduler handles a trigger at a time), and each fire time
is first recorded in trigger_fires, whose primary key (trigger, fire time) admits it
once: only the scheduler whose insert happened starts the execution, in the same
transaction. So any number of schedulers start one execution per due time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError
from flowdeck.engine import lifecycle
from flowdeck.triggers.schedule import ScheduleError, due_fire_times, next_fire_times

log = logging.getLogger(__name__)

Q = "triggers"
BATCH = 100
CATCH_UP_LIMIT = 100  # catch_up "all" starts at most this many missed runs


async def fire_due(conn: Conn, now: datetime) -> int:
    """Start the executions of the schedules due at `now`; the number started."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    started = 0
    async with conn.transaction():
        cur = await conn.execute(query(Q, "take_due"), {"now": now, "limit": BATCH})
        for trigger in await cur.fetchall():
            try:
                async with conn.transaction():  # a savepoint: one trigger's failure is its own
                    started += await _fire(conn, trigger, now)
            except psycopg.Error as exc:
                log.warning("schedule %s could not fire (%s); skipped", trigger["id"], exc)
    return started


async def _fire(conn: Conn, trigger: dict[str, Any], now: datetime) -> int:
    try:
        upcoming = next_fire_times(trigger["cron"], trigger["timezone"], now, 1)
        if trigger["catch_up"] == "skip":
            due: list[datetime] = []
        else:
            limit = CATCH_UP_LIMIT if trigger["catch_up"] == "all" else 1
            due = due_fire_times(
                trigger["cron"], trigger["timezone"], trigger["next_fire_at"], now, limit
            ) or [trigger["next_fire_at"]]  # what was scheduled is due, even off the grid
    except ScheduleError as exc:
        log.warning("schedule %s is not valid (%s); it is paused", trigger["id"], exc)
        await conn.execute(
            query(Q, "advance"), {"id": trigger["id"], "next_fire_at": None, "last_fired_at": None}
        )
        return 0
    started = 0
    for fire_at in due:
        cur = await conn.execute(
            query(Q, "record_fire"), {"trigger_id": trigger["id"], "fire_at": fire_at}
        )
        if await cur.fetchone() is None:
            continue  # another scheduler has fired this one
        try:
            execution_id, _ = await lifecycle.start(
                conn,
                trigger["user_id"],
                workflow_id=trigger["user_workflow_id"],
                inputs=trigger["inputs"] or {},
                trigger="schedule",
                idempotency_key=f"schedule:{trigger['id']}:{fire_at.isoformat()}",
            )
        except (lifecycle.NotStartable, DefinitionError) as exc:
            # Recorded (the fire has no execution) and skipped: the others still run.
            log.warning(
                "schedule %s could not start its workflow at %s: %s",
                trigger["id"],
                fire_at.isoformat(),
                exc,
            )
            continue
        await conn.execute(
            query(Q, "set_fire_execution"),
            {"trigger_id": trigger["id"], "fire_at": fire_at, "execution_id": execution_id},
        )
        started += 1
    await conn.execute(
        query(Q, "advance"),
        {
            "id": trigger["id"],
            "next_fire_at": upcoming[0] if upcoming else None,
            "last_fired_at": due[-1] if due else None,
        },
    )
    return started
