"""The definition document (DESIGN §4): its models, its static validation, input coercion.

`validate_definition` is what the API, the CLI and the engine call before saving or
running a definition: it returns the typed `Definition` or raises `DefinitionError` with
every problem found, each at a JSON path such as `steps[2].with.url`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from flowdeck.definition.checks import static_issues
from flowdeck.definition.expressions import is_expression
from flowdeck.definition.issues import DefinitionError, Issue, did_you_mean, join_path, sort_issues
from flowdeck.definition.shape import known_keys, shape_issues
from flowdeck.definition.step_base import LiteralTimeout, Name, StepBase, StrictModel
from flowdeck.definition.steps_schema import STEP_TYPES, Step
from flowdeck.documents import DocumentRefusedError, MalformedDocumentError, load_json, load_yaml

__all__ = [
    "STEP_TYPES",
    "Definition",
    "DefinitionError",
    "InputSpec",
    "Issue",
    "Step",
    "StepBase",
    "coerce_inputs",
    "coerce_value",
    "iter_steps",
    "validate_definition",
]

InputType = Literal["string", "integer", "number", "boolean", "object", "array"]

_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_value(kind: InputType, value: object) -> object:
    """`value` as an input of type `kind`, reading text as a command line or form gives it.

    "7" is 7 for an integer, "2.5" is 2.5 for a number, "yes"/"no"/"true"/"false"/"1"/"0"
    are booleans, JSON text is an object or an array. Raise ValueError saying what was
    expected.
    """
    if kind == "string":
        if isinstance(value, str):
            return value
        raise ValueError(f"expected text, got {_shown(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"expected true or false (or yes/no, 1/0), got {_shown(value)}")
    if kind in ("integer", "number"):
        return _number(kind, value)
    expected: type[dict[Any, Any]] | type[list[Any]] = dict if kind == "object" else list
    word = "an object (a JSON mapping)" if kind == "object" else "an array (a JSON list)"
    if isinstance(value, str):
        try:
            value = load_json(value, subject="The text")
        except MalformedDocumentError:
            raise ValueError(
                f"expected {word}, got text that is not JSON: {_shown(value)}"
            ) from None
        except DocumentRefusedError as exc:
            raise ValueError(f"expected {word}: {exc.problem}") from None
    if isinstance(value, tuple) and kind == "array":
        value = list(value)
    if isinstance(value, expected):
        return value
    raise ValueError(f"expected {word}, got {_shown(value)}")


def _number(kind: InputType, value: object) -> int | float:
    whole = kind == "integer"
    word = "a whole number" if whole else "a number"
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return int(text)
        if not whole:
            try:
                value = float(text)
            except ValueError:
                pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected {word}, got {_shown(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected {word}, got {value!r}")
        if whole:
            if not value.is_integer():
                raise ValueError(f"expected a whole number, got {value!r}")
            return int(value)
    return value


class InputSpec(StrictModel):
    """A declared input. With a default it is optional; without one it is required unless
    `required: false` says otherwise (the value is then null when not given)."""

    type: InputType = "string"
    description: str | None = None
    default: Any = None
    enum: list[Any] | None = None
    required: bool | None = None

    @property
    def is_required(self) -> bool:
        """Whether an execution must be given this input."""
        return self.required if self.required is not None else self.default is None

    @field_validator("default")
    @classmethod
    def _default_fits(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is not None and kind is not None:
            try:
                coerce_value(kind, value)
            except ValueError as exc:
                raise ValueError(f"the default does not fit the type {kind}: {exc}") from None
        return value

    @field_validator("enum")
    @classmethod
    def _enum_fits(cls, value: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        kind, default = info.data.get("type"), info.data.get("default")
        if value is None or kind is None:
            return value
        if not value:
            raise ValueError("list at least one allowed value, or leave 'enum' out")
        try:
            allowed = [coerce_value(kind, item) for item in value]
        except ValueError as exc:
            raise ValueError(f"a value does not fit the type {kind}: {exc}") from None
        if default is not None and coerce_value(kind, default) not in allowed:
            raise ValueError(f"the default {default!r} is not one of these values")
        return value

    @field_validator("required")
    @classmethod
    def _required_without_default(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value and info.data.get("default") is not None:
            raise ValueError(
                "an input with a default is optional: remove 'required: true' or the default"
            )
        return value


def _condition(value: Any) -> str:
    if is_expression(value):
        return str(value)
    hint = (
        f" (did you mean '{{{{ {value.strip()} }}}}'?)"
        if isinstance(value, str) and value.strip()
        else ""
    )
    raise ValueError(
        f"a condition is an expression such as '{{{{ inputs.count > 0 }}}}', got {value!r}{hint}"
    )


class Definition(StrictModel):
    """A workflow definition: what it takes, when it runs, what it does and gives back."""

    goal: str | None = None
    inputs: dict[Name, InputSpec] = Field(default_factory=dict)
    conditions: list[Annotated[str, PlainValidator(_condition, json_schema_input_type=str)]] = (
        Field(default_factory=list)
    )
    steps: list[Step] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    timeout: LiteralTimeout | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # YAML reads `inputs:` with nothing under it as null: that means "none".
        if isinstance(data, Mapping):
            sections = ("inputs", "conditions", "steps", "outputs")
            return {
                key: value for key, value in data.items() if not (key in sections and value is None)
            }
        return data

    def to_document(self) -> dict[str, Any]:
        """The definition as JSON-ready data, with the keys as written (`with`, `if`...)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def iter_steps(steps: Sequence[Step], path: str = "steps") -> Iterator[tuple[str, Step]]:
    """Every step with its JSON path, nested ones right after the step that holds them."""
    for index, step in enumerate(steps):
        here = join_path(path, index)
        yield here, step
        for key, nested in step.children():
            yield from iter_steps(nested, join_path(here, *key.split(".")))


