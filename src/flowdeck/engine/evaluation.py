"""How the runner evaluates the expressions of a definition: rendered, checked that the
result can be stored, and announced to the watchdog while they run.

`where` is the place in the definition (`steps[1].with`, `conditions[0]`): errors name
the exact path below it (`steps[1].with.s`), as validation does before the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdeck.definition.expressions import ExpressionError, render
from flowdeck.definition.values import storable_problem
from flowdeck.engine import watchdog


def evaluate(
    value: Any,
    context: Mapping[str, Any],
    where: str,
    *,
    execution_id: str,
    step: Mapping[str, Any] | None = None,
    path: str = "",
    stored: bool = True,
) -> Any:
    """`value` rendered against `context`; raise ExpressionError with the path.

    With `stored` (arguments, outputs) the result must be a value JSON can hold; a
    condition (`when`, `if`) is only tested for truth and need not be. `execution_id`,
    `step` and `path` (the step's path in the execution) tell the watchdog whose work
    this is.
    """
    board = watchdog.current_board()
    if board is None:
        result = render(value, context, where)
    else:
        step_id, step_type = (step["id"], step["type"]) if step is not None else ("", "")

        def at(expression_path: str) -> None:
            board.mark(watchdog.Mark(execution_id, path, step_id, step_type, expression_path))

        try:
            result = render(value, context, where, at)
        finally:
            board.clear()
    if stored:
        problem = storable_problem(result, where)
        if problem is not None:
            path, message = problem
            raise ExpressionError(message, path=path)
    return result


def expression_error(exc: ExpressionError, where: str) -> dict[str, Any]:
    """A step's or an execution's error for a failed expression: where, and what."""
    path = exc.path or where
    error: dict[str, Any] = {"message": f"{path}: {exc.message}", "path": path}
    if exc.line is not None:
        error["line"] = exc.line
    return error
