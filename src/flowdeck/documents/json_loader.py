"""JSON with limits: the standard parser, then a count of what it built, without recursion.

JSON has no aliases, so a document holds no more than its text: the request body cap
(FLOWDECK_MAX_BODY_BYTES) already bounds what the parser builds, and the count after
it is as cheap as the parse. Nesting is the exception: `json.loads` recurses, so a
document nested past Python's recursion limit raises RecursionError, reported here as
the depth limit it is far past.
"""

from __future__ import annotations

import json
from typing import Any

from flowdeck.documents.limits import (
    DEFAULT_LIMITS,
    DOCUMENT,
    DocumentLimits,
    MalformedDocumentError,
    Tally,
    text_bytes,
)
from flowdeck.documents.text import (
    UnstorableValueError,
    first_unstorable,
    number_problem,
    text_problem,
)

LANGUAGE = "JSON"


def load_json(
    text: str | bytes, limits: DocumentLimits = DEFAULT_LIMITS, *, subject: str = DOCUMENT
) -> Any:
    """The data of a JSON text held to `limits`.

    Raises MalformedDocumentError (with the line and column) for text that is not JSON,
    and DocumentTooComplexError past a limit (JSON gives no line for those).
    """
    tally = Tally(limits, subject=subject, expanded=False)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedDocumentError(LANGUAGE, exc.msg, exc.lineno, exc.colno) from None
    except UnicodeDecodeError:
        raise MalformedDocumentError(LANGUAGE, "the text is not UTF-8") from None
    except RecursionError:
        raise tally.too_deep(None) from None
    except ValueError as exc:  # a number too long to convert (sys.get_int_max_str_digits)
        raise MalformedDocumentError(LANGUAGE, str(exc)) from None
    if not count(data, tally):
        found = first_unstorable(data)
        if found is not None:  # (always: count found one)
            path, problem, key = found
            raise UnstorableValueError(subject, path, problem, key=key)
    return data


def count(data: Any, tally: Tally) -> bool:
    """Count every node of parsed JSON in `tally` (keys count as nodes, and their text).

    False when a string or number in it cannot be stored (flowdeck.documents.text): the
    check rides on this walk, which looks at every string anyway, and only then does
    a second walk find where.
    """
    if not isinstance(data, dict | list):
        tally.add(1, text_bytes(data) if isinstance(data, str) else 0, None)
        return _storable(data)
    storable = True
    # An explicit stack, as the document may be nested as deeply as json.loads allows,
    # holding containers only: a megabyte of small values makes no garbage to collect.
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        tally.enter(depth, None)
        nodes, size = 1, 0
        if isinstance(container, dict):
            nodes += len(container)
            for key in container:
                size += text_bytes(key)
                storable = storable and _storable(key)
            items: Any = container.values()
        else:
            items = container
        if container:
            tally.enter(depth + 1, None)  # its keys and values, containers or not
        for item in items:
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))
            else:
                nodes += 1
                if isinstance(item, str):
                    size += text_bytes(item)
                storable = storable and _storable(item)
        tally.add(nodes, size, None)
    return storable


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        return text_problem(value) is None
    if isinstance(value, float):
        return number_problem(value) is None
    return True
