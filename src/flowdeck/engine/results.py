"""What the runner works with and hands back: an execution as it runs, a step's result,
the execution's outcome, where results go (StepStore), and what stops a run early."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg

from flowdeck.engine.states import ExecutionStatus
from flowdeck.engine.steps.base import DurableStore, Suspend


@dataclass
class StepResult:
    """A step's result as expressions see it: `steps.<id>.output` and the rest."""

    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    started_at: datetime | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "attempts": self.attempts,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(frozen=True)
class Outcome:
    status: ExecutionStatus
    outputs: Any = None
    error: dict[str, Any] | None = None


class StepStore(DurableStore, Protocol):
    """Where step results go. The writes raise Interrupted when the execution is no longer
    this worker's to run (cancelled, or its lease was rescued)."""

    async def begin(self, path: str, step: Mapping[str, Any], attempt: int) -> None: ...

    async def finish(self, path: str, step: Mapping[str, Any], result: StepResult) -> None: ...

    async def suspend(self, path: str, step: Mapping[str, Any], result: StepResult) -> None:
        """Record the step as waiting; `result.output` is what it waits for."""
        ...


class Interrupted(Exception):
    """Stop running this execution: `reason` is "cancelled" or "lease_lost"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# What a step's code may raise that is not the step's failure: the worker handles these.
NOT_THE_STEPS: tuple[type[Exception], ...] = (Interrupted, psycopg.Error)
NOT_THE_STEPS_NOR_SUSPEND: tuple[type[Exception], ...] = (*NOT_THE_STEPS, Suspend)


class StepFailed(Exception):
    """A step failed and nothing caught it: the execution fails with its error."""

    def __init__(self, path: str, error: dict[str, Any]) -> None:
        super().__init__(path)
        self.path = path
        self.error = error


@dataclass
class Execution:
    """What the runner needs of an execution row."""

    id: str
    definition: dict[str, Any]
    inputs: dict[str, Any]
    config: dict[str, Any]
    attempt: int
    trigger: str
    workflow: dict[str, Any]
    deadline: datetime | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # decrypted; masked when stored
