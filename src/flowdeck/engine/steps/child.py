"""The `workflow` step: run another of the user's workflows as a child execution.

The child is started once per step path (its idempotency key is `<parent id>:<path>`),
so a replay finds the same child instead of starting a second. The parent waits in the
database; the worker that ends the child wakes it, and the step re-enters to read the
child's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.engine.steps.base import DurableRun, StepError, Suspend


async def run_workflow(args: Mapping[str, Any], run: DurableRun) -> Any:
    """Output: the child's outputs. A failed or cancelled child fails the step."""
    if run.state is not None and "child" in run.state:
        child_id = str(run.state["child"])
    else:
        inputs = args.get("inputs") or {}
        if not isinstance(inputs, Mapping):
            raise StepError(
                f"with.inputs must be a mapping, got {type(inputs).__name__}", retryable=False
            )
        child_id = await run.store.start_child(run.path, str(args["workflow"]), inputs)
    child = await run.store.child(child_id)
    if child is None:
        raise StepError(f"the child execution {child_id} was deleted", retryable=False)
    status = ExecutionStatus(child.status)
    if status not in FINAL:
        raise Suspend(None, {"child": child_id})
    if status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.SKIPPED):
        return child.outputs
    error = child.error or {}
    raise StepError(
        f"the child execution {status}: {error.get('message', 'no reason given')}",
        child_execution_id=child_id,
        child_error=error,
        retryable=False,
    )
