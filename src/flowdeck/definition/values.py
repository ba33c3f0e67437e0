"""Whether a value an expression built can be stored: JSON, and of a bounded size.

Step arguments, step outputs and execution outputs are written as JSON. A value that
JSON cannot hold (`{{ config.items() }}`, a date) or that only grows when written out
(a list holding the same list twice, nested forty times: small in memory, 2**40 items as
text) must fail its step with the path and the type, not the write that comes after.
"""

from __future__ import annotations

import math
from typing import Any

from flowdeck.definition import limits
from flowdeck.definition.issues import join_path

_SCALARS = (str, int, float, bool, type(None))
_PLAIN_SCALARS = frozenset({int, bool, type(None)})  # nothing to check or count


def storable_problem(value: Any, path: str) -> tuple[str, str] | None:
    """(path, problem) of the first part of `value` that cannot be stored, or None.

    Walks without recursion and counts every item as it will be written (a list that
    appears twice counts twice), stopping as soon as the count passes the size limit.
    Paths are kept as parts and spelled out only for a problem: this runs for every step.
    """
    limit = limits.current().max_size
    budget = limit
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, parts = stack.pop()
        budget -= 1
        if budget < 0:
            return path, (
                f"the value has more than {limit} items and characters when written out "
                "(FLOWDECK_EXPRESSION_MAX_SIZE)"
            )
        kind = type(item)
        if kind in _PLAIN_SCALARS:
            continue
        if isinstance(item, str):
            budget -= len(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    where = join_path(path, *parts)
                    return where, f"a key of type {type(key).__name__} is not JSON (keys are text)"
                stack.append((child, (*parts, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*parts, index)) for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return join_path(path, *parts), f"{item} is not a JSON number"
        elif not isinstance(item, _SCALARS):
            return join_path(path, *parts), f"a value of type {type(item).__name__} is not JSON"
    return None
