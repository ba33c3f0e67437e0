"""Run and "use this template" forms made from declared inputs, and the values read back."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData

from flowdeck.definition.issues import DefinitionError
from flowdeck.web.inputs_form import fields, read

DECLARED: dict[str, Any] = {
    "name": {"type": "string", "description": "Who to greet"},
    "count": {"type": "integer", "default": 3},
    "ratio": {"type": "number", "required": False},
    "loud": {"type": "boolean", "default": True},
    "level": {"type": "string", "enum": ["low", "high"], "default": "low"},
    "size": {"type": "integer", "enum": [1, 2, 3]},
    "payload": {"type": "object", "default": {"a": [1, 2]}},
    "tags": {"type": "array", "required": False},
}


def test_each_type_gets_its_widget() -> None:
    shown = {f.name: f for f in fields(DECLARED)}
    assert {name: f.widget for name, f in shown.items()} == {
        "name": "text",
        "count": "number",
        "ratio": "number",
        "loud": "checkbox",
        "level": "select",
        "size": "select",
        "payload": "json",
        "tags": "json",
    }
    assert [f.name for f in fields(DECLARED)] == list(DECLARED)  # the declared order
    assert shown["name"].form_name == "input.name"
    assert shown["name"].description == "Who to greet"
    assert shown["size"].choices == ["1", "2", "3"] and shown["level"].choices == ["low", "high"]
    assert shown["count"].kind == "integer" and shown["tags"].kind == "array"


def test_required_unless_a_default_or_said_otherwise() -> None:
    required = {f.name: f.required for f in fields(DECLARED)}
    assert required == {
        "name": True,
        "count": False,
        "ratio": False,
        "loud": False,
        "level": False,
        "size": True,
        "payload": False,
        "tags": False,
    }
    forced = fields({"x": {"type": "string", "default": "d", "required": True}})
    assert forced[0].required is True


def test_fields_show_defaults_or_the_values_given() -> None:
    defaults = {f.name: f.value for f in fields(DECLARED)}
    assert defaults == {
        "name": "",
        "count": "3",
        "ratio": "",
        "loud": "true",
        "level": "low",
        "size": "",
        "payload": '{\n  "a": [\n    1,\n    2\n  ]\n}',
        "tags": "",
    }
    given = {"count": 7, "loud": False, "payload": '{"typed": ', "tags": ["x"], "name": None}
    values = {f.name: f.value for f in fields(DECLARED, given)}
    assert values["count"] == "7" and values["loud"] == "false"
    assert values["payload"] == '{"typed": '  # text as typed, shown again after an error
    assert values["tags"] == '[\n  "x"\n]'
    assert values["name"] == ""
    assert values["level"] == "low"  # not given: the default


def test_an_odd_declaration_is_a_text_field() -> None:
    (odd,) = fields({"odd": "not a mapping"})
    assert (odd.widget, odd.kind, odd.required, odd.value) == ("text", "string", True, "")


def _form(**values: str) -> FormData:
    return FormData([(f"input.{name}", value) for name, value in values.items()])


def test_read_keeps_text_for_the_engine_and_parses_json() -> None:
    values = read(
        DECLARED,
        _form(name=" Ada ", count="42", level="high", payload='{"b": true}', tags="[1]"),
    )
    assert values == {
        "name": " Ada ",
        "count": "42",
        "level": "high",
        "payload": {"b": True},
        "tags": [1],
        "loud": False,
    }


def test_an_unticked_box_is_false_and_a_ticked_one_true() -> None:
    declared = {"loud": {"type": "boolean", "default": True}}
    assert read(declared, FormData()) == {"loud": False}
    assert read(declared, _form(loud="true")) == {"loud": True}
    assert read(declared, _form(loud="on")) == {"loud": True}


def test_empty_fields_are_left_out_so_defaults_apply() -> None:
    values = read(DECLARED, _form(name="", count="  ", ratio="", payload="\n", tags=""))
    assert values == {"loud": False}
    assert read({}, _form(stray="x")) == {}  # undeclared fields are not inputs


def test_json_that_does_not_parse_is_an_issue_at_its_input() -> None:
    with pytest.raises(DefinitionError) as raised:
        read(DECLARED, _form(payload='{"a": 1,\n', tags="[1, 2", name="ok"))
    issues = {issue.path: issue.message for issue in raised.value.issues}
    assert set(issues) == {"inputs.payload", "inputs.tags"}
    assert issues["inputs.payload"].startswith("not JSON: ")
    assert issues["inputs.payload"].endswith("at line 2")
    assert issues["inputs.tags"].endswith("at line 1")
