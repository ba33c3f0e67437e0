"""Checks and conversions of the documents users send: definitions, configs, exports.

Shared by the API and the CLI so that both answer bad input with the same paths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from flowdeck.definition.document import (
    DefinitionError,
    InputSpec,
    Issue,
    coerce_inputs,
    validate_definition,
)
from flowdeck.definition.issues import json_problems
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentLimits,
    MalformedDocumentError,
    load_json,
    load_yaml,
)

EXPORT_KIND = "flowdeck/workflow"
EXPORT_VERSION = 1


def parse_text(
    text: str, *, json_only: bool = False, limits: DocumentLimits = DEFAULT_LIMITS
) -> Any:
    """Parse JSON (or YAML, a superset for our purposes), saying where it breaks.

    Held to `limits` while it is parsed (DocumentTooComplexError; the CLI, which has no
    settings, keeps the defaults); MalformedDocumentError for text that is not JSON or
    YAML, or that holds a value JSON cannot (a date, a non-text key).
    """
    data = load_json(text, limits) if json_only else load_yaml(text, limits)
    for path, problem in json_problems(data):
        raise MalformedDocumentError("as JSON", f"{path or 'the document'}: {problem}")
    return data


def check_definition(definition: Mapping[str, Any]) -> dict[str, InputSpec]:
    """Validate a definition; return its declared inputs. Raises DefinitionError."""
    return dict(validate_definition(dict(definition)).inputs)


def check_config(
    declared: Mapping[str, InputSpec], config: Mapping[str, Any], *, path: str = "config"
) -> dict[str, Any]:
    """Check a workflow's config against the declared inputs and coerce its values.

    A config may leave inputs out (they can be given when the workflow runs), but it
    may not name an input that is not declared, nor give a value of the wrong type.
    """
    unknown = [name for name in config if name not in declared]
    issues = [
        Issue(
            f"{path}.{name}",
            f"not a declared input; declared: {', '.join(sorted(declared)) or 'none'}",
        )
        for name in unknown
    ]
    given = {name: value for name, value in config.items() if name in declared}
    coerced: dict[str, Any] = {}
    try:
        coerced = coerce_inputs(
            {name: spec for name, spec in declared.items() if name in given}, given, path=path
        )
    except DefinitionError as error:
        issues.extend(error.issues)
    if issues:
        raise DefinitionError(issues)
    # Only what the person set: defaults stay in the definition, where they can change.
    return {name: coerced[name] for name in given}


# Keys first in this order when a definition is shown or exported; PostgreSQL's jsonb keeps keys
# sorted by length, which would put `steps` above `inputs`.
_TOP_ORDER = ("goal", "inputs", "conditions", "timeout", "steps", "outputs")
_STEP_ORDER = ("id", "name", "type", "when", "if", "items", "concurrency", "with")


def _ordered(value: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    first = [key for key in order if key in value]
    return {key: value[key] for key in [*first, *(k for k in value if k not in first)]}


def _steps_ordered(steps: Any) -> Any:
    if not isinstance(steps, list):
        return steps
    result = []
    for step in steps:
        step = _ordered(step, _STEP_ORDER)
        if isinstance(step, dict):
            for nested in ("steps", "then", "else"):
                if nested in step:
                    step[nested] = _steps_ordered(step[nested])
            if isinstance(step.get("branches"), dict):
                step["branches"] = {k: _steps_ordered(v) for k, v in step["branches"].items()}
        result.append(step)
    return result


def ordered_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with its keys in the order people write them (a copy)."""
    shown: dict[str, Any] = _ordered(dict(definition), _TOP_ORDER)
    if "steps" in shown:
        shown["steps"] = _steps_ordered(shown["steps"])
    return shown


def export_document(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow as a portable document (no ids, owners or counters)."""
    return {
        "kind": EXPORT_KIND,
        "version": EXPORT_VERSION,
        "name": workflow["name"],
        "description": workflow.get("description"),
        "category": workflow.get("category"),
        "config": workflow.get("config") or {},
        "definition": ordered_definition(workflow["definition"]),
    }


def render_export(document: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)
