"""Step types: the one registry of them, a record each that joins the definition's model
(definition/steps_schema.py: what a step may say) with the engine's kind and handler
(what running it means). One module a type; control flow in control.py.

Kinds:
- local (set, log, fail): touches nothing outside the execution, so running it again
  after a crash is invisible: recorded only when it finishes (one commit less each);
- action (http, email, llm): recorded as running before it runs; retried and timed out
  by its step's policy;
- durable (delay, wait, workflow): may suspend the execution (it waits in the database,
  holding no worker) and is re-entered when it wakes; no retries;
- control (branch, foreach, parallel): runs nested steps through the runner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowdeck.definition.step_base import StepBase
from flowdeck.definition.steps_schema import (
    STEP_TYPES,
    BranchStep,
    DelayStep,
    EmailStep,
    FailStep,
    ForeachStep,
    HttpStep,
    LlmStep,
    LogStep,
    ParallelStep,
    SetStep,
    WaitStep,
    WorkflowStep,
)
from flowdeck.engine.steps import basic, child, control, delay, email, http, llm, wait
from flowdeck.engine.steps.base import ControlRun, DurableRun, StepRun

Handler = Callable[[Mapping[str, Any], StepRun], Awaitable[Any]]
DurableHandler = Callable[[Mapping[str, Any], DurableRun], Awaitable[Any]]
ControlHandler = Callable[[ControlRun], Awaitable[Any]]


class Kind(StrEnum):
    LOCAL = "local"
    ACTION = "action"
    DURABLE = "durable"
    CONTROL = "control"


@dataclass(frozen=True)
class StepType:
    """One step type: its model, its kind, and the handler of that kind (the others None)."""

    model: type[StepBase]
    kind: Kind
    run: Handler | None = None  # local and action steps: the evaluated `with`, one attempt
    enter: DurableHandler | None = None  # durable steps: an entry, or a re-entry
    control: ControlHandler | None = None  # control-flow steps

    @property
    def name(self) -> str:
        name: str = self.model.model_fields["type"].default
        return name


HANDLER_OF = {Kind.LOCAL: "run", Kind.ACTION: "run", Kind.DURABLE: "enter", Kind.CONTROL: "control"}


def _registry(records: Iterable[StepType]) -> dict[str, StepType]:
    """By name; checked against the definition's STEP_TYPES: a record for each, and each
    with the one handler its kind runs."""
    found = {record.name: record for record in records}
    if found.keys() != STEP_TYPES.keys():
        raise AssertionError(f"step types and records differ: {set(STEP_TYPES) ^ set(found)}")
    for record in found.values():
        given = {name for name in ("run", "enter", "control") if getattr(record, name)}
        if given != {HANDLER_OF[record.kind]} or record.model is not STEP_TYPES[record.name]:
            raise AssertionError(f"step type {record.name!r}: its model, and one handler")
    return dict(sorted(found.items()))


REGISTRY: dict[str, StepType] = _registry(
    [
        StepType(SetStep, Kind.LOCAL, run=basic.run_set),
        StepType(LogStep, Kind.LOCAL, run=basic.run_log),
        StepType(FailStep, Kind.LOCAL, run=basic.run_fail),
        StepType(HttpStep, Kind.ACTION, run=http.run_http),
        StepType(EmailStep, Kind.ACTION, run=email.run_email),
        StepType(LlmStep, Kind.ACTION, run=llm.run_llm),
        StepType(DelayStep, Kind.DURABLE, enter=delay.run_delay),
        StepType(WaitStep, Kind.DURABLE, enter=wait.run_wait),
        StepType(WorkflowStep, Kind.DURABLE, enter=child.run_workflow),
        StepType(BranchStep, Kind.CONTROL, control=control.run_branch),
        StepType(ForeachStep, Kind.CONTROL, control=control.run_foreach),
        StepType(ParallelStep, Kind.CONTROL, control=control.run_parallel),
    ]
)
