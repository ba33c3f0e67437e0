"""The `delay` step: a durable pause, `for` a duration or `until` a time.

The execution sleeps in the database (status `waiting`, its timer in scheduled_at) and
holds no worker. When the timer is due it is queued again, replays what it recorded,
and re-enters this step, which now finds its time has come.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flowdeck.definition.durations import parse_duration
from flowdeck.engine.steps.base import DurableRun, StepError, Suspend


async def run_delay(args: Mapping[str, Any], run: DurableRun) -> Any:
    """Output: {"waited_until": the ISO time the delay ended}."""
    if run.state is not None and "until" in run.state:
        # Re-entered: the time was fixed at the first entry (an `until` expression might
        # give another answer now, and `for` counts from when the step first started).
        until = datetime.fromisoformat(run.state["until"])
    elif args.get("for") is not None:
        try:
            until = run.started_at + parse_duration(args["for"])
        except ValueError as exc:
            raise StepError(f"with.for: {exc}", retryable=False) from None
    else:
        until = parse_time(args.get("until"))
    if datetime.now(UTC) >= until:
        return {"waited_until": until.isoformat()}
    raise Suspend(until, {"until": until.isoformat()})


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time (or a datetime an expression gave); UTC when it has no offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise StepError(
                f"with.until: {value!r} is not an ISO 8601 time such as '2030-01-31T09:00:00Z'",
                retryable=False,
            ) from None
    else:
        raise StepError(
            f"with.until: expected an ISO 8601 time, got {type(value).__name__}", retryable=False
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
