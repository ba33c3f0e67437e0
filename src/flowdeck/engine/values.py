"""Whether a value an expression built can be stored: JSON, and of a bounded size.

Step arguments, step outputs and execution outputs are written as JSON. A value that
JSON cannot hold (`{{ config.items() }}`, a date) or that only grows when written out
(a list holding the same list twice, nested forty times: small in memory, 2**40 items as
text) must fail its step with the path and the type, not the write that comes after.
"""

from __future__ import annotations

import math
from typing import Any

from flowdeck.engine import limits
from flowdeck.engine.issues import join_path

_SCALARS = (str, int, float, bool, type(None))


def storable_problem(value: Any, path: str) -> tuple[str, str] | None:
    """(path, problem) of the first part of `value` that cannot be stored, or None.

    Walks without recursion and counts every item as it will be written (a list that
    appears twice counts twice), stopping as soon as the count passes the size limit.
    """
    budget = limits.current().max_size
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        budget -= 1
        if budget < 0:
            return path, (
                f"the value has more than {limits.current().max_size} items and characters "
                "when written out (FLOWDECK_EXPRESSION_MAX_SIZE)"
            )
        if isinstance(item, str):
            budget -= len(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return where, f"a key of type {type(key).__name__} is not JSON (keys are text)"
                stack.append((child, join_path(where, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, join_path(where, index)) for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return where, f"{item} is not a JSON number"
        elif not isinstance(item, _SCALARS):
            return where, f"a value of type {type(item).__name__} is not JSON"
    return None
