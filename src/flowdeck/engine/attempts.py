"""Running one step once the runner has decided to run it, by its kind: an action's
attempts (its policy's retries, backoff and timeout), a durable step's entry (which may
suspend the execution), a control-flow step's run of its nested steps. Each returns the
step's result; what is not the step's to fail (Interrupted, the database) goes up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flowdeck.definition.expressions import ExpressionError
from flowdeck.engine.evaluation import expression_error
from flowdeck.engine.results import (
    NOT_THE_STEPS,
    NOT_THE_STEPS_NOR_SUSPEND,
    StepFailed,
    StepResult,
)
from flowdeck.engine.states import StepStatus
from flowdeck.engine.step_policy import StepPolicy
from flowdeck.engine.steps import Kind, StepType
from flowdeck.engine.steps.base import ControlRun, DurableRun, StepError, StepRun, Suspend

if TYPE_CHECKING:  # the runner calls these; they call back into it
    from flowdeck.engine.runner import Runner

log = logging.getLogger(__name__)


async def run_action(
    runner: Runner,
    kind: StepType | None,
    step: dict[str, Any],
    path: str,
    where: str,
    context: Mapping[str, Any],
    previous_attempts: int,
    started: datetime,
) -> StepResult:
    """A local or action step: attempts until one succeeds, a failure is not retryable,
    or the policy's attempts are spent; exponential backoff with jitter in between.
    `kind` None: a type this version does not have (the step fails, saying so)."""
    try:
        policy = StepPolicy.of(
            step,
            lambda value, key: runner.evaluate(value, context, f"{where}.{key}", step, path),
        )
    except ExpressionError as exc:
        error = expression_error(exc, where)
        return StepResult(StepStatus.FAILED, error=error, started_at=started)
    except ValueError as exc:  # a duration computed by an expression that is not one
        error = {"message": f"{where}: timeout or retry: {exc}", "path": where}
        return StepResult(StepStatus.FAILED, error=error, started_at=started)
    execution = runner.execution
    handler = kind.run if kind is not None else None
    local = kind is not None and kind.kind is Kind.LOCAL
    attempt = previous_attempts
    clock = time.perf_counter()
    while True:
        attempt += 1
        # A resumed execution records local steps as running too, so that a step which
        # keeps killing its worker is named when the crash limit ends the execution.
        if not local or execution.attempt > 1:
            await runner.store.begin(path, step, attempt)
        run = StepRun(execution.id, path, attempt, runner.http, step, outbound=runner.outbound)
        try:
            args = runner.evaluate(step.get("with") or {}, context, f"{where}.with", step, path)
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
            error, retryable = unexpected(exc, step, path), False
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


async def run_durable(
    runner: Runner,
    kind: StepType,
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
    await runner.store.begin(path, step, 1)
    run = DurableRun(runner.execution.id, path, step, started, state, runner.store)
    try:
        args = runner.evaluate(step.get("with") or {}, context, f"{where}.with", step, path)
        if kind.enter is None:
            raise StepError(f"the step type {step['type']!r} cannot wait", retryable=False)
        output = await kind.enter(args, run)
    except ExpressionError as exc:
        error = expression_error(exc, f"{where}.with")
    except StepError as exc:
        error = exc.as_error()
        error.pop("retryable", None)
    except Suspend as suspension:
        waiting = StepResult(
            StepStatus.WAITING, output=suspension.state, attempts=1, started_at=started
        )
        await runner.store.suspend(path, step, waiting)
        raise Suspend(suspension.until) from None
    except NOT_THE_STEPS:
        raise
    except Exception as exc:
        error = unexpected(exc, step, path)
    else:
        return _once(StepStatus.SUCCEEDED, started, _since(started), output=output)
    return _once(StepStatus.FAILED, started, _since(started), error=error)


async def run_control(kind: StepType, run: ControlRun, started: datetime) -> StepResult:
    """A branch, foreach or parallel step: its nested steps' failure is its own."""
    clock = time.perf_counter()
    try:
        if kind.control is None:
            raise StepError(f"the step type {run.step['type']!r} runs no steps", retryable=False)
        output = await kind.control(run)
    except StepFailed as failure:
        return StepResult(
            StepStatus.FAILED,
            error={**failure.error, "step": failure.path},
            elapsed_ms=_elapsed(clock),
            started_at=started,
        )
    except ExpressionError as exc:
        return StepResult(
            StepStatus.FAILED, error=expression_error(exc, run.where), started_at=started
        )
    except StepError as exc:
        return StepResult(StepStatus.FAILED, error=exc.as_error(), started_at=started)
    except NOT_THE_STEPS_NOR_SUSPEND:
        raise
    except Exception as exc:
        error = unexpected(exc, run.step, run.path)
        return StepResult(StepStatus.FAILED, error=error, started_at=started)
    return _once(StepStatus.SUCCEEDED, started, _elapsed(clock), output=output)


def unexpected(exc: Exception, step: Mapping[str, Any], path: str) -> dict[str, Any]:
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


def _once(status: StepStatus, started: datetime, elapsed_ms: float, **result: Any) -> StepResult:
    """The result of a step that runs once (durable, control flow): no attempts to count."""
    return StepResult(status, attempts=1, elapsed_ms=elapsed_ms, started_at=started, **result)


def _since(started: datetime) -> float:
    return round((datetime.now(UTC) - started).total_seconds() * 1000, 1)


def _elapsed(clock: float) -> float:
    return round((time.perf_counter() - clock) * 1000, 1)
