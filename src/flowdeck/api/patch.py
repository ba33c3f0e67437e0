"""Fields of a partial update (PATCH): left out, a field is unchanged; sent, it must have a
value — null is refused (422 naming it) unless the field may really be empty.

Without this a `bool | None = None` field takes an explicit null as a value, which
then reaches a column that must not hold one (`{"is_active": null}` once stored a NULL
that broke every later listing of templates).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field

T = TypeVar("T")


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("may not be null; leave the field out to keep its value")
    return value


def _without_null(schema: dict[str, Any]) -> None:
    # The schema says what may be sent: the type itself, no null, no default.
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    schema.pop("default", None)


# `name: NotNull[str] = Field(None, max_length=255)`: optional, never null.
NotNull = Annotated[T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_without_null)]