def _load(text: str | bytes) -> object:
    try:
        return load_yaml(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        raise DefinitionError(
            [Issue("", "not valid YAML or JSON: the text is not UTF-8")]
        ) from None
    except MalformedDocumentError as exc:
        where = f" ({exc.position()})" if exc.line is not None else ""
        raise DefinitionError(
            [Issue("", f"not valid YAML or JSON: {exc.problem}{where}")]
        ) from None
    except DocumentRefusedError as exc:
        where = f" ({exc.position(column=False)})" if exc.line is not None else ""
        raise DefinitionError([Issue("", f"{exc.problem}{where}")]) from None


def validate_definition(document: object) -> Definition:
    """The typed definition, or DefinitionError listing every problem of `document`.

    `document` is the parsed definition (a mapping), YAML or JSON text, or a Definition
    (checked again). Shape, step types and arguments, durations, unique step ids,
    expression syntax and what expressions refer to are all checked in one pass.
    """
    if isinstance(document, Definition):
        document = document.to_document()
    elif isinstance(document, str | bytes):
        document = _load(document)
    if not isinstance(document, Mapping):
        kind = "nothing" if document is None else type(document).__name__
        expected = ", ".join(known_keys(Definition))
        raise DefinitionError(
            [Issue("", f"a definition is a mapping with the keys {expected}; got {kind}")]
        )
    data = dict(document)
    issues: list[Issue] = []
    definition: Definition | None = None
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        issues.extend(shape_issues(exc, Definition))
    issues.extend(static_issues(data))
    if issues or definition is None:
        raise DefinitionError(sort_issues(issues))
    return definition


def coerce_inputs(
    declared: Mapping[str, InputSpec], given: Mapping[str, object], *, path: str = "inputs"
) -> dict[str, object]:
    """The values an execution runs with: `given` checked against `declared`, text coerced
    (see coerce_value), defaults applied, optional inputs not given set to None.

    Blank text for a non-string input counts as not given (an empty form field). Raise
    DefinitionError listing every unknown, missing or ill-typed input at `path.<name>`.
    """
    issues: list[Issue] = []
    listed = ", ".join(sorted(declared)) if declared else ""
    for name in given:
        if name not in declared:
            where = f"declared: {listed}" if declared else "none are declared"
            hint = did_you_mean(str(name), declared)
            issues.append(Issue(join_path(path, str(name)), f"not a declared input{hint}; {where}"))
    values: dict[str, object] = {}
    for name, spec in declared.items():
        here = join_path(path, name)
        value = given.get(name)
        if isinstance(value, str) and not value.strip() and spec.type != "string":
            value = None
        if value is None:
            if spec.default is None:
                if spec.is_required:
                    about = f": {spec.description}" if spec.description else ""
                    issues.append(Issue(here, f"missing required input ({spec.type}){about}"))
                else:
                    values[name] = None
                continue
            value = copy.deepcopy(spec.default)  # a mutable default must not be shared by runs
        try:
            values[name] = _checked(spec, value)
        except ValueError as exc:
            issues.append(Issue(here, str(exc)))
    if issues:
        raise DefinitionError(sort_issues(issues), subject=f"the {path}")
    return values


def _checked(spec: InputSpec, value: object) -> object:
    coerced = coerce_value(spec.type, value)
    if spec.enum is not None:
        allowed = [coerce_value(spec.type, item) for item in spec.enum]
        if coerced not in allowed:
            raise ValueError(
                f"{coerced!r} is not one of: {', '.join(repr(item) for item in allowed)}"
            )
    return coerced
