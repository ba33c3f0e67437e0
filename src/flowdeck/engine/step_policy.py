"""An action step's attempts, backoff and timeout, read from its definition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdeck.definition.durations import parse_duration
from flowdeck.definition.expressions import is_expression
from flowdeck.definition.step_base import Retry
from flowdeck.engine.steps.base import field_default

ATTEMPTS: int = field_default(Retry, "attempts")
BACKOFF: str | int | float = field_default(Retry, "backoff")
MAX_BACKOFF = 3600.0  # seconds: the longest backoff when the step sets no max_backoff


@dataclass(frozen=True)
class StepPolicy:
    attempts: int
    backoff: float  # seconds before the second attempt, doubled after each
    cap: float  # the longest backoff, in seconds
    seconds: float | None  # each attempt's timeout

    @classmethod
    def of(cls, step: Mapping[str, Any], evaluate: Callable[[Any, str], Any]) -> StepPolicy:
        """The policy, with durations written as expressions evaluated (`evaluate(value,
        key)`, which raises ExpressionError). Raise ValueError for a value that is not a
        duration: validation checked the written ones, not what an expression computes."""

        def seconds(value: Any, key: str) -> float:
            duration = parse_duration(evaluate(value, key) if is_expression(value) else value)
            return duration.total_seconds()

        timeout = step.get("timeout")
        limit = seconds(timeout, "timeout") if timeout is not None else None
        retry = step.get("retry")
        if retry is None:  # most steps: one attempt, and no duration to read
            return cls(attempts=1, backoff=0.0, cap=MAX_BACKOFF, seconds=limit)
        max_backoff = retry.get("max_backoff")
        return cls(
            attempts=int(retry.get("attempts", ATTEMPTS)),
            backoff=seconds(retry.get("backoff", BACKOFF), "retry.backoff"),
            cap=seconds(max_backoff, "retry.max_backoff")
            if max_backoff is not None
            else MAX_BACKOFF,
            seconds=limit,
        )
