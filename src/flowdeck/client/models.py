"""What the API returns, as typed models. Unknown fields are ignored, so that a newer
server with more fields still works with this client."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "skipped"})


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Page(Model, Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (None: the last)."""

    items: list[T]
    next_cursor: str | None = None


class User(Model):
    id: UUID
    email: str
    display_name: str | None = None
    is_admin: bool = False
    csrf_token: str | None = None


class NewToken(Model):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None
    token: str


class TemplateSummary(Model):
    id: str
    name: str
    goal: str | None = None
    category: str | None = None
    inputs: dict[str, Any] = {}
    is_active: bool = True
    builtin: bool = False
    usage_count: int = 0


class Template(TemplateSummary):
    conditions: list[Any] | None = None
    steps: list[Any] = []
    outputs: dict[str, Any] | None = None


class WorkflowSummary(Model):
    id: UUID
    template_id: str | None = None
    name: str
    description: str | None = None
    category: str | None = None
    is_active: bool = True
    is_favorite: bool = False
    last_used: datetime | None = None
    execution_count: int = 0
    updated_at: datetime | None = None


class Workflow(WorkflowSummary):
    definition: dict[str, Any]
    config: dict[str, Any] = {}


def _duration(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start is not None and end is not None else None


class StepEvent(Model):
    """A step started or finished (an `event: step` of the event stream)."""

    kind: Literal["step"] = "step"
    path: str
    step_type: str
    status: str
    attempt: int = 1
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def duration(self) -> timedelta | None:
        """How long the step ran, once it has finished."""
        return _duration(self.started_at, self.finished_at)


class Step(StepEvent):
    step_id: str
    output: Any = None
    logs: list[dict[str, Any]] = []


class StatusEvent(Model):
    """The execution's status changed (an `event: status`); the last one is final."""

    kind: Literal["status"] = "status"
    status: str
    error: Any = None
    outputs: Any = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES or self.status == "deleted"


Event = StepEvent | StatusEvent


class ExecutionSummary(Model):
    id: UUID
    user_workflow_id: UUID | None = None
    template_id: str | None = None
    status: str
    trigger: str
    error: Any = None
    attempt: int = 1
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    retry_of: UUID | None = None
    parent_execution_id: UUID | None = None

    @property
    def duration(self) -> timedelta | None:
        """How long the execution ran, once it has finished."""
        return _duration(self.started_at, self.finished_at)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


class Execution(ExecutionSummary):
    inputs: Any = None
    outputs: Any = None
    cancel_requested: bool = False
    steps: list[Step] = []
