"""The `wait` step: wait, durably, for a named signal sent through the API.

A signal is kept in execution_signals until a wait step for its name takes it, so one
sent before the execution got here is not lost. With `timeout` (counted from when the
step first started) the step fails when no signal came in time, so `continue_on_error`
or a later step can handle it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flowdeck.definition.durations import format_duration, parse_duration
from flowdeck.engine.steps.base import DurableRun, StepError, Suspend


async def run_wait(args: Mapping[str, Any], run: DurableRun) -> Any:
    """Output: the signal's JSON payload."""
    name = str(args["signal"])
    found, payload = await run.store.take_signal(run.path, name)
    if found:
        return payload
    timeout = args.get("timeout")
    state: dict[str, Any] = {"signal": name, "timeout_at": None}
    if timeout is not None:
        limit = parse_duration(timeout)
        deadline = run.started_at + limit
        if datetime.now(UTC) >= deadline:
            raise StepError(f"no '{name}' signal within {format_duration(limit)}", retryable=False)
        state["timeout_at"] = deadline.isoformat()
        raise Suspend(deadline, state)
    raise Suspend(None, state)
