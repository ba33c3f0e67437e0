"""Runs one execution: replay what is recorded, run what is missing, record each step.

Durability is one idea applied to every step (as in DBOS): before running a step, look
for its recorded result; if there is a finished one, use it; otherwise run the step and
record the result before the next step starts. A step that was in flight when its
worker died has no finished record, so it runs again: at least once. Steps that talk to
the outside get a stable idempotency key (`<execution id>:<step path>`).

Step paths name a step's place: `fetch`, `check.then.post`, `loop[3].notify`,
`fan.left.call`. The runner works on the stored definition document (validated before
the execution was started), so what runs is exactly what was saved.

Durable steps (delay, wait, workflow) may not be able to finish yet: they raise Suspend,
the runner records them as `waiting` (with what they wait for) and lets Suspend go up to
the worker, which parks the execution in the database. Parallel branches and foreach
items that can still run do so first; the execution suspends when nothing else can run,
until the earliest timer among its waiting steps. When it wakes it replays, and each
waiting step is re-entered to see whether what it waits for has come.

Here: replay, the order of steps, `when`, recording. Running one step by its kind (the
step registry's record: local, action, durable, control) is attempts.py's; the
control-flow steps are steps/control.py; what the runner works with, results.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from flowdeck.definition.document import Definition
from flowdeck.definition.expressions import ExpressionError
from flowdeck.definition.step_base import StepBase
from flowdeck.engine.attempts import run_action, run_control, run_durable
from flowdeck.engine.evaluation import evaluate, expression_error
from flowdeck.engine.outbound import OutboundPolicy
from flowdeck.engine.results import (
    Execution,
    Interrupted,
    Outcome,
    StepFailed,
    StepResult,
    StepStore,
)
from flowdeck.engine.states import FINISHED_STEP, ExecutionStatus, StepStatus
from flowdeck.engine.steps import REGISTRY, Kind
from flowdeck.engine.steps.base import ControlRun, field_default

CONTINUE_ON_ERROR: bool = field_default(StepBase, "continue_on_error")
NO_CONDITIONS: list[str] = field_default(Definition, "conditions")
NO_STEPS: list[dict[str, Any]] = field_default(Definition, "steps")
NO_OUTPUTS: dict[str, Any] = field_default(Definition, "outputs")


class Runner:
    """Runs one execution's definition over what earlier attempts recorded."""

    def __init__(
        self,
        execution: Execution,
        recorded: Mapping[str, StepResult],
        store: StepStore,
        http: httpx.AsyncClient,
        outbound: OutboundPolicy,
    ) -> None:
        self.execution = execution
        self.recorded = dict(recorded)
        self.store = store
        self.http = http
        self.outbound = outbound

    def _context(self, scope: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        execution = self.execution
        return {
            "inputs": execution.inputs,
            "config": execution.config,
            "secrets": execution.secrets,
            "steps": dict(scope),
            "execution": {
                "id": execution.id,
                "trigger": execution.trigger,
                "attempt": execution.attempt,
            },
            "workflow": execution.workflow,
            **extra,
        }

    async def run(self) -> Outcome:
        """Run (or resume) the execution to its end. Raises Interrupted to stop early."""
        definition = self.execution.definition
        base = self._context({}, {})
        for index, condition in enumerate(definition.get("conditions") or NO_CONDITIONS):
            where = f"conditions[{index}]"
            try:
                holds = self.evaluate(condition, base, where, stored=False)
            except ExpressionError as exc:
                return Outcome(ExecutionStatus.FAILED, error=expression_error(exc, where))
            if not holds:
                return Outcome(
                    ExecutionStatus.SKIPPED,
                    error={
                        "message": f"conditions[{index}] did not hold: {condition}",
                        "path": f"conditions[{index}]",
                    },
                )
        try:
            scope = await self.run_steps(definition.get("steps") or NO_STEPS, "", {}, {}, "steps")
        except StepFailed as failure:
            return Outcome(ExecutionStatus.FAILED, error={**failure.error, "step": failure.path})
        try:
            outputs = self.evaluate(
                definition.get("outputs") or NO_OUTPUTS, self._context(scope, {}), "outputs"
            )
        except ExpressionError as exc:
            return Outcome(ExecutionStatus.FAILED, error=expression_error(exc, "outputs"))
        return Outcome(ExecutionStatus.SUCCEEDED, outputs=outputs)

    def evaluate(
        self,
        value: Any,
        context: Mapping[str, Any],
        where: str,
        step: Mapping[str, Any] | None = None,
        path: str = "",
        *,
        stored: bool = True,
    ) -> Any:
        return evaluate(
            value,
            context,
            where,
            execution_id=self.execution.id,
            step=step,
            path=path,
            stored=stored,
        )

    async def run_steps(
        self,
        steps: list[dict[str, Any]],
        prefix: str,
        scope: Mapping[str, Any],
        extra: Mapping[str, Any],
        where: str,
    ) -> dict[str, Any]:
        """Run a list of steps in order; return the step results visible after it.

        `prefix` makes the steps' paths in the execution (`loop[3].`); `where` is the
        list's place in the definition (`steps[2].steps`), for errors.
        """
        visible = dict(scope)
        for index, step in enumerate(steps):
            path = f"{prefix}{step['id']}"
            result = await self.run_step(step, path, visible, extra, f"{where}[{index}]")
            visible[step["id"]] = result.context()
            if result.status == StepStatus.FAILED and not step.get(
                "continue_on_error", CONTINUE_ON_ERROR
            ):
                raise StepFailed(path, result.error or {"message": "the step failed"})
        return visible

    async def run_step(
        self,
        step: dict[str, Any],
        path: str,
        scope: Mapping[str, Any],
        extra: Mapping[str, Any],
        where: str,
    ) -> StepResult:
        recorded = self.recorded.get(path)
        if recorded is not None and recorded.status in FINISHED_STEP:
            return recorded  # done before: replay, never run again
        self._check_deadline()
        context = self._context(scope, extra)
        started = datetime.now(UTC)
        when = step.get("when")
        if when is not None:
            try:
                go = self.evaluate(when, context, f"{where}.when", step, path, stored=False)
            except ExpressionError as exc:
                result = StepResult(
                    StepStatus.FAILED,
                    error=expression_error(exc, f"{where}.when"),
                    started_at=started,
                )
                await self.store.finish(path, step, result)
                return result
            if not go:
                result = StepResult(StepStatus.SKIPPED, started_at=started)
                await self.store.finish(path, step, result)
                return result
        kind = REGISTRY.get(step["type"])
        if kind is None or kind.kind in (Kind.LOCAL, Kind.ACTION):
            previous = recorded.attempts if recorded is not None else 0
            result = await run_action(self, kind, step, path, where, context, previous, started)
        elif kind.kind is Kind.DURABLE:
            result = await run_durable(self, kind, step, path, where, context, recorded, started)
        else:
            control = ControlRun(self, step, path, where, scope, extra, context)
            result = await run_control(kind, control, started)
        await self.store.finish(path, step, result)
        return result

    def _check_deadline(self) -> None:
        deadline = self.execution.deadline
        if deadline is not None and datetime.now(UTC) >= deadline:
            raise StepFailed(
                "",
                {"message": f"the execution timed out (its deadline was {deadline.isoformat()})"},
            )


__all__ = ["Execution", "Interrupted", "Outcome", "Runner", "StepResult", "StepStore"]
