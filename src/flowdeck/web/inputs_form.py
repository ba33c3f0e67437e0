"""Forms generated from a definition's declared inputs, and the values read back.

Each declared input becomes a field named `input.<name>`: a select for an `enum`, a
checkbox for a boolean, a textarea of JSON for an object or an array, a text or
number box otherwise. Read back, the values stay text where the engine coerces text
itself ("42" for an integer); JSON fields are parsed here so a typo is reported at
`inputs.<name>` before anything starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from flowdeck.definition.issues import DefinitionError, Issue
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentLimits,
    DocumentRefusedError,
    MalformedDocumentError,
    load_json,
)

PREFIX = "input."


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | integer | number | boolean | object | array
    widget: str  # text | number | checkbox | select | json
    description: str
    required: bool
    value: str  # what the field shows
    choices: list[str]

    @property
    def form_name(self) -> str:
        return PREFIX + self.name


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind in ("object", "array"):
        # Text is what a person typed (shown again after an error), anything else a value.
        return value if isinstance(value, str) else json.dumps(value, indent=2)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields(declared: Mapping[str, Any], given: Mapping[str, Any] | None = None) -> list[Field]:
    """The fields for the declared inputs, filled with `given` values or the defaults."""
    result = []
    for name, raw in declared.items():
        spec = raw if isinstance(raw, Mapping) else {}
        kind = str(spec.get("type", "string"))
        default = spec.get("default")
        required = spec["required"] if spec.get("required") is not None else default is None
        enum = spec.get("enum")
        if enum:
            widget = "select"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("object", "array"):
            widget = "json"
        elif kind in ("integer", "number"):
            widget = "number"
        else:
            widget = "text"
        value = given[name] if given is not None and name in given else default
        result.append(
            Field(
                name=name,
                kind=kind,
                widget=widget,
                description=str(spec.get("description") or ""),
                required=bool(required),
                value=_shown(value, kind),
                choices=[_shown(choice, kind) for choice in enum or []],
            )
        )
    return result


def read(
    declared: Mapping[str, Any], form: FormData, limits: DocumentLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The inputs a form gives; empty optional fields are left out (defaults apply).

    DefinitionError at `inputs.<name>` for JSON that does not parse or is past `limits`.
    """
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    for item in fields(declared):
        sent = form.get(item.form_name)
        if item.widget == "checkbox":
            # An unticked box sends nothing: that is false, not "not given".
            values[item.name] = sent is not None
            continue
        text = sent if isinstance(sent, str) else ""
        if text.strip() == "":
            continue
        if item.widget == "json":
            try:
                values[item.name] = load_json(text, limits, subject="The value")
            except MalformedDocumentError as exc:
                where = f" at {exc.position(column=False)}" if exc.line is not None else ""
                issues.append(Issue(f"inputs.{item.name}", f"not JSON: {exc.problem}{where}"))
            except DocumentRefusedError as exc:
                issues.append(Issue(f"inputs.{item.name}", exc.problem))
            continue
        values[item.name] = text
    if issues:
        raise DefinitionError(issues, subject="the inputs")
    return values
