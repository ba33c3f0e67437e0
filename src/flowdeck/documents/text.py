"""Text PostgreSQL cannot store: the NUL character, and lone surrogates.

JSON's `\\u0000` and `\\ud800` escapes (and YAML's `\\0`, `\\x00`) give Python strings
that no PostgreSQL column holds: `text` refuses NUL, `jsonb` refuses the escape
`\\u0000`, and a lone surrogate is not UTF-8 at all. Such text would reach the database
only to fail there, as a server error, so every document is checked where it is
parsed and refused with the path of the first such string, and every query parameter
and path segment where a request is routed (`flowdeck.http.bodies`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flowdeck.documents.limits import DocumentRefusedError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(text[error.start])
            return f"contains a lone surrogate (\\u{code:04x}), which is not valid Unicode text"
    return None


def number_problem(value: float) -> str | None:
    """Why a parsed number cannot be stored (JSON has no infinity; jsonb refuses it)."""
    if math.isfinite(value):
        return None
    if math.isnan(value):
        return "is NaN, which is not a number JSON or the database can hold"
    return f"is a number too large to store ({value})"


class UnstorableValueError(DocumentRefusedError):
    """A document holding a value that cannot be stored. `path` is its JSON path ("" for
    the document itself), `reason` what is wrong with it; `problem` says both."""

    def __init__(self, subject: str, path: str, reason: str, *, key: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.key = key
        what = "a key" if key else "a value"
        where = f" at {path}" if path else ""
        problem = f"{what}{where} {reason}"
        super().__init__(problem, None, message=f"{subject} has {what}{where} that {reason}.")


def first_unstorable(data: Any, *, numbers: bool = True) -> tuple[str, str, bool] | None:
    """The first string (or, with `numbers`, number) in `data` that cannot be stored:
    (path, problem, is a key).

    Iterative (parsed JSON may be nested as deeply as the parser allows); called only
    once a cheaper pass has found that there is one, to say where.
    """
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            children: list[tuple[Any, str]] = []
            for key, value in node.items():
                child = join(path, str(key))
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    return child, problem, True
                children.append((value, child))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(
                (item, f"{path}[{index}]") for index, item in reversed(list(enumerate(node)))
            )
        elif isinstance(node, str):
            if (problem := text_problem(node)) is not None:
                return path, problem, False
        elif numbers and isinstance(node, float) and (problem := number_problem(node)) is not None:
            return path, problem, False
    return None


def join(path: str, key: str) -> str:
    """`path.key`, or `path["a b"]` for a key that is not a plain name (the form of the
    definition's issue paths, `flowdeck.definition.issues.join_path`, which is above this
    package). json.dumps escapes a NUL or a surrogate, so the path can always be shown."""
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"
