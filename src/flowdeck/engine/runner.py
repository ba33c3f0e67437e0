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
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import psycopg

from flowdeck.definition.expressions import ExpressionError
from flowdeck.definition.issues import join_path
from flowdeck.engine.evaluation import evaluate, expression_error
from flowdeck.engine.outbound import OutboundPolicy
from flowdeck.engine.states import FINISHED_STEP, ExecutionStatus, StepStatus
from flowdeck.engine.step_policy import StepPolicy
from flowdeck.engine.steps import ACTIONS, DURABLE
from flowdeck.engine.steps.base import DurableRun, DurableStore, StepError, StepRun, Suspend

log = logging.getLogger(__name__)

CONTROL_FLOW = frozenset({"branch", "foreach", "parallel"})
# Steps that touch nothing outside the execution: running one again after a crash is
# invisible, so they skip the "running" record (one commit less each) and are recorded
# only when finished.
LOCAL_STEPS = frozenset({"set", "log", "fail"})
MAX_FOREACH_ITEMS = 10_000


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


class Runner:
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
        for index, condition in enumerate(definition.get("conditions") or []):
            where = f"conditions[{index}]"
            try:
                holds = self._evaluate(condition, base, where, stored=False)
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
            scope = await self.run_steps(definition.get("steps") or [], "", {}, {}, "steps")
        except StepFailed as failure:
            return Outcome(ExecutionStatus.FAILED, error={**failure.error, "step": failure.path})
        try:
            outputs = self._evaluate(
                definition.get("outputs") or {}, self._context(scope, {}), "outputs"
            )
        except ExpressionError as exc:
            return Outcome(ExecutionStatus.FAILED, error=expression_error(exc, "outputs"))
        return Outcome(ExecutionStatus.SUCCEEDED, outputs=outputs)

    def _evaluate(
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
            if result.status == StepStatus.FAILED and not step.get("continue_on_error"):
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
                go = self._evaluate(when, context, f"{where}.when", step, path, stored=False)
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
        if step["type"] in CONTROL_FLOW:
            result = await self._control_flow(step, path, where, scope, extra, context, started)
        elif step["type"] in DURABLE:
            result = await self._durable(step, path, where, context, recorded, started)
        else:
            previous = recorded.attempts if recorded is not None else 0
            result = await self._action(step, path, where, context, previous, started)
        await self.store.finish(path, step, result)
        return result

    # --- action steps: attempts, backoff, timeouts ------------------------------------------

    async def _action(
        self,
        step: dict[str, Any],
        path: str,
        where: str,
        context: Mapping[str, Any],
        previous_attempts: int,
        started: datetime,
    ) -> StepResult:
        try:
            policy = StepPolicy.of(
                step,
                lambda value, key: self._evaluate(value, context, f"{where}.{key}", step, path),
            )
        except ExpressionError as exc:
            error = expression_error(exc, where)
            return StepResult(StepStatus.FAILED, error=error, started_at=started)
        except ValueError as exc:  # a duration computed by an expression that is not one
            error = {"message": f"{where}: timeout or retry: {exc}", "path": where}
            return StepResult(StepStatus.FAILED, error=error, started_at=started)
        attempt = previous_attempts
        clock = time.perf_counter()
        while True:
            attempt += 1
            # A resumed execution records local steps as running too, so that a step which
            # keeps killing its worker is named when the crash limit ends the execution.
            if step["type"] not in LOCAL_STEPS or self.execution.attempt > 1:
                await self.store.begin(path, step, attempt)
            run = StepRun(self.execution.id, path, attempt, self.http, step, outbound=self.outbound)
            try:
                args = self._evaluate(step.get("with") or {}, context, f"{where}.with", step, path)
                handler = ACTIONS.get(step["type"])
                if handler is None:
                    raise StepError(
                        f"the step type {step['type']!r} is not available in this version",
                        retryable=False,
                    )
                async with asyncio.timeout(policy.seconds):
                    output = await handler(args, run)
            except ExpressionError as exc:
                error, retryable = expression_error(exc, f"{where}.with"), False
            except TimeoutError:
                error, retryable = {"message": f"timed out after {step['timeout']}"}, True
            except StepError as exc:
                error = exc.as_error()
                retryable = bool(error.pop("retryable", True))
            except NOT_THE_STEPS:
                raise
            except Exception as exc:
                error, retryable = _unexpected(exc, step, path), False
            else:
                return StepResult(
                    StepStatus.SUCCEEDED,
                    output=output,
                    attempts=attempt,
                    elapsed_ms=_elapsed(clock),
                    started_at=started,
                    logs=run.logs,
                )
            if not retryable or attempt - previous_attempts >= policy.attempts:
                return StepResult(
                    StepStatus.FAILED,
                    output=error.get("output"),
                    error={key: value for key, value in error.items() if key != "output"},
                    attempts=attempt,
                    elapsed_ms=_elapsed(clock),
                    started_at=started,
                    logs=run.logs,
                )
            # Exponential backoff with jitter, so that failing steps of many executions
            # do not all call again at the same moment.
            delay = min(policy.cap, policy.backoff * 2 ** (attempt - previous_attempts - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (not security)

    # --- durable steps: may suspend the execution -------------------------------------------

    async def _durable(
        self,
        step: dict[str, Any],
        path: str,
        where: str,
        context: Mapping[str, Any],
        recorded: StepResult | None,
        started: datetime,
    ) -> StepResult:
        """Enter (or re-enter) a delay, wait or workflow step; raise Suspend when it waits.

        No retries: what these steps wait for does not come sooner by asking again.
        """
        state = None
        if recorded is not None:
            # A replay: timers count from the first start, and the step picks up what it
            # recorded when it suspended (the output of a `waiting` row; a row still
            # `running` has it too when the worker died after re-entering).
            started = recorded.started_at or started
            if isinstance(recorded.output, dict):
                state = recorded.output
        await self.store.begin(path, step, 1)
        run = DurableRun(self.execution.id, path, step, started, state, self.store)
        try:
            args = self._evaluate(step.get("with") or {}, context, f"{where}.with", step, path)
            output = await DURABLE[step["type"]](args, run)
        except ExpressionError as exc:
            error = expression_error(exc, f"{where}.with")
        except StepError as exc:
            error = exc.as_error()
            error.pop("retryable", None)
        except Suspend as suspension:
            waiting = StepResult(
                StepStatus.WAITING, output=suspension.state, attempts=1, started_at=started
            )
            await self.store.suspend(path, step, waiting)
            raise Suspend(suspension.until) from None
        except NOT_THE_STEPS:
            raise
        except Exception as exc:
            error = _unexpected(exc, step, path)
        else:
            return StepResult(
                StepStatus.SUCCEEDED,
                output=output,
                attempts=1,
                elapsed_ms=_since(started),
                started_at=started,
            )
        return StepResult(
            StepStatus.FAILED,
            error=error,
            attempts=1,
            elapsed_ms=_since(started),
            started_at=started,
        )

    # --- control flow ----------------------------------------------------------------------

    async def _control_flow(
        self,
        step: dict[str, Any],
        path: str,
        where: str,
        scope: Mapping[str, Any],
        extra: Mapping[str, Any],
        context: Mapping[str, Any],
        started: datetime,
    ) -> StepResult:
        clock = time.perf_counter()
        try:
            output = await self._structure(step, path, where, scope, extra, context)
        except StepFailed as failure:
            return StepResult(
                StepStatus.FAILED,
                error={**failure.error, "step": failure.path},
                elapsed_ms=_elapsed(clock),
                started_at=started,
            )
        except ExpressionError as exc:
            return StepResult(
                StepStatus.FAILED, error=expression_error(exc, where), started_at=started
            )
        except StepError as exc:
            return StepResult(StepStatus.FAILED, error=exc.as_error(), started_at=started)
        except NOT_THE_STEPS_NOR_SUSPEND:
            raise
        except Exception as exc:
            error = _unexpected(exc, step, path)
            return StepResult(StepStatus.FAILED, error=error, started_at=started)
        return StepResult(
            StepStatus.SUCCEEDED,
            output=output,
            attempts=1,
            elapsed_ms=_elapsed(clock),
            started_at=started,
        )

    async def _structure(
        self,
        step: dict[str, Any],
        path: str,
        where: str,
        scope: Mapping[str, Any],
        extra: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> Any:
        kind = step["type"]
        if kind == "branch":
            holds = self._evaluate(step["if"], context, f"{where}.if", step, path, stored=False)
            taken = "then" if holds else "else"
            nested = f"{where}.{taken}"
            await self.run_steps(step.get(taken) or [], f"{path}.{taken}.", scope, extra, nested)
            return {"taken": taken}
        if kind == "parallel":
            branches: dict[str, list[dict[str, Any]]] = step["branches"]
            results = await _all(
                self.run_steps(
                    steps, f"{path}.{name}.", scope, extra, join_path(where, "branches", name)
                )
                for name, steps in branches.items()
            )
            return {
                name: _outputs(steps, result)
                for (name, steps), result in zip(branches.items(), results, strict=True)
            }
        # foreach
        items = self._evaluate(step["items"], context, f"{where}.items", step, path, stored=False)
        if not isinstance(items, list):
            raise StepError(f"items must be a list, got {type(items).__name__}", retryable=False)
        if len(items) > MAX_FOREACH_ITEMS:
            raise StepError(
                f"items has {len(items)} entries; at most {MAX_FOREACH_ITEMS}", retryable=False
            )
        gate = asyncio.Semaphore(int(step.get("concurrency") or 1))
        body: list[dict[str, Any]] = step["steps"]
        suspended = False
        begun = {  # the items an earlier run started: "each[3]." of "each[3].notify"
            key[: key.index("].", len(path)) + 2]
            for key in self.recorded
            if key.startswith(f"{path}[") and "]." in key[len(path) :]
        }

        async def one(index: int, item: Any) -> dict[str, Any]:
            nonlocal suspended
            loop = {
                "index": index + 1,
                "index0": index,
                "length": len(items),
                "first": index == 0,
                "last": index == len(items) - 1,
            }
            async with gate:
                prefix = f"{path}[{index}]."
                if suspended and prefix not in begun:
                    # Once an item waits, start no new ones: `concurrency` counts waiting
                    # items too (it bounds, say, the child executions running at once).
                    # Items that started before are re-entered, so that what they waited
                    # for is recorded when it comes.
                    raise Suspend(None)
                try:
                    return await self.run_steps(
                        body, prefix, scope, {**extra, "item": item, "loop": loop}, f"{where}.steps"
                    )
                except Suspend:
                    suspended = True
                    raise

        results = await _all(one(index, item) for index, item in enumerate(items))
        return [_outputs(body, result) for result in results]

    def _check_deadline(self) -> None:
        deadline = self.execution.deadline
        if deadline is not None and datetime.now(UTC) >= deadline:
            raise StepFailed(
                "",
                {"message": f"the execution timed out (its deadline was {deadline.isoformat()})"},
            )


class _Suspended:
    def __init__(self, until: datetime | None) -> None:
        self.until = until


async def _or_suspended(coroutine: Any) -> Any:
    try:
        return await coroutine
    except Suspend as suspension:
        return _Suspended(suspension.until)


async def _all(coroutines: Any) -> list[Any]:
    """Run concurrently; the first failure cancels the rest and is raised as it is.

    A suspension does not stop the others: they run on until they end or wait too, and
    then Suspend is raised with the earliest timer among them.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_or_suspended(coroutine)) for coroutine in coroutines]
    except BaseExceptionGroup as failures:
        first: BaseException = failures
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    results = [task.result() for task in tasks]
    waiting = [result for result in results if isinstance(result, _Suspended)]
    if waiting:
        timers = [result.until for result in waiting if result.until is not None]
        raise Suspend(min(timers) if timers else None)
    return results


def _outputs(steps: list[dict[str, Any]], visible: Mapping[str, Any]) -> dict[str, Any]:
    """A nested list's step outputs, keyed by step id."""
    return {step["id"]: visible[step["id"]]["output"] for step in steps if step["id"] in visible}


def _since(started: datetime) -> float:
    return round((datetime.now(UTC) - started).total_seconds() * 1000, 1)


def _elapsed(clock: float) -> float:
    return round((time.perf_counter() - clock) * 1000, 1)


def _unexpected(exc: Exception, step: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The error of a step whose code raised what no step should: a bug, or a limit of
    the process (memory). Logged with its traceback; the step fails, the worker goes on."""
    if isinstance(exc, MemoryError):
        return {
            "message": "the step needed more memory than the worker may use "
            "(FLOWDECK_WORKER_MEMORY_MB)"
        }
    log.error("step %s (%s) failed unexpectedly", path, step["type"], exc_info=exc)
    detail = str(exc) or type(exc).__name__
    return {"message": f"the {step['type']} step failed unexpectedly: {detail}"}
