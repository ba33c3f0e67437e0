"""What a step gets besides its rendered arguments, and how it fails or suspends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel

from flowdeck.engine.outbound import OutboundPolicy

if TYPE_CHECKING:  # control-flow steps run nested steps through the runner
    from flowdeck.engine.runner import Runner


class StepError(Exception):
    """A step failed in a way a person should read: the message becomes its error."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_error(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


@dataclass
class StepRun:
    """One attempt of one step: where it is, and what it may use."""

    execution_id: str
    path: str
    attempt: int
    http: httpx.AsyncClient  # built by outbound.http_client(outbound)
    step: dict[str, Any]
    logs: list[dict[str, Any]] = field(default_factory=list)
    # Where the step may connect, for steps that open their own connections (email).
    outbound: OutboundPolicy = field(kw_only=True)

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append({"at": datetime.now(UTC).isoformat(), "level": level, "message": message})

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and re-runs after a crash: the same step, the same key."""
        return f"{self.execution_id}:{self.path}"


class Suspend(Exception):
    """Park the execution in the database instead of holding a worker.

    Raised by a durable step (delay, wait, workflow) that cannot finish yet: the runner
    records the step as `waiting` with `state` (what a replay needs to pick up where it
    left off), and the worker moves the execution to `waiting` until `until` (None: no
    timer; a signal or a child's end wakes it).
    """

    def __init__(self, until: datetime | None = None, state: Any = None) -> None:
        super().__init__(until)
        self.until = until
        self.state = state


@dataclass(frozen=True)
class Child:
    """A child execution as the `workflow` step sees it."""

    status: str
    outputs: Any
    error: dict[str, Any] | None


class DurableStore(Protocol):
    """What durable steps need of the database, for the execution being run."""

    async def take_signal(self, path: str, name: str) -> tuple[bool, Any]:
        """(True, payload) of the signal `name` this step takes; (False, None) if none came."""
        ...

    async def start_child(self, path: str, workflow: str, inputs: Mapping[str, Any]) -> str:
        """Start (once per step path) a child execution of `workflow`; return its id.

        Raises StepError when the workflow is missing or the inputs do not fit it."""
        ...

    async def child(self, child_id: str) -> Child | None:
        """The child execution's status and result (None if it was deleted)."""
        ...


@dataclass
class DurableRun:
    """One entry into a durable step: the first, or a replay after the execution woke."""

    execution_id: str
    path: str
    step: dict[str, Any]
    started_at: datetime  # when the step first started: timers count from here
    state: dict[str, Any] | None  # what the step recorded when it last suspended
    store: DurableStore


def field_default(model: type[BaseModel], name: str) -> Any:
    """A field's default as the definition's model declares it: the engine reads it from
    there (once, at import) rather than writing it again."""
    return model.model_fields[name].get_default(call_default_factory=True)


@dataclass
class ControlRun:
    """One run of a control-flow step: where it is, what it sees, and the runner."""

    flow: Runner  # run_steps, evaluate, recorded
    step: dict[str, Any]
    path: str
    where: str
    scope: Mapping[str, Any]  # the step results visible to it
    extra: Mapping[str, Any]  # `item` and `loop` inside a foreach
    context: Mapping[str, Any]  # what its own expressions see
