"""The control-flow steps: branch, parallel, foreach. They run nested steps through the
runner (ControlRun.flow); their results are recorded like any step's.

A suspension inside one branch or item does not stop the others: they run on until they
end or wait too, and then the step suspends with the earliest timer among them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any

from flowdeck.definition.issues import join_path
from flowdeck.definition.steps_schema import BranchStep, ForeachStep
from flowdeck.engine.steps.base import ControlRun, StepError, Suspend, field_default

MAX_FOREACH_ITEMS = 10_000
NO_STEPS: list[dict[str, Any]] = field_default(BranchStep, "then")
FOREACH_CONCURRENCY: int = field_default(ForeachStep, "concurrency")


async def run_branch(run: ControlRun) -> Any:
    """Output: {taken: then|else}."""
    step, path, where = run.step, run.path, run.where
    holds = run.flow.evaluate(step["if"], run.context, f"{where}.if", step, path, stored=False)
    taken = "then" if holds else "else"
    await run.flow.run_steps(
        step.get(taken) or NO_STEPS, f"{path}.{taken}.", run.scope, run.extra, f"{where}.{taken}"
    )
    return {"taken": taken}


async def run_parallel(run: ControlRun) -> Any:
    """Output: {branch name: its steps' outputs}."""
    branches: dict[str, list[dict[str, Any]]] = run.step["branches"]
    results = await _all(
        run.flow.run_steps(
            steps,
            f"{run.path}.{name}.",
            run.scope,
            run.extra,
            join_path(run.where, "branches", name),
        )
        for name, steps in branches.items()
    )
    return {
        name: _outputs(steps, result)
        for (name, steps), result in zip(branches.items(), results, strict=True)
    }


async def run_foreach(run: ControlRun) -> Any:
    """Output: the list of each item's steps' outputs."""
    step, path, where = run.step, run.path, run.where
    items = run.flow.evaluate(
        step["items"], run.context, f"{where}.items", step, path, stored=False
    )
    if not isinstance(items, list):
        raise StepError(f"items must be a list, got {type(items).__name__}", retryable=False)
    if len(items) > MAX_FOREACH_ITEMS:
        raise StepError(
            f"items has {len(items)} entries; at most {MAX_FOREACH_ITEMS}", retryable=False
        )
    gate = asyncio.Semaphore(int(step.get("concurrency") or FOREACH_CONCURRENCY))
    body: list[dict[str, Any]] = step["steps"]
    suspended = False
    begun = {  # the items an earlier run started: "each[3]." of "each[3].notify"
        key[: key.index("].", len(path)) + 2]
        for key in run.flow.recorded
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
                return await run.flow.run_steps(
                    body,
                    prefix,
                    run.scope,
                    {**run.extra, "item": item, "loop": loop},
                    f"{where}.steps",
                )
            except Suspend:
                suspended = True
                raise

    results = await _all(one(index, item) for index, item in enumerate(items))
    return [_outputs(body, result) for result in results]


class _Suspended:
    def __init__(self, until: datetime | None) -> None:
        self.until = until


async def _or_suspended(coroutine: Awaitable[Any]) -> Any:
    try:
        return await coroutine
    except Suspend as suspension:
        return _Suspended(suspension.until)


async def _all(coroutines: Iterable[Awaitable[Any]]) -> list[Any]:
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
