"""Pydantic's validation errors, told as Issues at our JSON paths in plain words.

Pydantic reports `('steps', 0, 'http', 'with', 'urll')` and "Extra inputs are not
permitted"; a person needs `steps[0].with.urll: unknown argument 'urll' for an http step;
expected one of: ...`. The error location is walked through the models to find which
model, step type and field it is about.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from flowdeck.definition.expressions import is_expression
from flowdeck.definition.issues import Issue, did_you_mean, join_path
from flowdeck.definition.step_base import StepBase
from flowdeck.definition.steps_schema import STEP_TYPES

_ID_RULE = "use letters, digits and underscores, not starting with a digit"


@dataclass
class _Where:
    """What an error location points at."""

    path: str = ""
    parent: str = ""  # the path of the mapping that holds the last key
    key: str | int | None = None  # the last key or index
    owner: type[BaseModel] | None = None  # the model the last key belongs to
    step_type: str | None = None  # the innermost step's type
    in_with: bool = False  # the last key is an argument under `with`
    parent_key: str | int | None = None  # the key before the last one
    is_key: bool = False  # the error is about a mapping's key itself
    at_step: bool = False  # the location is a step (a member of a step list)


def _unwrap(annotation: Any) -> Any:
    """The type under Annotated[...] and Optional[...]; a real union is returned as is."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_step_union(annotation: Any) -> bool:
    if get_origin(annotation) not in (Union, types.UnionType):
        return False
    members = get_args(annotation)
    return all(isinstance(member, type) and issubclass(member, StepBase) for member in members)


def _field(model: type[BaseModel], key: str | int) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in a document (aliases, not attribute names)."""
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _locate(root: type[BaseModel], loc: tuple[str | int, ...]) -> _Where:
    where = _Where()
    current: Any = root
    for part in loc:
        if part == "[key]":
            where.is_key = True
            continue
        annotation = _unwrap(current)
        if _is_step_union(annotation) and isinstance(part, str) and part in STEP_TYPES:
            # Pydantic's discriminator tag: not a key of the document.
            where.step_type = part
            current = STEP_TYPES[part]
            continue
        where.parent, where.parent_key, where.key = where.path, where.key, part
        where.path = join_path(where.path, part)
        where.owner, where.at_step = None, False
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            where.owner = annotation
            where.in_with = where.parent_key == "with" and where.step_type is not None
            field = _field(annotation, part)
            current = field.annotation if field is not None else Any
        elif get_origin(annotation) in (list, tuple):
            current = get_args(annotation)[0] if get_args(annotation) else Any
            where.at_step = _is_step_union(_unwrap(current))
        elif get_origin(annotation) in (dict, Mapping):
            current = get_args(annotation)[1] if get_args(annotation) else Any
        else:
            current = Any
    if where.is_key:
        where.at_step = False
    return where


def _article(step_type: str) -> str:
    return f"an {step_type}" if step_type in ("http", "email", "llm") else f"a {step_type}"


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "dict": "a mapping (key: value)",
    "list": "a list",
}


def _describe(error: ErrorDetails, where: _Where) -> tuple[str, str]:
    """(path, message) for one pydantic error."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    step = _article(where.step_type) if where.step_type else None
    known_types = ", ".join(STEP_TYPES)

    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", value))
        hint = did_you_mean(tag, STEP_TYPES)
        return join_path(where.path, "type"), (
            f"unknown step type {tag!r}{hint}; known types: {known_types}"
        )
    if kind == "union_tag_not_found":
        return join_path(
            where.path, "type"
        ), f"missing 'type': every step needs a type, one of: {known_types}"
    if kind in ("model_attributes_type", "model_type", "dict_type", "mapping_type"):
        if where.at_step:
            return (
                where.path,
                f"a step is a mapping with at least 'id' and 'type', not {_show(value)}",
            )
        return where.path, f"expected a mapping (key: value), got {_show(value)}"
    if kind == "extra_forbidden":
        key = str(where.key)
        expected = known_keys(where.owner) if where.owner else []
        if where.in_with and step:
            message = f"unknown argument {key!r} for {step} step"
        elif step and where.owner and issubclass(where.owner, StepBase):
            message = f"unknown key {key!r} for {step} step"
            args = _field(where.owner, "with")
            args_model = _unwrap(args.annotation) if args else None
            if isinstance(args_model, type) and issubclass(args_model, BaseModel):
                if key in known_keys(args_model):
                    return where.path, f"{message}: {key!r} is an argument, put it under 'with'"
        elif where.parent_key is not None and where.parent.startswith("inputs") and where.owner:
            message = f"unknown key {key!r} for an input"
        elif where.parent == "":
            message = f"unknown key {key!r} in the definition"
        else:
            message = f"unknown key {key!r}"
        hint = did_you_mean(key, expected)
        return where.path, f"{message}{hint}; expected one of: {', '.join(expected)}"
    if kind == "missing":
        key = str(where.key)
        if key == "id" and step:
            return where.path, "missing 'id': every step needs an id, unique in the definition"
        if key == "with" and step and where.owner:
            args = _field(where.owner, "with")
            args_model = _unwrap(args.annotation) if args else None
            if isinstance(args_model, type) and issubclass(args_model, BaseModel):
                required = [
                    field.alias or name
                    for name, field in args_model.model_fields.items()
                    if field.is_required()
                ]
                needs = f" ({', '.join(required)} required)" if required else ""
                return where.path, f"missing 'with': {step} step takes its arguments there{needs}"
            return where.path, f"missing 'with': {step} step takes a mapping of names there"
        if where.in_with and step:
            return where.path, f"missing argument {key!r}: {step} step needs it"
        if step and where.owner and issubclass(where.owner, StepBase):
            return where.path, f"missing {key!r}: {step} step needs it"
        return where.path, f"missing {key!r}, which is required here"
    if kind == "string_pattern_mismatch":
        what = "name"
        if where.is_key and where.parent_key == "branches":
            what = "branch name"
        elif where.is_key and where.parent == "inputs":
            what = "input name"
        elif where.key == "id":
            what = "step id"
        elif where.key == "signal":
            what = "signal name"
        return where.path, f"{_show(value)} is not a valid {what}: {_ID_RULE}"
    if kind == "literal_error":
        return where.path, f"{_show(value)} is not one of: {ctx.get('expected', '')}"
    if kind in ("too_short", "string_too_short"):
        if where.key == "steps" and step:
            return where.path, f"{step} step needs at least one step under 'steps'"
        if where.key == "with" and step:
            return where.path, f"{step} step needs at least one name: value under 'with'"
        if where.key == "branches":
            return where.path, "a parallel step needs at least one branch"
        if where.parent_key == "branches":
            return where.path, "a branch needs at least one step"
        return where.path, "must not be empty"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, name = bounds[kind]
        limit = ctx.get(name)
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return where.path, f"must be {words} {limit} (got {_show(value)})"
    if kind in ("value_error", "assertion_error"):
        return where.path, str(ctx.get("error", error["msg"]))
    for word, description in _TYPE_WORDS.items():
        if kind.startswith(f"{word}_"):
            literal = (
                " (this takes a value written out, not an expression)"
                if is_expression(value)
                else ""
            )
            return where.path, f"expected {description}, got {_show(value)}{literal}"
    return where.path, error["msg"]


def shape_issues(exc: ValidationError, root: type[BaseModel]) -> list[Issue]:
    """The errors of validating a document against `root`, as Issues."""
    issues = []
    for error in exc.errors(include_url=False):
        path, message = _describe(error, _locate(root, tuple(error["loc"])))
        issues.append(Issue(path, message))
    return issues
